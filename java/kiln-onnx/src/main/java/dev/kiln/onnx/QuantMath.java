package dev.kiln.onnx;

import dev.kiln.calib.ThresholdMethod;
import dev.kiln.kernels.AxisView;
import dev.kiln.quant.WeightRanges;

/**
 * The quantization arithmetic Kiln writes into ONNX, in plain Java with ONNX's formulas: QuantizeLinear
 * {@code q = saturate(rint(x / scale) + zeroPoint)} (round half to even), DequantizeLinear
 * {@code x = (q - zeroPoint) * scale}, and symmetric per-channel weight scales {@code amax / qmax} (qmax 127, or 64 for
 * 7-bit weights, see {@link Int8WeightRange}; amax from {@link WeightRanges}, by default max |w|).
 */
public final class QuantMath {
    private QuantMath() {
    }

    /** ONNX QuantizeLinear of one value, saturating to [qmin, qmax]. */
    public static int quantize(float x, float scale, int zeroPoint, int qmin, int qmax) {
        double q = Math.rint(x / scale) + zeroPoint; // x / scale in float, as ONNX does
        return (int) Math.max(qmin, Math.min(qmax, q));
    }

    /** ONNX DequantizeLinear of one value. */
    public static float dequantize(int q, float scale, int zeroPoint) {
        return (q - zeroPoint) * scale;
    }

    /** Per-channel symmetric scales for codes in [-127, 127]: {@code symmetricScales(w, dims, axis, 127)}. */
    public static float[] symmetricScales(float[] w, long[] dims, int axis) {
        return symmetricScales(w, dims, axis, 127);
    }

    /**
     * Per-channel symmetric scales along {@code axis} of a tensor with {@code dims}: max |w| over each channel / qmax;
     * an all-zero channel gets scale 1 so that the scale stays valid (its codes are all 0).
     */
    public static float[] symmetricScales(float[] w, long[] dims, int axis, int qmax) {
        return symmetricScales(w, dims, axis, qmax, WeightRanges.defaultMethod());
    }

    /**
     * Per-channel symmetric scales {@code amax / qmax} along {@code axis}, amax by {@code method}
     * ({@link WeightRanges}: the same scales as the fake-quantized SavedModel); 1 for an all-zero channel.
     */
    public static float[] symmetricScales(float[] w, long[] dims, int axis, int qmax, ThresholdMethod method) {
        return WeightRanges.scales(w, AxisView.of(dims, axis), method, qmax);
    }

    /** Symmetric int8 codes in [-127, 127] of {@code w} with per-channel {@code scales} along {@code axis}. */
    public static byte[] quantizeSymmetric(float[] w, long[] dims, int axis, float[] scales) {
        return quantizeSymmetric(w, dims, axis, scales, 127);
    }

    /** Symmetric int8 codes in [-qmax, qmax] of {@code w} with per-channel {@code scales} along {@code axis}. */
    public static byte[] quantizeSymmetric(float[] w, long[] dims, int axis, float[] scales, int qmax) {
        int channels = (int) dims[axis];
        long inner = 1;
        for (int i = axis + 1; i < dims.length; i++) {
            inner *= dims[i];
        }
        byte[] q = new byte[w.length];
        for (int i = 0; i < w.length; i++) {
            int c = (int) ((i / inner) % channels);
            q[i] = (byte) quantize(w[i], scales[c], 0, -qmax, qmax);
        }
        return q;
    }
}
