package dev.kiln.calib;

import dev.kiln.KilnArgumentException;

import java.util.Locale;

/**
 * How a calibration threshold (amax) is chosen from a histogram; selectable per tensor. A pure function of the
 * {@link Bins}: {@link #threshold(Bins)}.
 */
public sealed interface ThresholdMethod {

    /** The threshold (amax, >= 0) for this histogram of |x|. */
    float threshold(Bins bins);

    /** The largest |x| seen. */
    static ThresholdMethod minmax() {
        return MinMax.INSTANCE;
    }

    /** TensorRT's KL-divergence search for 8 bits (128 levels), candidates from bin 128. */
    static ThresholdMethod entropy() {
        return new Entropy(8);
    }

    static ThresholdMethod entropy(int numBits) {
        return new Entropy(numBits);
    }

    /** The smallest bin edge below which {@code percentile}% of the values lie, e.g. 99.99. */
    static ThresholdMethod percentile(double percentile) {
        return new Percentile(percentile);
    }

    /** The threshold minimising the expected squared error of symmetric 8-bit quantization. */
    static ThresholdMethod mse() {
        return new Mse(8);
    }

    static ThresholdMethod mse(int numBits) {
        return new Mse(numBits);
    }

    /** Parses {@code minmax}, {@code entropy}, {@code mse}, {@code percentile} (99.99) or {@code percentile:P}. */
    static ThresholdMethod parse(String s) {
        KilnArgumentException.check(s != null, "method must not be null");
        String v = s.trim().toLowerCase(Locale.ROOT);
        if (v.equals("minmax") || v.equals("max")) {
            return minmax();
        }
        if (v.equals("entropy") || v.equals("kl")) {
            return entropy();
        }
        if (v.equals("mse")) {
            return mse();
        }
        if (v.equals("percentile")) {
            return percentile(99.99);
        }
        if (v.startsWith("percentile:") || v.startsWith("percentile=")) {
            try {
                return percentile(Double.parseDouble(v.substring(11)));
            } catch (NumberFormatException e) {
                throw new KilnArgumentException("bad percentile in calibration method '" + s + "'");
            }
        }
        throw new KilnArgumentException("unknown calibration method '" + s
                + "'; expected minmax, entropy, percentile[:P] or mse");
    }

    record MinMax() implements ThresholdMethod {
        static final MinMax INSTANCE = new MinMax();

        @Override
        public float threshold(Bins bins) {
            return Thresholds.minmax(bins);
        }

        @Override
        public String toString() {
            return "minmax";
        }
    }

    record Entropy(int numBits) implements ThresholdMethod {
        public Entropy {
            KilnArgumentException.check(numBits >= 2 && numBits <= 16, "numBits must be within 2..16, got " + numBits);
        }

        @Override
        public float threshold(Bins bins) {
            return Thresholds.entropy(bins, numBits);
        }

        @Override
        public String toString() {
            return "entropy";
        }
    }

    record Percentile(double percentile) implements ThresholdMethod {
        public Percentile {
            KilnArgumentException.check(percentile > 0 && percentile <= 100,
                    "percentile must be within (0, 100], got " + percentile);
        }

        @Override
        public float threshold(Bins bins) {
            return Thresholds.percentile(bins, percentile);
        }

        @Override
        public String toString() {
            return "percentile:" + percentile;
        }
    }

    record Mse(int numBits) implements ThresholdMethod {
        public Mse {
            KilnArgumentException.check(numBits >= 2 && numBits <= 16, "numBits must be within 2..16, got " + numBits);
        }

        @Override
        public float threshold(Bins bins) {
            return Thresholds.mse(bins, numBits);
        }

        @Override
        public String toString() {
            return "mse";
        }
    }
}
