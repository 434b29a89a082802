package dev.kiln.tflite;

/** The numeric precision of a TFLite export, as TensorFlow's own converter offers them. */
public enum TflitePrecision {
    /** Float32 everywhere, as in the TensorFlow model. */
    FP32,
    /** Float16 constants, each followed by a DEQUANTIZE to float32; computation in float32 (XNNPACK may use FP16). */
    FP16,
    /**
     * Dynamic range: int8 weights of CONV_2D and DEPTHWISE_CONV_2D (per output channel) and FULLY_CONNECTED (per
     * tensor), symmetric with zero point 0; activations stay float32 and TFLite's hybrid kernels quantize them on the
     * fly. No calibration needed.
     */
    DYNAMIC_RANGE,
    /**
     * Full integer: int8 weights (per channel for convolutions, per tensor for FULLY_CONNECTED, zero point 0), int8
     * activations per tensor from a calibration table, int32 biases with scale input scale × weight scale. Inputs and
     * outputs float32 (with QUANTIZE / DEQUANTIZE at the edges) or int8 ({@code int8IO}).
     */
    INT8
}
