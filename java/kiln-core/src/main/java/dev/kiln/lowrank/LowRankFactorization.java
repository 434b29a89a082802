package dev.kiln.lowrank;

import dev.kiln.KilnArgumentException;
import dev.kiln.graph.AttrValue;
import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.Shape;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.graph.TensorType;
import dev.kiln.passes.GraphPass;
import dev.kiln.passes.PassResult;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Replaces MatMul and Conv2D weights by a truncated SVD: fewer parameters and multiply-adds for a bounded error.
 *
 * <p><b>MatMul.</b> {@code y = x W} with W of K×N ({@code transpose_b}: stored N×K) becomes
 * {@code y = (x A) B}, {@code A = U_r sqrt(S_r)} (K×r) and {@code B = sqrt(S_r) V_rᵀ} (r×N): a new MatMul
 * {@code <name>/lowrank} computes {@code x A}, and the original node (same name, same attributes, so that a
 * following BiasAdd and activation and every reader stay as they were) multiplies by B.
 *
 * <p><b>Conv2D.</b> The HWIO filter [kh, kw, I, O] is seen as a (kh·kw·I)×O matrix; A becomes a kh×kw conv with r
 * filters and the layer's strides, padding and dilations ({@code <name>/lowrank}), and the original node becomes a
 * 1×1 conv with O filters, stride 1, on its output.
 *
 * <p><b>Rank.</b> Per layer by a {@link RankRule}: kept energy (default 0.95), a target parameter reduction, or a
 * fixed rank. A layer whose factorized form would not be smaller ({@code r (m + n) >= m n}) is skipped with a note.
 * Layers can be restricted by name and by a minimum weight size. The weight Const itself is never changed; it is
 * removed only when nothing reads it any more, so a Const shared with another reader stays intact.
 *
 * <p>The SVD is {@link Svd}'s: LAPACK's {@code dgesdd} through OpenBLAS where it loads, EJML (pure Java) elsewhere,
 * both in double precision.
 *
 * <pre>{@code
 * LowRankReport r = LowRankFactorization.energy(0.95).factorize(graph);
 * LowRankFactorization.builder().reduction(0.5).minParameters(4096).build().apply(graph);
 * }</pre>
 */
public final class LowRankFactorization implements GraphPass {
    private static final String LOWRANK = "/lowrank";
    // FuseBiasActivation's marks: they stay on the original node (now the second factor), never on the first
    private static final Set<String> FUSION_MARKS = Set.of("_kiln_fused_bias", "_kiln_fused_activation",
            "_kiln_fused_into");

    private final RankRule rule;
    private final Set<String> layers;
    private final long minParameters;

    private LowRankFactorization(Builder b) {
        this.rule = b.rule;
        this.layers = Set.copyOf(b.layers);
        this.minParameters = b.minParameters;
    }

    /** Every MatMul and Conv2D layer, rank by kept energy in (0, 1]. */
    public static LowRankFactorization energy(double energy) {
        return builder().energy(energy).build();
    }

    public static Builder builder() {
        return new Builder();
    }

    public RankRule rule() {
        return rule;
    }

    /** Node names to factorize; empty means every eligible layer. */
    public Set<String> layers() {
        return layers;
    }

    public long minParameters() {
        return minParameters;
    }

    @Override
    public String name() {
        return "low-rank";
    }

    @Override
    public PassResult apply(Graph graph) {
        int before = graph.size();
        LowRankReport r = factorize(graph);
        List<String> notes = new ArrayList<>(r.notes());
        notes.add(String.format(java.util.Locale.ROOT, "parameters %d -> %d (%.1f%% fewer)", r.parametersBefore(),
                r.parametersAfter(), 100 * r.reduction()));
        // net change: factor nodes and Consts added, replaced weight Consts removed
        return new PassResult(name(), before, graph.size(), 0, 0, 0, Math.max(0, graph.size() - before), notes);
    }

    /** A factorized copy of {@code source} and its report; {@code source} is not changed. */
    public Graph transform(Graph source) {
        Graph g = source.copy();
        factorize(g);
        return g;
    }

