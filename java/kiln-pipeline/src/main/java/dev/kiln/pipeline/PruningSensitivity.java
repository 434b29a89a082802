package dev.kiln.pipeline;

import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;
import dev.kiln.data.RepresentativeData;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Tensor;
import dev.kiln.sparse.Pruner;
import dev.kiln.sparse.PruningPattern;
import dev.kiln.sparse.PruningPlan;
import dev.kiln.sparse.PruningReport;
import dev.kiln.sparse.Sparsity;
import dev.kiln.tensorflow.TfRunner;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.StringJoiner;

/**
 * How much each prunable layer costs when pruned alone, and a per-layer plan that reaches a global sparsity within an
 * accuracy budget. Every layer of the selection is pruned alone (unstructured, magnitude) at 50%, 70% and 90% and the
 * pruned graph run in TensorFlow against the unpruned one on the evaluation data. The cost is the top-1 drop in
 * percentage points when labels are given, else {@code 1 - min output cosine}; a budget is in the same unit.
 *
 * <pre>{@code
 * PruningSensitivity s = PruningSensitivity.builder(graph, data).labels(labels).build();
 * System.out.println(s.scan().toMarkdown());
 * PruningSensitivity.Plan p = s.plan(0.6, 1.0); // 60% of the prunable weights, at most 1 point of top-1
 * }</pre>
 *
 * <p>Not thread-safe: the reference outputs and the table are computed once, on first use.
 */
public final class PruningSensitivity {
    /** The sparsities the scan measures; the plan chooses each layer's among 0 and these. */
    public static final double[] SPARSITIES = {0.5, 0.7, 0.9};

    private final Graph graph;
    private final RepresentativeData data;
    private final long[] labels;
    private final PruningPlan selection;
    private List<Map<String, Tensor>> referenceOutputs;
    private double referenceTop1;
    private Table table;

    private PruningSensitivity(Builder b) {
        this.graph = b.graph.copy();
        this.data = b.data;
        this.labels = b.labels;
        this.selection = b.selection;
    }

    /** {@code graph} as it will be pruned (optimized for inference first, so that BatchNorm is folded in). */
    public static Builder builder(Graph graph, RepresentativeData data) {
        return new Builder(graph, data);
    }

    /** The cost of each layer pruned alone at each of {@link #SPARSITIES}. */
    public Table scan() {
        if (table != null) {
            return table;
        }
        List<Table.Row> rows = new ArrayList<>();
        for (PruningReport.Layer l : select()) {
            double[] costs = new double[SPARSITIES.length];
            for (int i = 0; i < SPARSITIES.length; i++) {
                costs[i] = cost(Map.of(l.name(), SPARSITIES[i]));
            }
            rows.add(new Table.Row(l.name(), l.op(), l.weights(), costs));
        }
        table = new Table(labels != null ? "top-1 drop (points)" : "1 - min cosine", rows);
        return table;
    }

    /**
     * Greedily chooses each layer's sparsity among 0 and {@link #SPARSITIES}: repeatedly raises the layer whose next
     * step costs least (scan cost increase) per newly pruned weight, measures the combined model, and undoes a step
     * that breaks {@code budget} (that layer then stays where it was), until the pruned share of the selection's
     * weights reaches {@code target}. If it cannot, the plan says so and holds the furthest it got within budget.
     */
    public Plan plan(double target, double budget) {
        KilnArgumentException.check(target >= 0 && target <= SPARSITIES[SPARSITIES.length - 1],
                "target sparsity must be within [0, " + SPARSITIES[SPARSITIES.length - 1] + "], got " + target);
        KilnArgumentException.check(budget >= 0, "budget must be >= 0, got " + budget);
        List<Table.Row> rows = scan().rows();
        int[] level = new int[rows.size()]; // 0: dense, i > 0: SPARSITIES[i - 1]
        boolean[] frozen = new boolean[rows.size()];
        long total = rows.stream().mapToLong(Table.Row::weights).sum();
        double cost = 0;
        while (total > 0 && (double) pruned(rows, level) / total < target) {
            int best = -1;
            double bestRatio = Double.POSITIVE_INFINITY;
            for (int i = 0; i < rows.size(); i++) {
                if (frozen[i] || level[i] == SPARSITIES.length) {
                    continue;
                }
                Table.Row r = rows.get(i);
                double dCost = Math.max(0, r.cost(level[i] + 1) - r.cost(level[i]));
                long dPruned = prunedAt(r.weights(), level[i] + 1) - prunedAt(r.weights(), level[i]);
                double ratio = dCost / Math.max(1, dPruned);
                if (best < 0 || ratio < bestRatio) {
                    best = i;
                    bestRatio = ratio;
                }
            }
            if (best < 0) {
                break; // every layer is at its highest level or frozen
            }
            level[best]++;
            double c = cost(sparsities(rows, level));
            if (c > budget) {
                level[best]--;
                frozen[best] = true;
            } else {
                cost = c;
            }
        }
        double global = total == 0 ? 0 : (double) pruned(rows, level) / total;
        return new Plan(target, budget, scan().metric(), sparsities(rows, level), global, cost, global >= target);
    }

