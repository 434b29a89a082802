package dev.kiln.onnx;

import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.Shape;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.graph.TensorType;
import dev.kiln.quant.QuantParams;
import dev.kiln.quant.Scales;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * Min-max activation scales for INT8 export: runs the model once (through any runner: TF Java on the original, or
 * ONNX Runtime on the FP32 export) with every activation that the INT8 export puts Q/DQ on as an extra output, and
 * writes symmetric int8 parameters (amax / 127, zero point 0) into {@code Graph.quantization()} ({@link
 * Int8Target#TENSORRT}), or asymmetric uint8 parameters from {min, max} on the activations that the
 * {@link Int8Target#ONNXRUNTIME} placement quantizes. A simple calibrator
 * for tests, benchmarks and quick exports; Kiln's calibration pipeline (entropy, percentile ...) gives better scales.
 */
public final class MinMaxCalibration {
    private MinMaxCalibration() {
    }

    /** The activations Kiln's INT8 export puts Q/DQ on: data inputs of Conv/MatMul, and both inputs of Add. */
    public static Set<TensorRef> quantizable(Graph g) {
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

    /**
     * Runs {@code g} once (with every quantizable activation as an extra output) through {@code runner} and sets
     * symmetric int8 scales amax/127 for them. Returns the amax of each signature output too (key: output name).
     */
    public static Map<String, Float> minMax(Graph g, Map<String, Tensor> inputs, Function<Graph, Map<String, Tensor>> runner) {
        return minMax(g, inputs, runner, Int8Target.TENSORRT);
    }

    /**
     * As {@link #minMax(Graph, Map, Function)} for the activations that the INT8 export for {@code target} quantizes:
     * {@link Int8Target#TENSORRT} symmetric int8 (amax / 127, zero point 0); {@link Int8Target#ONNXRUNTIME}
     * asymmetric uint8 from {min, max} (range widened to include 0; a Relu output gets zero point 0), and a MaxPool
     * output gets its input's parameters (ORT then runs MaxPool on uint8 directly).
     */
    public static Map<String, Float> minMax(Graph g, Map<String, Tensor> inputs, Function<Graph, Map<String, Tensor>> runner,
                                            Int8Target target) {
        boolean ort = target == Int8Target.ONNXRUNTIME;
        Graph probe = g.copy();
        Map<String, TensorRef> names = new LinkedHashMap<>();
        int i = 0;
        Map<String, String> inputRefs = new LinkedHashMap<>();
        for (SignatureTensor in : g.inputs()) {
            inputRefs.put(in.tensor().toString(), in.name());
        }
        Map<String, String> outputRefs = new LinkedHashMap<>(); // tensor -> a signature output already fetching it
        for (SignatureTensor o : g.outputs()) {
            outputRefs.putIfAbsent(o.tensor().toString(), o.name());
        }
        Map<String, TensorRef> viaOutputs = new LinkedHashMap<>();
        for (TensorRef r : quantizable(g, target)) {
            if (inputRefs.containsKey(r.toString())) { // a graph input: its range is that of the fed data
                Tensor t = inputs.get(inputRefs.get(r.toString()));
                g.quantization().put(r.toString(), ort ? uint8(t) : QuantParams.int8Symmetric(amax(t)));
                continue;
            }
            if (outputRefs.containsKey(r.toString())) { // fetched anyway: a second fetch would collide in TF
                viaOutputs.put(outputRefs.get(r.toString()), r);
                continue;
            }
            String name = "kiln_calib_" + (i++);
            probe.addOutput(new SignatureTensor(name, r, new TensorType(DType.FLOAT, Shape.unknown())));
            names.put(name, r);
        }
        Map<String, Tensor> out = runner.apply(probe);
        Map<String, Float> amaxOut = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : out.entrySet()) {
            float amax = amax(e.getValue());
            TensorRef r = names.get(e.getKey());
            TensorRef ro = viaOutputs.get(e.getKey());
            if (ro != null) {
                g.quantization().put(ro.toString(), ort ? uint8(e.getValue()) : QuantParams.int8Symmetric(amax));
            }
            if (r != null) {
                g.quantization().put(r.toString(), ort ? uint8(e.getValue()) : QuantParams.int8Symmetric(amax));
            } else {
                amaxOut.put(e.getKey(), amax);
            }
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
        return amaxOut;
    }

    /** Asymmetric uint8 parameters from the {min, max} of {@code t} (widened to include 0). */
    public static QuantParams uint8(Tensor t) {
        float lo = Float.POSITIVE_INFINITY;
        float hi = Float.NEGATIVE_INFINITY;
        for (float v : OnnxTensors.floats(t)) {
            lo = Math.min(lo, v);
            hi = Math.max(hi, v);
        }
        if (lo > hi) {
            lo = 0;
            hi = 0;
        }
        return Scales.asymmetric(lo, hi, 8, false);
    }

    public static float amax(Tensor t) {
        float amax = 0;
        for (float v : OnnxTensors.floats(t)) {
            amax = Math.max(amax, Math.abs(v));
        }
        return amax;
    }

    /** Runs a graph through Kiln's FP32 ONNX export and ONNX Runtime. */
    public static Function<Graph, Map<String, Tensor>> ortFp32(Map<String, Tensor> inputs) {
        return graph -> {
            try {
                Path p = Files.createTempFile("kiln-calib", ".onnx");
                try {
                    OnnxExporter.fp32().export(graph, p);
                    try (OnnxRunner r = OnnxRunner.open(p, 1)) {
                        return r.run(inputs);
                    }
                } finally {
                    Files.deleteIfExists(p);
                }
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        };
    }
}