    /** Factorizes {@code graph} in place and says what it did. */
    public LowRankReport factorize(Graph graph) {
        long paramsBefore = graph.parameterCount();
        List<Node> candidates = candidates(graph);
        List<LowRankReport.Layer> out = new ArrayList<>();
        List<String> notes = new ArrayList<>();
        Map<String, String[]> made = new HashMap<>(); // same weight, same view: reuse the factor Consts
        Set<String> replacedConsts = new java.util.LinkedHashSet<>();
        for (Node n : candidates) {
            TensorRef wr = n.input(1);
            Tensor w = graph.constantValue(wr);
            View v = View.of(n, w);
            long params = (long) v.rows * v.cols;
            if (params < minParameters) {
                notes.add("skipped '" + n.name() + "': " + params + " weights, below the minimum " + minParameters);
                continue;
            }
            Svd svd = Svd.of(v.matrix(w.floats()), v.rows, v.cols);
            double[] s = svd.singularValues();
            int r = rule.rank(s, v.rows, v.cols, n.name());
            long after = (long) r * (v.rows + v.cols);
            List<Long> shape = java.util.Arrays.stream(w.shape().dims()).boxed().toList();
            if (r < 1 || after >= params) {
                String why = r < 1 ? "no rank meets " + rule
                        : "rank " + r + " would need " + after + " >= " + params + " parameters";
                out.add(new LowRankReport.Layer(n.name(), n.op(), shape, v.rows, v.cols, r, params, params,
                        r < 1 ? 1 : svd.energy(r), false, why));
                notes.add("skipped '" + n.name() + "' (" + n.op() + " " + v.rows + "x" + v.cols + "): " + why);
                continue;
            }
            String key = wr + "|" + v.kind + "|" + r;
            String[] consts = made.get(key);
            if (consts == null) {
                float[][] ab = svd.factors(r);
                consts = new String[] {graph.uniqueName(wr.node() + LOWRANK + "_a"),
                        graph.uniqueName(wr.node() + LOWRANK + "_b")};
                graph.add(floatConst(consts[0], v.shapeA(r), ab[0]));
                graph.add(floatConst(consts[1], v.shapeB(r), ab[1]));
                made.put(key, consts);
            }
            rewrite(graph, n, v, r, consts);
            replacedConsts.add(wr.node());
            double kept = svd.energy(r);
            out.add(new LowRankReport.Layer(n.name(), n.op(), shape, v.rows, v.cols, r, params, after, kept, true,
                    ""));
            notes.add(String.format(java.util.Locale.ROOT, "factorized '%s' (%s %dx%d) at rank %d: %d -> %d "
                    + "weights, %.4f of the energy kept", n.name(), n.op(), v.rows, v.cols, r, params, after, kept));
        }
        for (String c : replacedConsts) {
            removeIfUnread(graph, c);
        }
        return new LowRankReport(rule.toString(), out, paramsBefore, graph.parameterCount(), notes);
    }

    /** The eligible layers, in graph order; checks that every requested name is one. */
    private List<Node> candidates(Graph g) {
        for (String name : layers) {
            Node n = g.find(name);
            KilnArgumentException.check(n != null, "unknown layer '" + name + "': no such node");
            KilnArgumentException.check(eligible(g, n), "layer '" + name + "' (" + n.op() + ") cannot be "
                    + "factorized: it needs a MatMul or Conv2D with a float32 Const weight");
        }
        List<Node> out = new ArrayList<>();
        for (Node n : g.topologicalOrder()) {
            if ((layers.isEmpty() || layers.contains(n.name())) && eligible(g, n)) {
                out.add(n);
            }
        }
        return out;
    }

    private static boolean eligible(Graph g, Node n) {
        if (!(n.op().equals("MatMul") || n.op().equals("Conv2D")) || n.numDataInputs() < 2) {
            return false;
        }
        Tensor w = g.constantValue(n.input(1));
        return w != null && w.dtype() == DType.FLOAT && w.shape().rank() == (n.op().equals("MatMul") ? 2 : 4);
    }

    /** Adds the first factor's node and turns {@code n} into the second factor. */
    private static void rewrite(Graph g, Node n, View v, int r, String[] consts) {
        String first = g.uniqueName(n.name() + LOWRANK);
        Node.Builder a = Node.builder(first, n.op()).input(n.input(0)).input(consts[0]).device(n.device());
        Node.Builder b = Node.builder(n.name(), n.op()).input(TensorRef.of(first, 0)).input(consts[1])
                .device(n.device());
        for (Map.Entry<String, AttrValue> e : n.attrs().entrySet()) {
            if (!FUSION_MARKS.contains(e.getKey())) {
                a.attr(e.getKey(), e.getValue());
            }
            b.attr(e.getKey(), e.getValue());
        }
        if (v.kind.equals("conv")) {
            // the second factor is a pointwise conv on the first one's output grid
            b.attr("strides", AttrValue.ofInts(1, 1, 1, 1));
            b.attr("dilations", AttrValue.ofInts(1, 1, 1, 1));
            b.attr("padding", "VALID");
            b.removeAttr("explicit_paddings");
        } else {
            a.attr("transpose_b", false);
            b.attr("transpose_a", false).attr("transpose_b", false);
        }
        for (String c : n.controlInputs()) {
            a.input("^" + c);
        }
        if (!n.outputTypes().isEmpty()) {
            TensorType t = n.outputType(0);
            Shape sh = t.shape();
            a.outputType(sh.hasRank() && sh.rank() > 0 ? new TensorType(t.dtype(), sh.withDim(sh.rank() - 1, r)) : t);
            b.outputTypes(n.outputTypes());
        }
        g.add(a.build());
        g.replace(b.build());
    }