    // ---- measuring ----

    private List<PruningReport.Layer> select() {
        // the selection's layers are those its own pattern prunes; a copy is pruned only to learn them
        return Pruner.of(selection).prune(graph.copy()).layers();
    }

    /** The cost of the graph pruned by {@code sparsities} (layer to sparsity; 0 leaves a layer dense). */
    private double cost(Map<String, Double> sparsities) {
        Graph g = graph.copy();
        prune(g, sparsities);
        List<Map<String, Tensor>> ref = reference();
        double dot = 0;
        double refSq = 0;
        double candSq = 0;
        double minCos = 1;
        long correct = 0;
        long seen = 0;
        Map<String, double[]> sums = new LinkedHashMap<>();
        try (TfRunner tf = TfRunner.of(g); RepresentativeData.Batches b = data.iterator()) {
            for (Map<String, Tensor> r : ref) {
                Map<String, Tensor> out = tf.run(b.next());
                for (Map.Entry<String, Tensor> e : r.entrySet()) {
                    float[] x = e.getValue().asFloats();
                    float[] y = out.get(e.getKey()).asFloats();
                    double[] s = sums.computeIfAbsent(e.getKey(), k -> new double[3]);
                    for (int i = 0; i < x.length; i++) {
                        s[0] += (double) x[i] * y[i];
                        s[1] += (double) x[i] * x[i];
                        s[2] += (double) y[i] * y[i];
                    }
                }
                if (labels != null) {
                    Tensor p = out.values().iterator().next();
                    correct += correct(p, seen);
                    seen += p.shape().dim(0);
                }
            }
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw KilnException.internal("pruning sensitivity: " + e.getMessage(), e);
        }
        if (labels != null) {
            return 100 * (referenceTop1 - (double) correct / seen);
        }
        for (double[] s : sums.values()) {
            double cos = s[1] == 0 && s[2] == 0 ? 1 : s[0] / Math.sqrt(s[1] * s[2]);
            minCos = Math.min(minCos, cos);
        }
        return 1 - minCos;
    }

    /** The unpruned graph's outputs on every batch, computed once. */
    private List<Map<String, Tensor>> reference() {
        if (referenceOutputs != null) {
            return referenceOutputs;
        }
        List<Map<String, Tensor>> outs = new ArrayList<>();
        long ok = 0;
        long seen = 0;
        try (TfRunner tf = TfRunner.of(graph); RepresentativeData.Batches b = data.iterator()) {
            while (b.hasNext()) {
                Map<String, Tensor> out = tf.run(b.next());
                outs.add(out);
                if (labels != null) {
                    Tensor p = out.values().iterator().next();
                    ok += correct(p, seen);
                    seen += p.shape().dim(0);
                }
            }
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw KilnException.internal("pruning sensitivity: " + e.getMessage(), e);
        }
        KilnArgumentException.check(!outs.isEmpty(), "evaluation data is empty: " + data.description());
        referenceTop1 = seen == 0 ? 0 : (double) ok / seen;
        referenceOutputs = outs;
        return outs;
    }

    /** Correct predictions (argmax of the first output's last axis) of one batch starting at sample {@code from}. */
    private long correct(Tensor probs, long from) {
        float[] p = probs.asFloats();
        int rows = (int) probs.shape().dim(0);
        int classes = rows == 0 ? 0 : p.length / rows;
        KilnArgumentException.check(from + rows <= labels.length, "labels: " + labels.length
                + " labels for more evaluation samples");
        long ok = 0;
        for (int r = 0; r < rows; r++) {
            int best = 0;
            for (int k = 1; k < classes; k++) {
                if (p[r * classes + k] > p[r * classes + best]) {
                    best = k;
                }
            }
            ok += best == labels[(int) (from + r)] ? 1 : 0;
        }
        return ok;
    }

    /** Prunes each named layer alone to its sparsity (one pattern per Pruner, so one pass per layer). */
    static PruningReport prune(Graph g, Map<String, Double> sparsities) {
        List<PruningReport.Layer> layers = new ArrayList<>();
        List<String> notes = new ArrayList<>();
        sparsities.forEach((name, s) -> {
            if (s > 0) {
                PruningReport r = Pruner.of(PruningPlan.builder(PruningPattern.unstructured(s))
                        .layers(Set.of(name)).build()).prune(g);
                layers.addAll(r.layers());
                notes.addAll(r.notes());
            }
        });
        return new PruningReport("per layer " + sparsities, layers, notes);
    }

