package dev.kiln.quant;

import dev.kiln.KilnArgumentException;
import dev.kiln.calib.ThresholdMethod;
import dev.kiln.kernels.AxisView;

/**
 * Symmetric per-output-channel INT8 weight quantization followed by dequantization, in float32 with the formulas the
 * ONNX INT8 export writes (kiln-onnx {@code QuantMath}): per channel {@code scale = amax / qmax} (1 for an all-zero
 * channel; amax from {@link WeightRanges}, by default max |w|), {@code code = clamp(rint(w / scale), -qmax, qmax)}
 * (round half to even, as ONNX QuantizeLinear), and
 * {@code w' = code * scale} (DequantizeLinear). The result is therefore bit for bit the weight the INT8 model computes
 * with.
 *
 * <p>Relation to TensorFlow: this is FakeQuantWithMinMaxVarsPerChannel with {@code num_bits = 8},
 * {@code narrow_range = true}, {@code min = -127 * scale}, {@code max = 127 * scale} (whose step is the scale), up to
 * two details of TF's kernel: it rounds half away from zero ({@code floor(x + 0.5)}), which differs only where
 * {@code w / scale} is exactly halfway between two codes, and it recomputes the step as {@code (max - min) / 254},
 * which may differ from {@code scale} in the last bit. With max |w| as amax no code is clamped, so the 8-bit range
 * also holds 7-bit codes ({@code qmax = 64}) unchanged; a clipping method (percentile, mse, entropy) clamps weights
 * beyond amax to {@code ±qmax}, which TF's 8-bit range expresses only for {@code qmax = 127}.
 */
public final class WeightFakeQuant {
    private WeightFakeQuant() {
    }

    /** Per-channel scales {@code max|w| / qmax} of {@code w} seen as {@code view} (channels = output channels). */
    public static float[] scales(float[] w, AxisView view, int qmax) {
        return scales(w, view, qmax, WeightRanges.defaultMethod());
    }

    /** Per-channel scales {@code amax / qmax}, amax by {@code method} ({@link WeightRanges}). */
    public static float[] scales(float[] w, AxisView view, int qmax, ThresholdMethod method) {
        check(w, view, qmax);
        return WeightRanges.scales(w, view, method, qmax);
    }

    /** The dequantized INT8 weights with max |w| per channel: {@code apply(w, view, qmax, minmax)}. */
    public static float[] apply(float[] w, AxisView view, int qmax) {
        return apply(w, view, qmax, WeightRanges.defaultMethod());
    }

    /**
     * The dequantized INT8 weights: {@code clamp(rint(w / scale), -qmax, qmax) * scale} per output channel, the scale
     * from {@code method}'s amax.
     */
    public static float[] apply(float[] w, AxisView view, int qmax, ThresholdMethod method) {
        float[] s = scales(w, view, qmax, method);
        int channels = (int) view.channels();
        int inner = (int) view.inner();
        float[] out = new float[w.length];
        for (int i = 0; i < w.length; i++) {
            float scale = s[(i / inner) % channels];
            double q = Math.rint(w[i] / scale); // the division in float, as ONNX does
            q = Math.max(-qmax, Math.min(qmax, q));
            out[i] = (int) q * scale;
        }
        return out;
    }

    private static void check(float[] w, AxisView view, int qmax) {
        KilnArgumentException.check(w != null && view != null, "weights and view must not be null");
        KilnArgumentException.check(view.size() == w.length,
                "view " + view + " has " + view.size() + " elements, weights have " + w.length);
        KilnArgumentException.check(qmax >= 1 && qmax <= 127, "qmax must be in [1, 127], got " + qmax);
    }
}
