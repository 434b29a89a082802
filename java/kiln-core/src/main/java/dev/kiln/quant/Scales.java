package dev.kiln.quant;

import dev.kiln.KilnArgumentException;

/**
 * Scales and zero points from calibrated ranges. Symmetric: {@code scale = amax / qmax} (int8: amax / 127), zero
 * point 0. Asymmetric (ONNX Runtime / TFLite style): the range is widened to include 0, {@code scale = (max - min) /
 * (qmax - qmin)}, {@code zeroPoint = clamp(rint(qmin - min / scale), qmin, qmax)}. A zero range (all-zero data)
 * gets scale 1 so that the parameters stay valid; it quantizes everything to the zero point.
 */
public final class Scales {
    private Scales() {
    }

    /** Symmetric signed parameters: one scale per amax (per tensor when {@code amax.length == 1}). */
    public static QuantParams symmetric(float[] amax, int axis, int bits, boolean narrow) {
        KilnArgumentException.check(amax != null && amax.length > 0, "amax must not be null or empty");
        int qmax = QuantRange.qmax(bits, true);
        float[] scale = new float[amax.length];
        for (int c = 0; c < amax.length; c++) {
            KilnArgumentException.check(Float.isFinite(amax[c]) && amax[c] >= 0,
                    "amax[" + c + "] must be finite and >= 0, got " + amax[c]);
            scale[c] = amax[c] == 0f ? 1f : amax[c] / qmax;
        }
        return new QuantParams(scale, new int[amax.length], amax.length == 1 && axis < 0 ? -1 : axis, bits, true,
                narrow);
    }

    /** Asymmetric parameters from per-channel (or one) {min, max}. */
    public static QuantParams asymmetric(float[] min, float[] max, int axis, int bits, boolean signed) {
        KilnArgumentException.check(min != null && max != null, "min and max must not be null");
        KilnArgumentException.check(min.length == max.length && min.length > 0,
                "min and max must have the same non-zero length");
        int qmin = QuantRange.qmin(bits, signed, false);
        int qmax = QuantRange.qmax(bits, signed);
        float[] scale = new float[min.length];
        int[] zp = new int[min.length];
        for (int c = 0; c < min.length; c++) {
            KilnArgumentException.check(Float.isFinite(min[c]) && Float.isFinite(max[c]),
                    "min[" + c + "] and max[" + c + "] must be finite");
            KilnArgumentException.check(min[c] <= max[c], "min[" + c + "] = " + min[c] + " > max[" + c + "] = " + max[c]);
            float lo = Math.min(min[c], 0f);
            float hi = Math.max(max[c], 0f);
            if (hi == lo) {
                scale[c] = 1f;
                zp[c] = Math.max(qmin, Math.min(qmax, 0));
                continue;
            }
            scale[c] = (hi - lo) / (qmax - qmin);
            double z = Math.rint(qmin - lo / scale[c]);
            zp[c] = (int) Math.max(qmin, Math.min(qmax, z));
        }
        return new QuantParams(scale, zp, min.length == 1 && axis < 0 ? -1 : axis, bits, signed, false);
    }

    /** Asymmetric per-tensor parameters. */
    public static QuantParams asymmetric(float min, float max, int bits, boolean signed) {
        return asymmetric(new float[] {min}, new float[] {max}, -1, bits, signed);
    }
}