    private static long prunedAt(long weights, int level) {
        return level == 0 ? 0 : weights - Sparsity.keepCount(weights, SPARSITIES[level - 1]);
    }

    private static long pruned(List<Table.Row> rows, int[] level) {
        long n = 0;
        for (int i = 0; i < rows.size(); i++) {
            n += prunedAt(rows.get(i).weights(), level[i]);
        }
        return n;
    }

    private static Map<String, Double> sparsities(List<Table.Row> rows, int[] level) {
        Map<String, Double> m = new LinkedHashMap<>();
        for (int i = 0; i < rows.size(); i++) {
            m.put(rows.get(i).layer(), level[i] == 0 ? 0.0 : SPARSITIES[level[i] - 1]);
        }
        return m;
    }

    /**
     * The scan: per layer, its cost pruned alone at each of {@link #SPARSITIES}.
     *
     * @param metric what a cost is: "top-1 drop (points)" or "1 - min cosine"
     */
    public record Table(String metric, List<Row> rows) {
        public Table {
            rows = List.copyOf(rows);
        }

        /** One layer: its name, op, weight count and cost at each of {@link #SPARSITIES}. */
        public record Row(String layer, String op, long weights, double[] costs) {
            public Row {
                costs = costs.clone();
            }

            @Override
            public double[] costs() {
                return costs.clone();
            }

            /** The cost at level 0 (dense: 0) or {@code SPARSITIES[level - 1]}. */
            double cost(int level) {
                return level == 0 ? 0 : costs[level - 1];
            }
        }

        /** A markdown table, one row per layer. */
        public String toMarkdown() {
            StringBuilder sb = new StringBuilder("| layer | op | weights |");
            StringBuilder rule = new StringBuilder("|---|---|---|");
            for (double s : SPARSITIES) {
                sb.append(String.format(Locale.ROOT, " %.0f%% |", 100 * s));
                rule.append("---|");
            }
            sb.append('\n').append(rule).append('\n');
            for (Row r : rows) {
                sb.append(String.format(Locale.ROOT, "| %s | %s | %d |", r.layer(), r.op(), r.weights()));
                for (double c : r.costs) {
                    sb.append(String.format(Locale.ROOT, " %.4f |", c));
                }
                sb.append('\n');
            }
            return sb.append("cost: ").append(metric).append('\n').toString();
        }
    }

    /**
     * A budgeted plan: each layer's sparsity (0: dense), the pruned share of the selection's weights, and the cost
     * of the combined model (measured, in the table's unit). {@code met} says whether {@code global} reached
     * {@code target} within {@code budget}; if not, this is the furthest the greedy search got within it.
     */
    public record Plan(double target, double budget, String metric, Map<String, Double> sparsities, double global,
                       double cost, boolean met) {
        public Plan {
            sparsities = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(sparsities));
        }

        /** Prunes {@code g} in place by this plan. */
        public PruningReport apply(Graph g) {
            return prune(g, sparsities);
        }

        @Override
        public String toString() {
            StringJoiner sb = new StringJoiner(", ");
            sparsities.forEach((k, v) -> sb.add(String.format(Locale.ROOT, "%s %.0f%%", k, 100 * v)));
            return String.format(Locale.ROOT, "%s%s: global sparsity %.1f%% (target %.1f%%), cost %.4f (budget "
                            + "%.4f, %s)", met ? "" : "target not met within the budget; got ", sb, 100 * global,
                    100 * target, cost, budget, metric);
        }
    }

    /** Options of a {@link PruningSensitivity}. */
    public static final class Builder {
        private final Graph graph;
        private final RepresentativeData data;
        private long[] labels;
        private PruningPlan selection = PruningPlan.of(PruningPattern.unstructured(0.5));

        private Builder(Graph graph, RepresentativeData data) {
            KilnArgumentException.check(graph != null, "graph must not be null");
            KilnArgumentException.check(data != null, "evaluation data must not be null");
            this.graph = graph;
            this.data = data;
        }

        /** One class per sample of the data, in order: the cost is then the top-1 drop in points. */
        public Builder labels(long[] l) {
            this.labels = l == null ? null : l.clone();
            return this;
        }

        /**
         * Which layers are prunable: those this plan would prune (default: every prunable layer but the first and
         * the last, {@link PruningPlan#of}); its pattern only matters for what it skips.
         */
        public Builder selection(PruningPlan plan) {
            KilnArgumentException.check(plan != null, "selection must not be null");
            this.selection = plan;
            return this;
        }

        public PruningSensitivity build() {
            return new PruningSensitivity(this);
        }
    }
}
