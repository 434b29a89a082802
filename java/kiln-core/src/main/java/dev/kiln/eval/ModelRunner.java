package dev.kiln.eval;

import dev.kiln.graph.Tensor;

import java.util.Map;

/**
 * A model loaded in one runtime (TensorFlow, ONNX Runtime, ...), run by signature names: what verification and
 * benchmarks compare, whatever runtime is behind it.
 */
public interface ModelRunner extends AutoCloseable {

    /** Runs the model on {@code inputs} (keyed by signature input name); returns outputs by signature output name. */
    Map<String, Tensor> run(Map<String, Tensor> inputs);

    /** Releases the runtime's session; idempotent. */
    @Override
    void close();
}
