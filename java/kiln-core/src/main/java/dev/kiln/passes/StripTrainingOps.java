package dev.kiln.passes;

import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.graph.TensorType;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Removes nodes that do nothing at inference time.
 *
 * <ul>
 *   <li>Bypassed (consumers read the node's input instead; a signature output bound to one is rebound to its input):
 *       Identity, Snapshot, StopGradient, PreventGradient, CheckNumerics, IdentityN (output i → input i), and
 *       PlaceholderWithDefault that is not a signature input (it can no longer be fed, so it is its default).</li>
 *   <li>Dropped: NoOp and Assert. Nodes with a control dependency on a removed node get its control inputs (and,
 *       for bypassed nodes, a control dependency on the node of its input) instead.</li>
 *   <li>Control dependencies on Const and Placeholder nodes (which order nothing) are dropped.</li>
 *   <li>Dropout in inference form: TF1 {@code tf.nn.dropout} with keep_prob 1 ({@code x / 1 * floor(1 + U)}, U a
 *       RandomUniform in [0,1) of x's shape) becomes x; so do {@code RealDiv(x, 1)}, {@code Mul(x, 1)},
 *       {@code Add(x, 0)} and {@code Sub(x, 0)} with a scalar float constant.</li>
 * </ul>
 * Signature inputs are never removed.
 */
public final class StripTrainingOps implements GraphPass {
    static final Set<String> BYPASS = Set.of("Identity", "Snapshot", "StopGradient", "PreventGradient",
            "CheckNumerics", "PlaceholderWithDefault");
    static final Set<String> DROP = Set.of("NoOp", "Assert");

    @Override
    public String name() {
        return "strip-training-ops";
    }

    @Override
    public PassResult apply(Graph graph) {
        Report r = new Report(name(), graph);
        Set<String> sigInputs = GraphEdits.signatureInputNodes(graph);
        Set<String> sigOutputs = GraphEdits.signatureOutputNodes(graph);
        for (Node n : new ArrayList<>(graph.nodes())) {
            if (sigInputs.contains(n.name()) || graph.find(n.name()) == null) {
                continue;
            }
            Node cur = graph.node(n.name());
            if (BYPASS.contains(cur.op()) && cur.numDataInputs() >= 1) {
                graph.rewire(TensorRef.of(cur.name(), 0), cur.input(0));
                GraphEdits.removeForwardingControl(graph, cur.name(), true);
                r.removed("bypassed " + cur.op() + " '" + cur.name() + "'");
            } else if (cur.op().equals("IdentityN")) {
                List<TensorRef> ins = cur.dataInputs();
                for (int i = 0; i < ins.size(); i++) {
                    graph.rewire(TensorRef.of(cur.name(), i), ins.get(i));
                }
                GraphEdits.removeForwardingControl(graph, cur.name(), true);
                r.removed("bypassed IdentityN '" + cur.name() + "'");
            } else if (DROP.contains(cur.op()) && !sigOutputs.contains(cur.name())) {
                GraphEdits.removeForwardingControl(graph, cur.name(), false);
                r.removed("dropped " + cur.op() + " '" + cur.name() + "'");
            }
        }
        dropPointlessControlEdges(graph, r);
        simplifyDropout(graph, r);
        return r.finish(graph);
    }

    private static void dropPointlessControlEdges(Graph graph, Report r) {
        int dropped = 0;
        for (Node n : new ArrayList<>(graph.nodes())) {
            List<String> keep = new ArrayList<>();
            for (String in : n.inputs()) {
                if (in.startsWith("^")) {
                    Node src = graph.find(in.substring(1));
                    if (src != null && (src.op().equals("Const") || src.op().equals("Placeholder"))) {
                        dropped++;
                        continue;
                    }
                }
                keep.add(in);
            }
            if (keep.size() != n.inputs().size()) {
                graph.replace(n.withInputs(keep));
            }
        }
        if (dropped > 0) {
            r.note("dropped " + dropped + " control dependencies on Const/Placeholder nodes");
        }
    }

    private static void simplifyDropout(Graph graph, Report r) {
        for (Node n : new ArrayList<>(graph.nodes())) {
            Node cur = graph.find(n.name());
            if (cur == null || cur.numDataInputs() != 2) {
                continue;
            }
            String op = cur.op();
            boolean additive = op.equals("Add") || op.equals("AddV2") || op.equals("Sub");
            if (op.equals("RealDiv") || op.equals("Mul") || additive) {
                // x / 1, x * 1, 1 * x, x + 0, 0 + x, x - 0 with a scalar of a float type
                double neutral = additive ? 0.0 : 1.0;
                for (int side = 0; side < 2; side++) {
                    if ((op.equals("RealDiv") || op.equals("Sub")) && side == 0) {
                        continue;
                    }
                    Tensor c = graph.constantValue(cur.input(side));
                    TensorRef other = cur.input(1 - side);
                    if (c != null && c.dtype().isFloatingPoint() && c.shape().rank() == 0 && allEqual(c, neutral)
                            && sameType(graph, other, cur)) {
                        graph.rewire(TensorRef.of(cur.name(), 0), other);
                        GraphEdits.removeForwardingControl(graph, cur.name(), true);
                        r.removed("removed " + op + " by " + (int) neutral + " '" + cur.name() + "'");
                        break;
                    }
                }
                if (graph.find(cur.name()) == null || !op.equals("Mul")) {
                    continue;
                }
                // a * floor(1 + U) where U ~ U[0,1) has a's shape (or the shape of x in a = x / c)
                for (int side = 0; side < 2; side++) {
                    TensorRef a = cur.input(1 - side);
                    Node floor = graph.find(cur.input(side).node());
                    TensorRef noiseShapeOf = floor == null ? null : keepOneDropoutShape(graph, floor);
                    if (noiseShapeOf != null && sameShapeSource(graph, a, noiseShapeOf)) {
                        graph.rewire(TensorRef.of(cur.name(), 0), a);
                        GraphEdits.removeForwardingControl(graph, cur.name(), true);
                        r.removed("removed dropout with keep probability 1 at '" + cur.name() + "'");
                        break;
                    }
                }
            }
        }
    }

    /** For Floor(k + U) with k = 1 and U uniform in [0,1) of shape Shape(t): t; otherwise null. */
    private static TensorRef keepOneDropoutShape(Graph graph, Node floor) {
        if (!floor.op().equals("Floor") || floor.numDataInputs() != 1) {
            return null;
        }
        Node add = graph.find(floor.input(0).node());
        if (add == null || !(add.op().equals("Add") || add.op().equals("AddV2")) || add.numDataInputs() != 2) {
            return null;
        }
        for (int side = 0; side < 2; side++) {
            Tensor k = graph.constantValue(add.input(side));
            if (k != null && k.numElements() == 1 && k.dtype().isFloatingPoint() && allEqual(k, 1.0)) {
                Node u = uniform01(graph, graph.find(add.input(1 - side).node()));
                if (u != null) {
                    Node shape = graph.find(u.input(0).node());
                    if (shape != null && shape.op().equals("Shape")) {
                        return shape.input(0);
                    }
                }
            }
        }
        return null;
    }

    /** The RandomUniform behind U when U is RandomUniform or RandomUniform * 1 + 0; else null. */
    private static Node uniform01(Graph graph, Node u) {
        if (u == null) {
            return null;
        }
        if (u.op().equals("RandomUniform")) {
            return u;
        }
        if ((u.op().equals("Add") || u.op().equals("AddV2")) && u.numDataInputs() == 2) {
            for (int side = 0; side < 2; side++) {
                Tensor zero = graph.constantValue(u.input(side));
                Node mul = graph.find(u.input(1 - side).node());
                if (zero != null && zero.numElements() == 1 && allEqual(zero, 0.0) && mul != null
                        && mul.op().equals("Mul") && mul.numDataInputs() == 2) {
                    for (int s2 = 0; s2 < 2; s2++) {
                        Tensor one = graph.constantValue(mul.input(s2));
                        Node ru = graph.find(mul.input(1 - s2).node());
                        if (one != null && one.numElements() == 1 && allEqual(one, 1.0) && ru != null
                                && ru.op().equals("RandomUniform")) {
                            return ru;
                        }
                    }
                }
            }
        }
        return null;
    }

    /** Whether {@code a} has the shape of {@code t}: a is t, or a = t / c or t * c with c a scalar constant. */
    private static boolean sameShapeSource(Graph graph, TensorRef a, TensorRef t) {
        if (a.equals(t)) {
            return true;
        }
        Node an = graph.find(a.node());
        if (an != null && a.index() == 0 && (an.op().equals("RealDiv") || an.op().equals("Mul"))
                && an.numDataInputs() == 2 && an.input(0).equals(t)) {
            Tensor c = graph.constantValue(an.input(1));
            return c != null && c.shape().rank() == 0;
        }
        return false;
    }

    private static boolean sameType(Graph graph, TensorRef in, Node out) {
        TensorType a = graph.typeOf(in);
        TensorType b = out.outputType(0);
        return a == null || b == null || a.dtype() == b.dtype();
    }

    static boolean allEqual(Tensor t, double v) {
        if (!t.dtype().isFloatingPoint() && !t.dtype().isInteger()) {
            return false;
        }
        if (t.dtype() != dev.kiln.graph.DType.FLOAT && t.dtype() != dev.kiln.graph.DType.DOUBLE
                && !t.dtype().isInteger()) {
            return false;
        }
        for (double d : t.asDoubles()) {
            if (d != v) {
                return false;
            }
        }
        return true;
    }
}
