package dev.kiln.onnx;

import java.util.List;
import java.util.Map;

/**
 * What an ONNX file holds: IR version, opsets by domain, producer, inputs and outputs ("name: type[dims]"),
 * initializer names, and the op histogram.
 */
public record OnnxModelSummary(long irVersion, Map<String, Long> opsets, String producer, List<String> inputs,
                               List<String> outputs, List<String> initializers, Map<String, Integer> ops) {
    /** The version of the default (ai.onnx) domain, or -1. */
    public long opset() {
        Long v = opsets.get("");
        return v == null ? opsets.getOrDefault("ai.onnx", -1L) : v;
    }

    public int count(String onnxOp) {
        return ops.getOrDefault(onnxOp, 0);
    }
}
