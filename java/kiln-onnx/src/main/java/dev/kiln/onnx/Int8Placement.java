package dev.kiln.onnx;

import dev.kiln.KilnArgumentException;
import dev.kiln.calib.CalibrationTable;
import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.quant.QuantParams;
import dev.kiln.quant.Scales;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Where the INT8 export for each {@link Int8Target} puts Q/DQ on activations ({@link #quantizable}), and how a
 * {@link CalibrationTable} becomes the activation parameters in {@link Graph#quantization()} that the exporter reads
 * ({@link #apply}). Weights are not in the table: the exporter quantizes them per output channel itself.
 */
public final class Int8Placement {
    private Int8Placement() {
    }

    /** Whether calibration for {@code target} needs signed histograms (asymmetric uint8 ranges: ONNX Runtime). */
    public static boolean asymmetric(Int8Target target) {
        return target == Int8Target.ONNXRUNTIME;
    }

    /**
     * Sets the activation parameters of every tensor in {@code tensors} from {@code table}: symmetric int8
     * (scale amax / 127, zero point 0) for {@link Int8Target#TENSORRT}, asymmetric uint8 (the table's scale and zero
     * point) for {@link Int8Target#ONNXRUNTIME}, where a MaxPool output then takes its input's parameters (ORT runs
     * MaxPool on uint8 directly). A tensor the table lacks is an error naming it; tensors in {@code keepFloat} are
     * skipped (left in float).
     */
    public static void apply(CalibrationTable table, Graph g, Int8Target target, Set<TensorRef> tensors) {
        boolean ort = asymmetric(target);
        KilnArgumentException.check(table.symmetric() != ort, "the calibration table is "
                + (table.symmetric() ? "symmetric (TensorRT)" : "asymmetric (ONNX Runtime)") + " but the INT8 target "
                + target + " needs " + (ort ? "asymmetric uint8" : "symmetric int8") + " ranges: calibrate for "
                + "that target");
        List<String> missing = new ArrayList<>();
        for (TensorRef r : tensors) {
            CalibrationTable.Entry e = table.entries().get(r.toString());
            if (e == null) {
                missing.add(r.toString());
                continue;
            }
            g.quantization().put(r.toString(), ort ? uint8(e) : int8(e));
        }
        if (!missing.isEmpty()) {
            throw new KilnArgumentException("the calibration table has no range for " + missing.size()
                    + " tensor(s) the INT8 export quantizes: " + missing);
        }
        if (ort) {
            for (Node n : g.nodes()) {
                if (!n.op().equals("MaxPool")) {
                    continue;
                }
                QuantParams in = g.quantization().get(n.input(0).toString());
                String o = TensorRef.of(n.name(), 0).toString();
                if (in != null && g.quantization().containsKey(o)) {
                    g.quantization().put(o, in);
                }
            }
        }
    }

    /**
     * Checks that {@code table} fits {@code g} for {@code target}: every tensor the export quantizes has a range, the
     * table names no tensor the graph lacks, and, when the table records a model fingerprint, it is the one
     * {@code fingerprint} computes (asked only then: hashing a model reads all of it). One error lists everything.
     */
    public static void validate(CalibrationTable table, Graph g, Int8Target target,
                                java.util.function.Supplier<String> fingerprint) {
        Set<String> needed = new java.util.HashSet<>();
        quantizable(g, target).forEach(r -> needed.add(r.toString()));
        Set<String> has = new java.util.HashSet<>();
        for (Node n : g.nodes()) {
            for (int i = 0; i < Math.max(1, n.outputTypes().size()); i++) {
                has.add(TensorRef.of(n.name(), i).toString());
            }
        }
        table.validateAgainst(has, needed, table.metadata().modelFingerprint().isEmpty() ? "" : fingerprint.get());
    }

    private static QuantParams int8(CalibrationTable.Entry e) {
        return Scales.symmetric(new float[] {e.amax()}, -1, 8, true);
    }

    private static QuantParams uint8(CalibrationTable.Entry e) {
        if (e.scale() > 0) {
            return new QuantParams(new float[] {e.scale()}, new int[] {e.zeroPoint()}, -1, 8, false, false);
        }
        return Scales.asymmetric(e.min(), e.max(), 8, false);
    }

    /** TensorRT placement: data inputs of Conv/MatMul, and both inputs of an Add of two activations. */
    static Set<TensorRef> quantizable(Graph g) {
        Set<TensorRef> out = new LinkedHashSet<>();
        for (Node n : g.nodes()) {
            switch (n.op()) {
                case "Conv2D", "DepthwiseConv2dNative" -> add(g, out, n.input(0));
                case "MatMul", "BatchMatMul", "BatchMatMulV2" -> {
                    add(g, out, n.input(0));
                    add(g, out, n.input(1));
                }
                case "Add", "AddV2" -> {
                    if (g.constantValue(n.input(0)) == null && g.constantValue(n.input(1)) == null) {
                        add(g, out, n.input(0));
                        add(g, out, n.input(1));
                    }
                }
                default -> { }
            }
        }
        return out;
    }

    /**
     * The activations that the INT8 export for {@code target} puts Q/DQ on. {@link Int8Target#ONNXRUNTIME}: the inputs
     * of Conv/MatMul/Add (of two activations)/MaxPool/AvgPool/ConcatV2 and their outputs, an output taken after a
     * following BiasAdd (or Add of a constant) and Relu/Relu6 (what ORT fuses into the quantized op).
     */
    public static Set<TensorRef> quantizable(Graph g, Int8Target target) {
        if (target == Int8Target.TENSORRT) {
            return quantizable(g);
        }
        Map<String, List<Node>> users = users(g);
        Set<String> outputs = new java.util.HashSet<>();
        for (SignatureTensor s : g.outputs()) {
            outputs.add(s.tensor().toString());
        }
        Set<TensorRef> out = new LinkedHashSet<>();
        for (Node n : g.nodes()) {
            switch (n.op()) {
                case "Conv2D", "DepthwiseConv2dNative", "MaxPool", "AvgPool" -> {
                    add(g, out, n.input(0));
                    add(g, out, chainEnd(g, n, users, outputs));
                }
                case "MatMul", "BatchMatMul", "BatchMatMulV2" -> {
                    add(g, out, n.input(0));
                    add(g, out, n.input(1));
                    add(g, out, chainEnd(g, n, users, outputs));
                }
                case "Add", "AddV2" -> {
                    if (g.constantValue(n.input(0)) == null && g.constantValue(n.input(1)) == null) {
                        add(g, out, n.input(0));
                        add(g, out, n.input(1));
                        add(g, out, chainEnd(g, n, users, outputs));
                    }
                }
                case "ConcatV2" -> {
                    for (int i = 0; i < n.numDataInputs() - 1; i++) {
                        add(g, out, n.input(i));
                    }
                    add(g, out, TensorRef.of(n.name(), 0));
                }
                default -> { }
            }
        }
        return out;
    }

    /**
     * {@link #quantizable(Graph, Int8Target)} and every float signature output: what an INT8 export with integer
     * outputs ({@code OnnxExporter.Builder.int8IO}) needs parameters for. The placement itself quantizes an output
     * only where it ends a quantized op's chain (ONNX Runtime's layout), never a Softmax output, say.
     */
    public static Set<TensorRef> quantizableWithOutputs(Graph g, Int8Target target) {
        Set<TensorRef> out = quantizable(g, target);
        for (SignatureTensor s : g.outputs()) {
            if (s.type().dtype() == DType.FLOAT) {
                add(g, out, s.tensor());
            }
        }
        return out;
    }

    private static Map<String, List<Node>> users(Graph g) {
        Map<String, List<Node>> users = new HashMap<>();
        for (Node n : g.nodes()) {
            for (TensorRef r : n.dataInputs()) {
                users.computeIfAbsent(r.toString(), k -> new ArrayList<>()).add(n);
            }
        }
        return users;
    }

    /** The output of {@code n} after a single-use BiasAdd (or Add of a constant) and a single-use Relu/Relu6. */
    private static TensorRef chainEnd(Graph g, Node n, Map<String, List<Node>> users, Set<String> outputs) {
        TensorRef t = TensorRef.of(n.name(), 0);
        boolean biasSeen = false;
        while (true) {
            List<Node> u = users.getOrDefault(t.toString(), List.of());
            if (u.size() != 1 || outputs.contains(t.toString())) {
                return t;
            }
            Node c = u.get(0);
            boolean bias = !biasSeen && !n.op().equals("MaxPool") && (c.op().equals("BiasAdd")
                    || ((c.op().equals("Add") || c.op().equals("AddV2")) && g.constantValue(c.input(1)) != null))
                    && c.input(0).toString().equals(t.toString());
            if (bias) {
                biasSeen = true;
                t = TensorRef.of(c.name(), 0);
            } else if (c.op().equals("Relu") || c.op().equals("Relu6")) {
                return TensorRef.of(c.name(), 0);
            } else {
                return t;
            }
        }
    }

    private static void add(Graph g, Set<TensorRef> out, TensorRef r) {
        if (g.constantValue(r) == null) {
            out.add(r);
        }
    }
}
