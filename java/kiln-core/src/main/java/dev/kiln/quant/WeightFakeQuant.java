package dev.kiln.quant;

import dev.kiln.KilnArgumentException;
import dev.kiln.kernels.AxisView;

/**
 * Symmetric per-output-channel INT8 weight quantization followed by dequantization, in float32 with the formulas the
 * ONNX INT8 export writes (kiln-onnx {@code QuantMath}): per channel {@code scale = amax / qmax} (1 for an all-zero
 * channel), {@code code = clamp(rint(w / scale), -qmax, qmax)} (round half to even, as ONNX QuantizeLinear), and
 * {@code w' = code * scale} (DequantizeLinear). The result is therefore bit for bit the weight the INT8 model computes
 * with.
 *
 * <p>Relation to TensorFlow: this is FakeQuantWithMinMaxVarsPerChannel with {@code num_bits = 8},
 * {@code narrow_range = true}, {@code min = -127 * scale}, {@code max = 127 * scale} (whose step is the scale), up to
 * two details of TF's kernel: it rounds half away from zero ({@code floor(x + 0.5)}), which differs only where
 * {@code w / scale} is exactly halfway between two codes, and it recomputes the step as {@code (max - min) / 254},
 * which may differ from {@code scale} in the last bit. Since {@code |w| <= amax = qmax * scale}, no code is clamped,
 * so the 8-bit range also holds 7-bit codes ({@code qmax = 64}) unchanged.
 */
public final class WeightFakeQuant {
    private WeightFakeQuant() {
    }

    /** Per-channel scales {@code amax / qmax} of {@code w} seen as {@code view} (channels = output channels). */
    public static float[] scales(float[] w, AxisView view, int qmax) {
        check(w, view, qmax);
        int channels = (int) view.channels();
        int inner = (int) view.inner();
        float[] amax = new float[channels];
        for (int i = 0; i < w.length; i++) {
            int c = (i / inner) % channels;
            amax[c] = Math.max(amax[c], Math.abs(w[i]));
        }
        float[] s = new float[channels];
        for (int c = 0; c < channels; c++) {
            s[c] = amax[c] > 0 ? amax[c] / qmax : 1f;
        }
        return s;
    }

    /** The dequantized INT8 weights: {@code clamp(rint(w / scale), -qmax, qmax) * scale} per output channel. */
    public static float[] apply(float[] w, AxisView view, int qmax) {
        float[] s = scales(w, view, qmax);
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
