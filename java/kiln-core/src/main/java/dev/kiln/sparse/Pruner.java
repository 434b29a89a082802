package dev.kiln.sparse;

import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;
import dev.kiln.graph.AttrValue;
import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.SparsityInfo;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.kernels.AxisView;
import dev.kiln.kernels.KernelBackends;
import dev.kiln.kernels.Kernels;
import dev.kiln.kernels.NMCheck;
import dev.kiln.passes.GraphPass;
import dev.kiln.passes.PassResult;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * One-shot magnitude pruning of a whole graph by a {@link PruningPlan}: the selected layers' weights keep their
 * dense layout with the pruned elements set to 0 (a runtime that exploits sparsity, such as TensorRT's sparse
 * tensor cores for 2:4, finds the zeros there). A weight Const read only by its layer is changed in place; one also
 * read elsewhere is copied to {@code <const>/pruned} and only that layer reads the copy. Each pruned Const gets a
 * {@link SparsityInfo} in {@link Graph#sparsity()}.
 *
 * <p>The input-channel axis (the axis of N:M groups) is I of Conv2D HWIO, C of DepthwiseConv2dNative
 * {@code [H, W, C, M]}, K of MatMul {@code [K, N]} (or {@code [N, K]} with transpose_b). Blocks are taken on the
 * 2-D view {@code [rows = out, cols = in * kh * kw]} (the GEMM view of the layer).
 *
 * <pre>{@code
 * PruningReport r = Pruner.of(PruningPlan.of(PruningPattern.unstructured(0.5))).prune(graph);
 * }</pre>
 */
public final class Pruner implements GraphPass {
    private final PruningPlan plan;
    private final Kernels kernels;

    private Pruner(PruningPlan plan, Kernels kernels) {
        KilnArgumentException.check(plan != null, "plan must not be null");
        KilnArgumentException.check(kernels != null, "kernels must not be null");
        this.plan = plan;
        this.kernels = kernels;
    }

    /** On the default kernel backend. */
    public static Pruner of(PruningPlan plan) {
        return new Pruner(plan, KernelBackends.get());
    }

    public static Pruner of(PruningPlan plan, Kernels kernels) {
        return new Pruner(plan, kernels);
    }

    public PruningPlan plan() {
        return plan;
    }

    @Override
    public String name() {
        return "prune";
    }

    @Override
    public PassResult apply(Graph graph) {
        int before = graph.size();
        PruningReport r = prune(graph);
        List<String> notes = new ArrayList<>(r.notes());
        r.layers().forEach(l -> notes.add(l.toString()));
        return new PassResult(name(), before, graph.size(), 0, r.layers().size(), 0, graph.size() - before, notes);
    }

    /** A selected layer: its node, its weight and how to see it. */
    private record Layer(Node node, String constName, Tensor w, long[] dims, int inAxis, int rows, int cols,
                         boolean transposed) {
        AxisView inView() {
            return AxisView.of(dims, inAxis);
        }
    }

    /** Prunes {@code graph} in place and says what it did. */
    public PruningReport prune(Graph graph) {
        KilnArgumentException.check(graph != null, "graph must not be null");
        List<String> notes = new ArrayList<>();
        List<Layer> layers = select(graph, notes);
        List<byte[]> masks = masks(layers, notes);
        List<PruningReport.Layer> rows = new ArrayList<>();
        for (int i = 0; i < layers.size(); i++) {
            if (masks.get(i) != null) {
                rows.add(write(graph, layers.get(i), masks.get(i)));
            }
        }
        return new PruningReport(plan.toString(), rows, notes);
    }

    // ---- selection ----

    private List<Layer> select(Graph g, List<String> notes) {
        List<Layer> prunable = new ArrayList<>();
        for (Node n : g.topologicalOrder()) {
            if (!PruningPlan.PRUNABLE_OPS.contains(n.op()) || n.numDataInputs() < 2) {
                continue;
            }
            Tensor w = g.constantValue(n.input(1));
            if (w == null || w.dtype() != DType.FLOAT) {
                notes.add("skipped '" + n.name() + "' (" + n.op() + "): input 1 is not a float32 Const");
                continue;
            }
            prunable.add(layer(n, w));
        }
        Set<String> known = new HashSet<>();
        prunable.forEach(l -> known.add(l.node().name()));
        for (String name : plan.layers()) {
            if (!known.contains(name)) {
                throw new KilnArgumentException("layer '" + name + "' is not a prunable layer of the graph ("
                        + (g.contains(name) ? "it is a " + g.node(name).op() + " without float32 Const weights"
                        : "no node has that name") + "); prunable: " + known);
            }
        }
        List<Layer> selected = new ArrayList<>();
        for (int i = 0; i < prunable.size(); i++) {
            Layer l = prunable.get(i);
            String name = l.node().name();
            boolean named = plan.layers().contains(name);
            if (!plan.layers().isEmpty() && !named) {
                continue;
            }
            if (!plan.ops().isEmpty() && !plan.ops().contains(l.node().op())) {
                continue;
            }
            if (l.w().numElements() < plan.minWeights()) {
                notes.add("skipped '" + name + "': " + l.w().numElements() + " weights < " + plan.minWeights());
                continue;
            }
            if (!named && !plan.includeFirstAndLast() && (i == 0 || i == prunable.size() - 1)) {
                notes.add("skipped '" + name + "': the " + (i == 0 ? "first" : "last") + " prunable layer");
                continue;
            }
            selected.add(l);
        }
        return selected;
    }

    private static Layer layer(Node n, Tensor w) {
        long[] d = w.shape().dims();
        String c = n.input(1).node();
        switch (n.op()) {
            case "Conv2D" -> {
                rank(n, d, 4); // [H, W, I, O] is [H * W * I, O]: the GEMM view is its transpose
                return new Layer(n, c, w, d, 2, (int) d[3], (int) (d[0] * d[1] * d[2]), true);
            }
            case "DepthwiseConv2dNative" -> {
                rank(n, d, 4); // [H, W, C, M]: output channel c * M + m sees H * W weights
                return new Layer(n, c, w, d, 2, (int) (d[2] * d[3]), (int) (d[0] * d[1]), true);
            }
            default -> {
                rank(n, d, 2);
                if (n.attrBool("transpose_b", false)) { // [N, K] is already [out, in]
                    return new Layer(n, c, w, d, 1, (int) d[0], (int) d[1], false);
                }
                return new Layer(n, c, w, d, 0, (int) d[1], (int) d[0], true);
            }
        }
    }

    private static void rank(Node n, long[] d, int want) {
        if (d.length != want) {
            throw KilnException.invalidModel("node '" + n.name() + "' (" + n.op() + ") has weights of rank "
                    + d.length + ", expected " + want);
        }
    }

    // ---- masks ----

    /** One mask per layer, null for a layer skipped here. */
    private List<byte[]> masks(List<Layer> layers, List<String> notes) {
        List<byte[]> out = new ArrayList<>();
        PruningPattern p = plan.pattern();
        if (p instanceof PruningPattern.Unstructured u && u.global()) {
            return globalMasks(layers, u.sparsity());
        }
        for (Layer l : layers) {
            float[] w = l.w().floats();
            if (p instanceof PruningPattern.Unstructured u) {
                out.add(kernels.maskMagnitude(w, Sparsity.keepCount(w.length, u.sparsity())));
            } else if (p instanceof PruningPattern.NM nm) {
                AxisView v = l.inView();
                if (v.channels() % nm.m() != 0) {
                    out.add(indivisible(l, v.channels() + " input channels", nm.m(), notes));
                } else {
                    out.add(kernels.maskNM(w, v, nm.n(), nm.m()));
                }
            } else {
                PruningPattern.Block b = (PruningPattern.Block) p;
                if (l.rows() % b.k() != 0 || l.cols() % b.k() != 0) {
                    out.add(indivisible(l, "a " + l.rows() + " x " + l.cols() + " [out, in] view", b.k(), notes));
                } else {
                    out.add(blockMask(l, b));
                }
            }
        }
        return out;
    }

    private byte[] indivisible(Layer l, String what, int m, List<String> notes) {
        String msg = "layer '" + l.node().name() + "' (" + l.node().op() + ") has " + what + ", not a multiple of "
                + m + " for " + plan.pattern().label();
        if (!plan.skipIndivisible()) {
            throw new KilnArgumentException(msg + " (skipIndivisible(true) skips such layers)");
        }
        notes.add("skipped " + msg);
        return null;
    }

    /** One magnitude threshold over all layers: the mask of their concatenation, cut back into layers. */
    private List<byte[]> globalMasks(List<Layer> layers, double sparsity) {
        long total = layers.stream().mapToLong(l -> l.w().numElements()).sum();
        KilnArgumentException.check(total <= Integer.MAX_VALUE - 8, "too many weights for one global mask: " + total);
        float[] all = new float[(int) total];
        int at = 0;
        for (Layer l : layers) {
            float[] w = l.w().floats();
            System.arraycopy(w, 0, all, at, w.length);
            at += w.length;
        }
        List<byte[]> out = new ArrayList<>();
        if (total == 0) {
            return out;
        }
        byte[] mask = kernels.maskMagnitude(all, Sparsity.keepCount(total, sparsity));
        at = 0;
        for (Layer l : layers) {
            int n = (int) l.w().numElements();
            byte[] m = new byte[n];
            System.arraycopy(mask, at, m, 0, n);
            out.add(m);
            at += n;
        }
        return out;
    }

    private byte[] blockMask(Layer l, PruningPattern.Block b) {
        int rows = l.rows();
        int cols = l.cols();
        float[] w = l.w().floats();
        float[] view = l.transposed() ? transpose(w, cols, rows) : w; // stored [cols, rows] -> [rows, cols]
        long nbBlocks = (long) (rows / b.k()) * (cols / b.k());
        byte[] m = kernels.maskBlock(view, rows, cols, b.k(), b.k(), Sparsity.keepCount(nbBlocks, b.sparsity()));
        return l.transposed() ? transpose(m, rows, cols) : m;
    }

    static float[] transpose(float[] a, int rows, int cols) {
        float[] t = new float[a.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                t[c * rows + r] = a[r * cols + c];
            }
        }
        return t;
    }

    static byte[] transpose(byte[] a, int rows, int cols) {
        byte[] t = new byte[a.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                t[c * rows + r] = a[r * cols + c];
            }
        }
        return t;
    }

    // ---- writing ----

    private PruningReport.Layer write(Graph g, Layer l, byte[] mask) {
        float[] pruned = Sparsity.apply(l.w().floats(), mask);
        Tensor t = Tensor.ofFloats(l.w().shape(), pruned);
        Node c = g.node(l.constName());
        String target;
        if (onlyReader(g, l)) {
            g.replace(c.withAttr("value", AttrValue.of(t)));
            target = c.name();
        } else { // shared: the other readers keep the dense weight
            target = g.uniqueName(c.name() + "/pruned");
            g.add(c.toBuilder().name(target).attr("value", AttrValue.of(t)).build());
            g.setDataInput(l.node().name(), 1, TensorRef.of(target, 0));
        }
        long zeros = 0;
        for (float v : pruned) {
            if (v == 0f) {
                zeros++;
            }
        }
        String pattern = plan.pattern().label();
        g.sparsity().put(target, new SparsityInfo(pattern, l.inAxis(), 1 - (double) zeros / pruned.length));
        return new PruningReport.Layer(l.node().name(), l.node().op(), target, l.dims(), pruned.length, zeros,
                pattern, nmCheck(pruned, l));
    }

    /** The plan's N:M, or 2:4, checked on the result; null where the axis is not a multiple of M. */
    private NMReport nmCheck(float[] w, Layer l) {
        int n = 2;
        int m = 4;
        if (plan.pattern() instanceof PruningPattern.NM nm) {
            n = nm.n();
            m = nm.m();
        }
        AxisView v = l.inView();
        if (v.channels() % m != 0) {
            return null;
        }
        NMCheck c = kernels.checkNM(w, v, n, m, 4);
        List<long[]> where = new ArrayList<>();
        for (long flat : c.firstBad()) {
            where.add(Sparsity.unravel(flat, l.dims()));
        }
        return new NMReport(n, m, v.size() / m, c.nbBad(), List.copyOf(where));
    }

    /** Whether the layer is the only data reader of its weight Const, and no signature output is bound to it. */
    private static boolean onlyReader(Graph g, Layer l) {
        TensorRef ref = TensorRef.of(l.constName(), 0);
        if (g.isOutput(ref)) {
            return false;
        }
        return g.dataReaderCount(l.constName()) == 1;
    }
}
