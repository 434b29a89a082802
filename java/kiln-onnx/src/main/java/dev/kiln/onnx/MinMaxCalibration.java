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

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * Min-max activation scales for INT8 export: runs the model once (through any runner: TF Java on the original, or
 * ONNX Runtime on the FP32 export) with every activation that the INT8 export puts Q/DQ on as an extra output, and
 * writes symmetric int8 parameters (amax / 127, zero point 0) into {@code Graph.quantization()}. A simple calibrator
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
        Graph probe = g.copy();
        Map<String, TensorRef> names = new LinkedHashMap<>();
        int i = 0;
        Map<String, String> inputRefs = new LinkedHashMap<>();
        for (SignatureTensor in : g.inputs()) {
            inputRefs.put(in.tensor().toString(), in.name());
        }
        for (TensorRef r : quantizable(g)) {
            if (inputRefs.containsKey(r.toString())) { // a graph input: its range is that of the fed data
                g.quantization().put(r.toString(), QuantParams.int8Symmetric(amax(inputs.get(inputRefs.get(r.toString())))));
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
            if (r != null) {
                g.quantization().put(r.toString(), QuantParams.int8Symmetric(amax));
            } else {
                amaxOut.put(e.getKey(), amax);
            }
        }
        return amaxOut;
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
