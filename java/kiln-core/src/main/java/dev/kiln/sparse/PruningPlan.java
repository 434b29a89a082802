package dev.kiln.sparse;

import dev.kiln.KilnArgumentException;

import java.util.Set;

/**
 * Which weights a {@link Pruner} prunes and how: the pattern, and the layers (Conv2D, DepthwiseConv2dNative and
 * MatMul nodes whose weight, input 1, is a float Const). A layer is selected when it is named in {@link
 * Builder#layers} (if any are named), its op is in {@link Builder#ops} (if any are given), it has at least {@link
 * Builder#minWeights} weights, and it is not the first or the last prunable layer in topological order (they matter
 * most for accuracy; {@link Builder#includeFirstAndLast(boolean)} or naming them includes them). Biases, BatchNorm
 * and everything that is not a layer's weight are never touched.
 *
 * <pre>{@code
 * PruningPlan plan = PruningPlan.builder(PruningPattern.twoFour()).ops(Set.of("MatMul")).build();
 * }</pre>
 */
public final class PruningPlan {
    /** The op types whose weights can be pruned. */
    public static final Set<String> PRUNABLE_OPS = Set.of("Conv2D", "DepthwiseConv2dNative", "MatMul");

    private final PruningPattern pattern;
    private final Set<String> layers;
    private final Set<String> ops;
    private final long minWeights;
    private final boolean includeFirstAndLast;
    private final boolean skipIndivisible;

    private PruningPlan(Builder b) {
        this.pattern = b.pattern;
        this.layers = b.layers;
        this.ops = b.ops;
        this.minWeights = b.minWeights;
        this.includeFirstAndLast = b.includeFirstAndLast;
        this.skipIndivisible = b.skipIndivisible;
    }

    /** The common case: this pattern on every prunable layer but the first and the last. */
    public static PruningPlan of(PruningPattern pattern) {
        return builder(pattern).build();
    }

    public static Builder builder(PruningPattern pattern) {
        return new Builder(pattern);
    }

    public PruningPattern pattern() {
        return pattern;
    }

    public Set<String> layers() {
        return layers;
    }

    public Set<String> ops() {
        return ops;
    }

    public long minWeights() {
        return minWeights;
    }

    public boolean includeFirstAndLast() {
        return includeFirstAndLast;
    }

    public boolean skipIndivisible() {
        return skipIndivisible;
    }

    @Override
    public String toString() {
        return pattern + (layers.isEmpty() ? "" : ", layers " + layers) + (ops.isEmpty() ? "" : ", ops " + ops)
                + (minWeights > 0 ? ", >= " + minWeights + " weights" : "")
                + (includeFirstAndLast ? ", first and last included" : "")
                + (skipIndivisible ? ", indivisible layers skipped" : "");
    }

    /** Options of a {@link PruningPlan}. */
    public static final class Builder {
        private final PruningPattern pattern;
        private Set<String> layers = Set.of();
        private Set<String> ops = Set.of();
        private long minWeights;
        private boolean includeFirstAndLast;
        private boolean skipIndivisible;

        private Builder(PruningPattern pattern) {
            KilnArgumentException.check(pattern != null, "pattern must not be null");
            this.pattern = pattern;
        }

        /** Only these layers (node names of the Conv2D / MatMul nodes); a name not in the graph is an error. */
        public Builder layers(Set<String> names) {
            KilnArgumentException.check(names != null, "layers must not be null");
            this.layers = Set.copyOf(names);
            return this;
        }

        /** Only layers of these op types, a subset of {@link #PRUNABLE_OPS}. */
        public Builder ops(Set<String> opTypes) {
            KilnArgumentException.check(opTypes != null, "ops must not be null");
            for (String op : opTypes) {
                KilnArgumentException.check(PRUNABLE_OPS.contains(op),
                        "op '" + op + "' has no prunable weights; prunable: " + PRUNABLE_OPS);
            }
            this.ops = Set.copyOf(opTypes);
            return this;
        }

        /** Only layers with at least this many weights (small layers save little and cost accuracy). */
        public Builder minWeights(long n) {
            KilnArgumentException.check(n >= 0, "minWeights must be >= 0, got " + n);
            this.minWeights = n;
            return this;
        }

        /** Whether the first and the last prunable layer are pruned too (default false). */
        public Builder includeFirstAndLast(boolean include) {
            this.includeFirstAndLast = include;
            return this;
        }

        /**
         * For N:M: whether a layer whose input-channel count is not a multiple of M is skipped with a note (true)
         * or is an error (false, the default).
         */
        public Builder skipIndivisible(boolean skip) {
            this.skipIndivisible = skip;
            return this;
        }

        public PruningPlan build() {
            return new PruningPlan(this);
        }
    }
}
