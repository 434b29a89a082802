package dev.kiln.onnx;

/**
 * The range of INT8 weight codes. Weights are symmetric per output channel with zero point 0 either way; the reduced
 * range gives up one bit of weight precision so that no pair of weights can saturate ONNX Runtime's U8S8 kernels on
 * x86 CPUs without VNNI (see {@link Int8Saturation}), the way ONNX Runtime's own quantizer does with
 * {@code reduce_range=True}.
 */
public enum Int8WeightRange {
    /** Codes in [-127, 127], scale = amax / 127: TensorRT's convention, and exact on VNNI/AMX CPUs and GPUs. */
    FULL(127),
    /** 7-bit codes in [-64, 64], scale = amax / 64: exact on every x86 CPU with ONNX Runtime's stock settings. */
    REDUCED(64);

    private final int qmax;

    Int8WeightRange(int qmax) {
        this.qmax = qmax;
    }

    /** The largest weight code; codes lie in [-qmax, qmax]. */
    public int qmax() {
        return qmax;
    }

    /** The default for a target: reduced for ONNX Runtime (saturation-safe anywhere), full for TensorRT. */
    public static Int8WeightRange defaultFor(Int8Target target) {
        return target == Int8Target.ONNXRUNTIME ? REDUCED : FULL;
    }
}
