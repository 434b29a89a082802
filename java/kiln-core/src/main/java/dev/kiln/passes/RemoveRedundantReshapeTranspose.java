package dev.kiln.passes;

import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.graph.TensorType;
import dev.kiln.graph.AttrValue;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Removes shape and type round trips:
 * <ul>
 *   <li>Reshape of a Reshape → one Reshape; Reshape to the (known) shape its input already has → removed;</li>
 *   <li>Transpose with the identity permutation → removed; Transpose of a Transpose → one Transpose with the
 *       composed permutation, or nothing when they cancel;</li>
 *   <li>Cast to the type it already has → removed; Cast(Cast(x, A→B), B→C) with A→B lossless → Cast(x, A→C), or
 *       nothing when C is A.</li>
 * </ul>
 * Intermediate nodes left without readers are removed.
 */
public final class RemoveRedundantReshapeTranspose implements GraphPass {
    private static final Set<String> OPS = Set.of("Reshape", "Transpose", "Cast");

    @Override
    public String name() {
        return "remove-redundant-reshape-transpose-cast";
    }

    @Override
    public PassResult apply(Graph graph) {
        Report r = new Report(name(), graph);
        for (Node n : graph.topologicalOrder()) {
            Node cur = graph.find(n.name());
            if (cur == null || !OPS.contains(cur.op()) || GraphEdits.signatureInputNodes(graph).contains(cur.name())) {
                continue;
            }
            switch (cur.op()) {
                case "Reshape" -> reshape(graph, cur, r);
                case "Transpose" -> transpose(graph, cur, r);
                case "Cast" -> cast(graph, cur, r);
                default -> { }
            }
        }
        List<String> dead = GraphEdits.removeDead(graph,
                x -> OPS.contains(x.op()) || x.op().equals("Const"));
        r.removed += dead.size();
        return r.finish(graph);
    }

    private static void bypass(Graph g, Node n, TensorRef to, Report r, String why) {
        g.rewire(TensorRef.of(n.name(), 0), to);
        GraphEdits.removeForwardingControl(g, n.name(), true);
        r.removed("removed " + n.op() + " '" + n.name() + "': " + why);
    }

    private static Node producer(Graph g, TensorRef ref, String op) {
        Node p = g.find(ref.node());
        return p != null && ref.index() == 0 && p.op().equals(op) ? p : null;
    }

    private static void reshape(Graph g, Node n, Report r) {
        if (n.numDataInputs() != 2) {
            return;
        }
        Node inner = producer(g, n.input(0), "Reshape");
        if (inner != null && inner.numDataInputs() == 2) {
            List<String> ins = new ArrayList<>(n.inputs());
            ins.set(0, inner.input(0).toString());
            n = g.replace(n.withInputs(ins));
            r.fused("merged Reshape '" + inner.name() + "' into Reshape '" + n.name() + "'");
        }
        Tensor s = g.constantValue(n.input(1));
        TensorType in = g.typeOf(n.input(0));
        if (s == null || in == null || !in.shape().hasRank()) {
            return;
        }
        long[] target = s.asLongs();
        long[] have = in.shape().dims();
        if (target.length != have.length) {
            return;
        }
        int unknownHave = 0;
        for (long h : have) {
            if (h < 0) {
                unknownHave++;
            }
        }
        for (int i = 0; i < have.length; i++) {
            boolean same = have[i] >= 0 ? (target[i] == have[i] || (target[i] == -1 && unknownHave == 0))
                    : (target[i] == -1 && unknownHave == 1);
            if (!same) {
                return;
            }
        }
        bypass(g, n, n.input(0), r, "input already has shape " + in.shape());
    }

