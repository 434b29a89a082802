package dev.kiln.quant;

import dev.kiln.KilnArgumentException;
import dev.kiln.calib.Histogram;
import dev.kiln.calib.ThresholdMethod;
import dev.kiln.calib.Thresholds;
import dev.kiln.kernels.AxisView;

/**
 * The per-output-channel range (amax) of INT8 weights, chosen by a {@link ThresholdMethod}: the one place that the
 * ONNX export (kiln-onnx {@code QuantMath}) and the fake-quantized SavedModel ({@link WeightFakeQuant}) take their
 * weight scales from, so that both agree bit for bit.
 *
 * <p>{@link ThresholdMethod#minmax()} (the default everywhere) is the channel's largest |w|, computed directly.
 * Every other method builds a {@value Histogram#DEFAULT_BINS}-bin histogram of the channel's |w| ({@link Histogram})
 * and takes the method's threshold, as activation calibration does; weights beyond it are then clipped to
 * {@code ±qmax} codes. The histogram counts are identical on every kernel backend, so the result is too.
 */
public final class WeightRanges {
    /** Bins of the per-channel histogram (TensorRT's and ModelOpt's 2048). */
    public static final int BINS = Histogram.DEFAULT_BINS;

    private WeightRanges() {
    }

    /** The method used when none is given: the channel's max |w|. */
    public static ThresholdMethod defaultMethod() {
        return ThresholdMethod.minmax();
    }

    /**
     * The amax of every channel of {@code w} seen as {@code view} (channels = output channels), by {@code method};
     * 0 for an all-zero channel.
     */
    public static float[] amax(float[] w, AxisView view, ThresholdMethod method) {
        KilnArgumentException.check(w != null && view != null, "weights and view must not be null");
        KilnArgumentException.check(method != null, "weight method must not be null");
        KilnArgumentException.check(view.size() == w.length,
                "view " + view + " has " + view.size() + " elements, weights have " + w.length);
        return method instanceof ThresholdMethod.MinMax ? absMax(w, view) : byHistogram(w, view, method);
    }

    /**
     * Symmetric per-channel scales {@code amax / qmax} by {@code method}; 1 for a channel whose amax is 0 (all zeros),
     * so that the scale stays valid (its codes are all 0).
     */
    public static float[] scales(float[] w, AxisView view, ThresholdMethod method, int qmax) {
        KilnArgumentException.check(qmax >= 1 && qmax <= 127, "qmax must be in [1, 127], got " + qmax);
        float[] amax = amax(w, view, method);
        float[] s = new float[amax.length];
        for (int c = 0; c < amax.length; c++) {
            s[c] = amax[c] > 0 ? amax[c] / qmax : 1f;
        }
        return s;
    }

    /** max |w| per channel, exactly as Kiln has always computed it (so the default stays bit-identical). */
    private static float[] absMax(float[] w, AxisView view) {
        int channels = (int) view.channels();
        int inner = (int) view.inner();
        float[] amax = new float[channels];
        for (int i = 0; i < w.length; i++) {
            int c = (i / inner) % channels;
            amax[c] = Math.max(amax[c], Math.abs(w[i]));
        }
        return amax;
    }

    private static float[] byHistogram(float[] w, AxisView view, ThresholdMethod method) {
        int outer = (int) view.outer();
        int channels = (int) view.channels();
        int inner = (int) view.inner();
        float[] amax = new float[channels];
        float[] values = new float[outer * inner];
        for (int c = 0; c < channels; c++) {
            // gather the channel: element (o, c, i) is at (o * channels + c) * inner + i
            for (int o = 0; o < outer; o++) {
                System.arraycopy(w, (o * channels + c) * inner, values, o * inner, inner);
            }
            amax[c] = Thresholds.threshold(Histogram.absolute(BINS).add(values), method);
        }
        return amax;
    }
}
