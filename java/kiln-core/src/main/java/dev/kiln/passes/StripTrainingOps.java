package dev.kiln.passes;

import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.graph.TensorType;

import dev.kiln.graph.SignatureTensor;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
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
 *       RandomUniform in [0,1) of x's shape) and tf.nn.dropout v2 with rate 0 ({@code x * 1 * cast(U >= 0)})
 *       become x; so do {@code RealDiv(x, 1)}, {@code Mul(x, 1)},
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
        Map<String, Node> gone = new LinkedHashMap<>();
        for (Node n : graph.nodes()) {
            if (sigInputs.contains(n.name())) {
                continue;
            }
            if ((BYPASS.contains(n.op()) && n.numDataInputs() >= 1) || n.op().equals("IdentityN")
                    || (DROP.contains(n.op()) && !sigOutputs.contains(n.name()))) {
                gone.put(n.name(), n);
            }
        }
        if (!gone.isEmpty()) {
            removeAll(graph, gone);
            for (Node n : gone.values()) {
                r.removed((DROP.contains(n.op()) ? "dropped " : "bypassed ") + n.op() + " '" + n.name() + "'");
            }
        }
        dropPointlessControlEdges(graph, r);
        simplifyDropout(graph, r);
        return r.finish(graph);
    }

    /**
     * Removes all of {@code gone} in one sweep (linear in the graph): readers of a bypassed node's output i read its
     * data input i (0 for single-output ops) instead, resolved through chains; control dependencies on a removed
     * node become its control inputs and, for bypassed nodes, the nodes of its resolved data inputs.
     */
    private static void removeAll(Graph graph, Map<String, Node> gone) {
        Map<String, Set<String>> forwarded = new HashMap<>();
        for (Node n : new ArrayList<>(graph.nodes())) {
            if (gone.containsKey(n.name())) {
                continue;
            }
            List<String> data = new ArrayList<>();
            Set<String> ctl = new LinkedHashSet<>();
            boolean changed = false;
            for (String in : n.inputs()) {
                if (in.startsWith("^")) {
                    String c = in.substring(1);
                    if (gone.containsKey(c)) {
                        ctl.addAll(forwardedControls(c, gone, forwarded));
                        changed = true;
                    } else {
                        ctl.add(c);
                    }
                } else {
                    TensorRef ref = TensorRef.parse(in);
                    TensorRef to = resolve(ref, gone);
                    changed |= !to.equals(ref);
                    data.add(to.equals(ref) ? in : to.toString());
                }
            }
            if (changed) {
                ctl.remove(n.name());
                for (String c : ctl) {
                    data.add("^" + c);
                }
                graph.replace(n.withInputs(data));
            }
        }
        List<SignatureTensor> outs = new ArrayList<>();
        for (SignatureTensor o : graph.outputs()) {
            outs.add(o.withTensor(resolve(o.tensor(), gone)));
        }
        graph.setOutputs(outs);
        for (String key : new ArrayList<>(graph.quantization().keySet())) {
            TensorRef ref = TensorRef.parse(key);
            if (gone.containsKey(ref.node())) {
                var q = graph.quantization().remove(key);
                graph.quantization().putIfAbsent(resolve(ref, gone).toString(), q);
            }
        }
        for (String name : gone.keySet()) {
            graph.remove(name);
        }
    }

    private static TensorRef resolve(TensorRef ref, Map<String, Node> gone) {
        TensorRef cur = ref;
        for (int guard = 0; guard <= gone.size(); guard++) {
            Node x = gone.get(cur.node());
            if (x == null || DROP.contains(x.op())) {
                return cur;
            }
            int i = x.op().equals("IdentityN") ? cur.index() : 0;
            cur = x.input(i);
        }
        return cur;
    }

    private static Set<String> forwardedControls(String name, Map<String, Node> gone, Map<String, Set<String>> memo) {
        Set<String> done = memo.get(name);
        if (done != null) {
            return done;
        }
        Node x = gone.get(name);
        Set<String> out = new LinkedHashSet<>();
        memo.put(name, out); // guards against cycles
        for (String c : x.controlInputs()) {
            if (gone.containsKey(c)) {
                out.addAll(forwardedControls(c, gone, memo));
            } else {
                out.add(c);
            }
        }
        if (!DROP.contains(x.op())) {
            for (TensorRef in : x.dataInputs()) {
                TensorRef to = resolve(in, gone);
                if (gone.containsKey(to.node())) {
                    out.addAll(forwardedControls(to.node(), gone, memo));
                } else {
                    out.add(to.node());
                }
            }
        }
        return out;
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
                    if (noiseShapeOf != null && hasShape(graph, a, noiseShapeOf)) {
                        graph.rewire(TensorRef.of(cur.name(), 0), a);
                        GraphEdits.removeForwardingControl(graph, cur.name(), true);
                        r.removed("removed dropout with keep probability 1 at '" + cur.name() + "'");
                        break;
                    }
                }
            }
        }
    }

    /**
     * For a dropout mask that is all ones: the tensor giving its shape (RandomUniform's input); otherwise null. Recognised: Floor(k + U) with k = 1
     * (TF1 tf.nn.dropout, keep_prob 1) and Cast(GreaterEqual(U, r)) with r ≤ 0 (tf.nn.dropout v2, rate 0), U a
     * RandomUniform in [0,1).
     */
    private static TensorRef keepOneDropoutShape(Graph graph, Node floor) {
        if (floor.op().equals("Cast") && floor.numDataInputs() == 1) {
            Node ge = graph.find(floor.input(0).node());
            if (ge != null && ge.op().equals("GreaterEqual") && ge.numDataInputs() == 2) {
                Tensor rate = graph.constantValue(ge.input(1));
                Node u = uniform01(graph, graph.find(ge.input(0).node()));
                if (rate != null && rate.numElements() == 1 && rate.asDoubles()[0] <= 0 && u != null) {
                    Node shape = graph.find(u.input(0).node());
                    if (shape != null) {
                        return TensorRef.of(shape.name(), 0);
                    }
                }
            }
            return null;
        }
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
                    return u.input(0);
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

    /**
     * Whether {@code a} has the shape given by {@code shapeRef}: Shape(t) with a = t, t / c or t * c (c a scalar
     * constant), or a constant equal to a's fully known shape.
     */
    private static boolean hasShape(Graph graph, TensorRef a, TensorRef shapeRef) {
        Node shape = graph.find(shapeRef.node());
        if (shape == null) {
            return false;
        }
        if (shape.op().equals("Shape") && shape.numDataInputs() == 1) {
            return sameShapeSource(graph, a, shape.input(0));
        }
        Tensor dims = graph.constantValue(shapeRef);
        TensorType at = graph.typeOf(a);
        return dims != null && at != null && at.shape().isFullyDefined()
                && java.util.Arrays.equals(dims.asLongs(), at.shape().dims());
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
