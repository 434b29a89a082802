package dev.kiln.lowrank;

import dev.kiln.KilnArgumentException;

/**
 * How the rank of one layer's factorization is chosen from its singular values. The factorized m×n layer costs
 * {@code r * (m + n)} parameters instead of {@code m * n}.
 */
public sealed interface RankRule {

    /** The rank for an m×n weight with singular values {@code s} (descending); 0 means "no rank fits". */
    int rank(double[] s, int m, int n, String layer);

    /** Smallest r whose first r squared singular values hold at least {@code energy} of the total, in (0, 1]. */
    static RankRule energy(double energy) {
        KilnArgumentException.check(energy > 0 && energy <= 1, "energy must be in (0, 1], got " + energy);
        return new Energy(energy);
    }

    /** Largest r with {@code r * (m + n) <= (1 - reduction) * m * n}; {@code reduction} in [0, 1). */
    static RankRule reduction(double reduction) {
        KilnArgumentException.check(reduction >= 0 && reduction < 1,
                "reduction must be in [0, 1), got " + reduction);
        return new Reduction(reduction);
    }

    /** The same rank for every layer; a layer with min(m, n) below it is an error naming the layer. */
    static RankRule fixed(int rank) {
        KilnArgumentException.check(rank >= 1, "rank must be at least 1, got " + rank);
        return new Fixed(rank);
    }

    /** See {@link #energy(double)}. */
    record Energy(double energy) implements RankRule {
        @Override
        public int rank(double[] s, int m, int n, String layer) {
            double total = 0;
            for (double v : s) {
                total += v * v;
            }
            if (total == 0) {
                return 0; // a zero weight: nothing to keep
            }
            double kept = 0;
            for (int r = 1; r <= s.length; r++) {
                kept += s[r - 1] * s[r - 1];
                // a relative tolerance, so that energy 1 is reached despite rounding in the sum
                if (kept >= energy * total * (1 - 1e-12)) {
                    return r;
                }
            }
            return s.length;
        }

        @Override
        public String toString() {
            return "energy " + energy;
        }
    }

    /** See {@link #reduction(double)}. */
    record Reduction(double reduction) implements RankRule {
        @Override
        public int rank(double[] s, int m, int n, String layer) {
            long r = (long) Math.floor((1 - reduction) * m * (double) n / (m + n));
            return (int) Math.min(r, s.length);
        }

        @Override
        public String toString() {
            return "reduction " + reduction;
        }
    }

    /** See {@link #fixed(int)}. */
    record Fixed(int value) implements RankRule {
        @Override
        public int rank(double[] s, int m, int n, String layer) {
            KilnArgumentException.check(value <= Math.min(m, n), "rank " + value + " is larger than min(" + m
                    + ", " + n + ") = " + Math.min(m, n) + " for layer '" + layer + "'");
            return value;
        }

        @Override
        public String toString() {
            return "rank " + value;
        }
    }
}
