package dev.kiln.onnx;

import dev.kiln.KilnException;
import dev.kiln.eval.TensorComparison;
import dev.kiln.graph.DType;
import dev.kiln.graph.Tensor;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Compares an exported ONNX model, run by ONNX Runtime, with reference outputs (TensorFlow's on the original model):
 * the check {@code kiln optimize} runs on every ONNX it writes. Float16 outputs are widened to float32 first.
 */
public final class OnnxVerification {
    private OnnxVerification() {
    }

    /** Per output name, how far ORT's output on {@code inputs} is from {@code expected}. */
    public static Map<String, TensorComparison> compare(Path onnx, Map<String, Tensor> inputs,
                                                        Map<String, Tensor> expected, int threads) {
        Map<String, Tensor> actual;
        try (OnnxRunner r = OnnxRunner.open(onnx, threads)) {
            actual = r.run(inputs);
        }
        Map<String, TensorComparison> out = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : expected.entrySet()) {
            Tensor a = actual.get(e.getKey());
            if (a == null) {
                throw KilnException.invalidModel(onnx + " has no output '" + e.getKey() + "'; outputs: "
                        + actual.keySet());
            }
            Tensor exp = e.getValue();
            if (a.dtype() == DType.HALF && exp.dtype() == DType.FLOAT) {
                a = OnnxTensors.halfToFloat(a);
            }
            out.put(e.getKey(), TensorComparison.compare(exp, a));
        }
        return out;
    }

    /** The largest max-relative-error over all outputs. */
    public static double maxRelError(Map<String, TensorComparison> c) {
        double m = 0;
        for (TensorComparison t : c.values()) {
            m = Math.max(m, t.maxRelError());
        }
        return m;
    }

    /** The tolerance issue 4 sets for a precision: FP32 1e-4, FP16 1e-2; INT8 has none (depends on the scales). */
    public static double tolerance(Precision p) {
        return switch (p) {
            case FP32 -> 1e-4;
            case FP16 -> 1e-2;
            default -> Double.POSITIVE_INFINITY;
        };
    }
}