    private static void removeIfUnread(Graph g, String constNode) {
        List<String> readers = g.consumers().get(constNode);
        boolean output = false;
        for (SignatureTensor s : g.outputs()) {
            output |= s.tensor().node().equals(constNode);
        }
        if ((readers == null || readers.isEmpty()) && !output) {
            g.remove(constNode);
        }
    }

    private static Node floatConst(String name, Shape shape, float[] values) {
        Tensor t = Tensor.ofFloats(shape, values);
        return Node.builder(name, "Const").attr("dtype", AttrValue.of(DType.FLOAT)).attr("value", AttrValue.of(t))
                .outputType(t.type()).build();
    }

    /** A layer's weight as an m×n matrix: MatMul K×N (transposed back from N×K), Conv2D (kh·kw·I)×O. */
    private record View(String kind, int rows, int cols, long[] dims) {
        static View of(Node n, Tensor w) {
            long[] d = w.shape().dims();
            if (n.op().equals("Conv2D")) {
                return new View("conv", Math.toIntExact(d[0] * d[1] * d[2]), Math.toIntExact(d[3]), d);
            }
            boolean tb = n.attrBool("transpose_b", false);
            return tb ? new View("matmul_t", Math.toIntExact(d[1]), Math.toIntExact(d[0]), d)
                    : new View("matmul", Math.toIntExact(d[0]), Math.toIntExact(d[1]), d);
        }

        float[] matrix(float[] w) {
            if (!kind.equals("matmul_t")) {
                return w; // HWIO and K×N are already row-major m×n
            }
            float[] t = new float[w.length];
            for (int i = 0; i < rows; i++) {
                for (int j = 0; j < cols; j++) {
                    t[i * cols + j] = w[j * rows + i];
                }
            }
            return t;
        }

        Shape shapeA(int r) {
            return kind.equals("conv") ? Shape.of(dims[0], dims[1], dims[2], r) : Shape.of(rows, r);
        }

        Shape shapeB(int r) {
            return kind.equals("conv") ? Shape.of(1, 1, r, cols) : Shape.of(r, cols);
        }
    }

    /** Options of {@link LowRankFactorization}; immutable once built. */
    public static final class Builder {
        private RankRule rule = RankRule.energy(0.95);
        private Set<String> layers = Set.of();
        private long minParameters;

        private Builder() {
        }

        /** Rank per layer: the smallest keeping this share of the squared singular values, in (0, 1]. */
        public Builder energy(double energy) {
            this.rule = RankRule.energy(energy);
            return this;
        }

        /** Rank per layer: the largest with at least this share of the layer's weights removed, in [0, 1). */
        public Builder reduction(double reduction) {
            this.rule = RankRule.reduction(reduction);
            return this;
        }

        /** The same rank for every layer; larger than a layer's min(m, n) is an error naming that layer. */
        public Builder rank(int rank) {
            this.rule = RankRule.fixed(rank);
            return this;
        }

        public Builder rule(RankRule rule) {
            KilnArgumentException.check(rule != null, "rule must not be null");
            this.rule = rule;
            return this;
        }

        /** Only these nodes (MatMul or Conv2D names); an unknown name is an error when the pass runs. */
        public Builder layers(Set<String> names) {
            KilnArgumentException.check(names != null, "layers must not be null");
            this.layers = Set.copyOf(names);
            return this;
        }

        /** Skips layers with fewer weights than this (default 0: all). */
        public Builder minParameters(long min) {
            KilnArgumentException.check(min >= 0, "minParameters must be >= 0, got " + min);
            this.minParameters = min;
            return this;
        }

        public LowRankFactorization build() {
            return new LowRankFactorization(this);
        }
    }
}
