package dev.kiln.onnx;

import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.graph.TensorType;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What the pattern matchers of {@link OnnxFusions} read from the live graph: producers seen through identities,
 * constants, and who consumes what (so that a pattern only absorbs nodes nothing else reads).
 */
final class PatternView {
    private static final Set<String> IDENTITIES = Set.of("Identity", "StopGradient", "Snapshot", "PreventGradient");

    private final Graph g;
    /** Node name → names of the live nodes reading any of its outputs ("" for a signature output). */
    private final Map<String, Set<String>> consumers = new HashMap<>();

    PatternView(Graph g, List<Node> live) {
        this.g = g;
        for (Node n : live) {
            for (TensorRef r : n.dataInputs()) {
                consumers.computeIfAbsent(r.node(), k -> new HashSet<>()).add(n.name());
            }
        }
        for (SignatureTensor s : g.outputs()) {
            consumers.computeIfAbsent(s.tensor().node(), k -> new HashSet<>()).add("");
        }
    }

    Graph graph() {
        return g;
    }

    /** {@code r} with the identities in front of it skipped (their names added to {@code passed}). */
    TensorRef through(TensorRef r, Set<String> passed) {
        TensorRef t = r;
        for (Node n = g.find(t.node()); n != null && IDENTITIES.contains(n.op()) && t.index() == 0;
             n = g.find(t.node())) {
            passed.add(n.name());
            t = n.input(0);
        }
        return t;
    }

    /** The node producing output 0 {@code r} (through identities, added to {@code passed}) when its op is {@code op}. */
    Node producer(TensorRef r, String op, Set<String> passed) {
        Set<String> p = new HashSet<>();
        TensorRef t = through(r, p);
        Node n = g.find(t.node());
        if (n == null || t.index() != 0 || !n.op().equals(op)) {
            return null;
        }
        passed.addAll(p);
        return n;
    }

    /** The constant value of {@code r} (through identities), or null. */
    Tensor constant(TensorRef r) {
        return g.constantValue(through(r, new HashSet<>()));
    }

    /** The value of a one-element float constant, or null. */
    Double scalar(TensorRef r) {
        Tensor t = constant(r);
        if (t == null || t.numElements() != 1 || !isFloat(t.dtype())) {
            return null;
        }
        return t.asDoubles()[0];
    }

    /** Whether {@code r} is a one-element constant equal to {@code v} within float rounding. */
    boolean isScalar(TensorRef r, double v) {
        Double d = scalar(r);
        return d != null && Math.abs(d - v) <= 1e-6 * Math.max(1, Math.abs(v));
    }

    /** Two references to the same tensor, once identities are skipped. */
    boolean same(TensorRef a, TensorRef b) {
        return through(a, new HashSet<>()).equals(through(b, new HashSet<>()));
    }

    /** Whether every reader of every node in {@code members} other than {@code root} is itself in {@code members}. */
    boolean closed(Set<String> members, String root) {
        for (String m : members) {
            if (m.equals(root)) {
                continue;
            }
            for (String c : consumers.getOrDefault(m, Set.of())) {
                if (!members.contains(c)) {
                    return false;
                }
            }
        }
        return true;
    }

    /** The static type of {@code r} (through identities), or null. */
    TensorType typeOf(TensorRef r) {
        TensorType t = g.typeOf(r);
        return t != null && t.shape().hasRank() ? t : g.typeOf(through(r, new HashSet<>()));
    }

    /** Whether {@code n} computes in float32 or float16 (its T attribute, float32 when absent). */
    static boolean floatNode(Node n) {
        DType t = n.hasAttr("T") ? n.attrType("T") : DType.FLOAT;
        return t == DType.FLOAT || t == DType.HALF;
    }

    private static boolean isFloat(DType t) {
        return t == DType.FLOAT || t == DType.HALF || t == DType.DOUBLE;
    }

    /**
     * The factors of a tree of float Muls rooted at {@code root}: inner Muls read only by the tree are opened (and
     * added to {@code members}); at most {@code max} factors, else null.
     */
    List<TensorRef> factors(Node root, Set<String> members, int max) {
        List<TensorRef> out = new ArrayList<>();
        List<TensorRef> todo = new ArrayList<>(root.dataInputs());
        while (!todo.isEmpty()) {
            TensorRef r = todo.remove(0);
            Set<String> passed = new HashSet<>();
            Node m = producer(r, "Mul", passed);
            if (m != null && consumers.getOrDefault(m.name(), Set.of()).size() == 1 && passed.isEmpty()) {
                members.add(m.name());
                todo.addAll(m.dataInputs());
                continue;
            }
            out.add(r);
            if (out.size() > max) {
                return null;
            }
        }
        return out;
    }
}
