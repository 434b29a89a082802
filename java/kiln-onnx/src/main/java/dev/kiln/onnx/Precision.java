package dev.kiln.onnx;

/** The numeric precision of an ONNX export. */
public enum Precision {
    /** Float32 everywhere, as in the TensorFlow model. */
    FP32,
    /** Float16 weights and activations; float32 graph inputs/outputs with Casts at the edges unless halfIO. */
    FP16,
    /**
     * INT8 with explicit QuantizeLinear/DequantizeLinear: per-channel symmetric weights, and per-tensor activations
     * wherever {@code Graph.quantization()} gives parameters; weights only where none are given. Where the Q/DQ go is
     * {@link OnnxExporter.Builder#int8Target}: TensorRT's placement (default) or ONNX Runtime's (fused integer kernels
     * on its CPU provider), see {@link Int8Target}.
     */
    INT8,
    /** Dynamic-range INT8: int8 weight initializers followed by DequantizeLinear; activations stay float32. */
    INT8_WEIGHTS_ONLY
}