    private static void transpose(Graph g, Node n, Report r) {
        if (n.numDataInputs() != 2) {
            return;
        }
        Tensor p = g.constantValue(n.input(1));
        if (p == null) {
            return;
        }
        long[] perm = p.asLongs();
        if (isIdentity(perm)) {
            bypass(g, n, n.input(0), r, "identity permutation");
            return;
        }
        Node inner = producer(g, n.input(0), "Transpose");
        Tensor p1 = inner == null || inner.numDataInputs() != 2 ? null : g.constantValue(inner.input(1));
        if (p1 == null || p1.numElements() != perm.length) {
            return;
        }
        long[] first = p1.asLongs();
        long[] composed = new long[perm.length];
        for (int i = 0; i < perm.length; i++) {
            composed[i] = first[(int) perm[i]];
        }
        if (isIdentity(composed)) {
            bypass(g, n, inner.input(0), r, "cancels Transpose '" + inner.name() + "'");
            return;
        }
        String permName = g.uniqueName(n.name() + "/kiln_perm");
        Tensor pt = p.dtype() == DType.INT64 ? Tensor.ofLongs(Shape.of(composed.length), composed)
                : Tensor.ofInts(Shape.of(composed.length), java.util.Arrays.stream(composed).mapToInt(x -> (int) x)
                .toArray());
        g.add(GraphEdits.constNode(permName, pt, List.of()));
        List<String> ins = new ArrayList<>(n.inputs());
        ins.set(0, inner.input(0).toString());
        ins.set(1, permName);
        g.replace(n.withInputs(ins).withAttr("Tperm", AttrValue.of(pt.dtype())));
        r.fused("composed Transpose '" + inner.name() + "' and '" + n.name() + "'");
    }

    private static boolean isIdentity(long[] perm) {
        for (int i = 0; i < perm.length; i++) {
            if (perm[i] != i) {
                return false;
            }
        }
        return true;
    }

    private static void cast(Graph g, Node n, Report r) {
        if (n.numDataInputs() != 1 || !n.hasAttr("DstT")) {
            return;
        }
        DType dst = n.attrType("DstT");
        TensorType in = g.typeOf(n.input(0));
        DType src = n.hasAttr("SrcT") ? n.attrType("SrcT") : in != null ? in.dtype() : null;
        if (src == dst) {
            bypass(g, n, n.input(0), r, "already " + dst);
            return;
        }
        Node inner = producer(g, n.input(0), "Cast");
        if (inner == null || !inner.hasAttr("SrcT") || !inner.hasAttr("DstT") || inner.numDataInputs() != 1) {
            return;
        }
        DType a = inner.attrType("SrcT");
        DType b = inner.attrType("DstT");
        if (!lossless(a, b)) {
            return;
        }
        if (a == dst) {
            bypass(g, n, inner.input(0), r, "round trip through " + b);
            return;
        }
        List<String> ins = new ArrayList<>(n.inputs());
        ins.set(0, inner.input(0).toString());
        g.replace(n.withInputs(ins).withAttr("SrcT", AttrValue.of(a)));
        r.fused("merged Cast '" + inner.name() + "' (" + a + "→" + b + ", lossless) into Cast '" + n.name() + "'");
    }

    private static final Map<DType, Set<DType>> WIDER = Map.of(
            DType.BOOL, Set.of(DType.INT8, DType.UINT8, DType.INT16, DType.UINT16, DType.INT32, DType.UINT32,
                    DType.INT64, DType.UINT64, DType.HALF, DType.FLOAT, DType.DOUBLE),
            DType.INT8, Set.of(DType.INT16, DType.INT32, DType.INT64, DType.HALF, DType.FLOAT, DType.DOUBLE),
            DType.UINT8, Set.of(DType.INT16, DType.UINT16, DType.INT32, DType.UINT32, DType.INT64, DType.UINT64,
                    DType.HALF, DType.FLOAT, DType.DOUBLE),
            DType.INT16, Set.of(DType.INT32, DType.INT64, DType.FLOAT, DType.DOUBLE),
            DType.UINT16, Set.of(DType.INT32, DType.UINT32, DType.INT64, DType.UINT64, DType.FLOAT, DType.DOUBLE),
            DType.INT32, Set.of(DType.INT64, DType.DOUBLE),
            DType.UINT32, Set.of(DType.INT64, DType.UINT64, DType.DOUBLE),
            DType.HALF, Set.of(DType.FLOAT, DType.DOUBLE),
            DType.BFLOAT16, Set.of(DType.FLOAT, DType.DOUBLE),
            DType.FLOAT, Set.of(DType.DOUBLE));

    /** Whether every value of type a is exactly representable in type b. */
    static boolean lossless(DType a, DType b) {
        return a == b || WIDER.getOrDefault(a, Set.of()).contains(b);
    }
}
