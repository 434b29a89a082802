package dev.kiln.passes;

import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.graph.TensorType;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Replaces every node whose data inputs are all {@code Const} by a {@code Const} of its value, computed by
 * {@link ConstantEvaluator}; Shape, Size and Rank are folded whenever their input's shape is known, constant or not.
 * The folded node keeps its name (so consumers and signature outputs are unchanged) and its own control inputs.
 * Constants that nothing reads any more are removed. TF1 {@code Switch} on a constant predicate is resolved: the
 * dead branch is removed and a {@code Merge} left with one live input is replaced by it. Nodes with constant inputs that cannot be evaluated (unsupported
 * op or type, random and stateful ops) are left alone and listed in the notes.
 */
public final class FoldConstants implements GraphPass {
    /** Results larger than this many elements are not materialised. */
    public static final long MAX_ELEMENTS = 1L << 24;

    private static final Set<String> NEVER = Set.of("Placeholder", "PlaceholderWithDefault", "RandomUniform",
            "RandomStandardNormal", "TruncatedNormal", "RandomUniformInt", "Multinomial", "VarHandleOp",
            "ReadVariableOp", "VariableV2", "Variable", "Assign", "AssignVariableOp", "NoOp", "Const", "Enter",
            "Switch", "Merge");

    @Override
    public String name() {
        return "fold-constants";
    }

    @Override
    public PassResult apply(Graph graph) {
        Report r = new Report(name(), graph);
        Set<String> sigInputs = GraphEdits.signatureInputNodes(graph);
        foldConstantSwitches(graph, r);
        Map<String, Integer> cannot = new TreeMap<>();
        for (Node n : graph.topologicalOrder()) {
            if (sigInputs.contains(n.name()) || NEVER.contains(n.op())) {
                continue;
            }
            Node cur = graph.node(n.name());
            Tensor value;
            try {
                value = evaluate(graph, cur);
            } catch (RuntimeException e) {
                r.note("cannot fold " + cur.op() + " '" + cur.name() + "': " + e.getMessage());
                continue;
            }
            if (value == null) {
                if (!ConstantEvaluator.isShapeOp(cur.op()) && cur.numDataInputs() > 0 && allConst(graph, cur)) {
                    cannot.merge(cur.op(), 1, Integer::sum);
                }
                continue;
            }
            TensorType declared = cur.outputType(0);
            if (declared != null && declared.dtype() != value.dtype()) {
                r.note("cannot fold " + cur.op() + " '" + cur.name() + "': computed " + value.dtype()
                        + " but the node produces " + declared.dtype());
                continue;
            }
            graph.replace(GraphEdits.constNode(cur.name(), value, cur.controlInputs()));
            r.folded("folded " + cur.op() + " '" + cur.name() + "' → Const " + value.type());
        }
        for (Map.Entry<String, Integer> e : cannot.entrySet()) {
            r.note("left " + e.getValue() + " " + e.getKey() + " node(s) with constant inputs unfolded (not evaluable)");
        }
        List<String> dead = GraphEdits.removeDead(graph, x -> x.op().equals("Const"));
        r.removed += dead.size();
        if (!dead.isEmpty()) {
            r.note("removed " + dead.size() + " constants no longer read");
        }
        return r.finish(graph);
    }

    /**
     * TF1 control flow with a constant predicate (e.g. Keras' learning phase, a PlaceholderWithDefault(false) that the
     * strip pass turned into its default): {@code Switch(data, pred)} forwards data on its live output; everything
     * fed by the dead output (through data or control edges) is removed; a {@code Merge} left with one live input
     * becomes that input (its value_index output a constant).
     */
    private static void foldConstantSwitches(Graph graph, Report r) {
        Set<String> sigOutputs = GraphEdits.signatureOutputNodes(graph);
        for (Node sw : new ArrayList<>(graph.nodes())) {
            if (!sw.op().equals("Switch") || graph.find(sw.name()) == null || sw.numDataInputs() != 2) {
                continue;
            }
            Tensor pred = graph.constantValue(sw.input(1));
            if (pred == null || pred.numElements() != 1 || pred.dtype().byteSize() != 1) {
                continue;
            }
            int live = pred.asLongs()[0] != 0 ? 1 : 0;
            // deadness: nodes that read the dead output, transitively (Merge is dead only when all inputs are)
            Set<String> dead = new java.util.LinkedHashSet<>();
            java.util.function.Predicate<String> deadRef = in -> {
                TensorRef t = TensorRef.parse(in);
                return t.node().equals(sw.name()) ? !t.control() && t.index() != live : dead.contains(t.node());
            };
            boolean grew = true;
            while (grew) {
                grew = false;
                for (Node n : graph.nodes()) {
                    if (dead.contains(n.name()) || n.name().equals(sw.name())) {
                        continue;
                    }
                    boolean isDead;
                    if (n.op().equals("Merge")) {
                        isDead = !n.dataInputs().isEmpty()
                                && n.inputs().stream().filter(i -> !i.startsWith("^")).allMatch(deadRef);
                    } else {
                        isDead = n.inputs().stream().anyMatch(deadRef);
                    }
                    if (isDead) {
                        dead.add(n.name());
                        grew = true;
                    }
                }
            }
            if (dead.stream().anyMatch(sigOutputs::contains)) {
                r.note("not folding Switch '" + sw.name() + "': a signature output is on its dead branch");
                continue;
            }
            graph.rewire(TensorRef.of(sw.name(), live), sw.input(0));
            for (String d : dead) {
                graph.remove(d);
            }
            // drop control edges onto removed nodes (none should remain live) and resolve Merges
            for (Node n : new ArrayList<>(graph.nodes())) {
                if (!n.op().equals("Merge")) {
                    continue;
                }
                List<TensorRef> ins = n.dataInputs();
                int liveIdx = -1;
                int liveCount = 0;
                for (int i = 0; i < ins.size(); i++) {
                    TensorRef in = ins.get(i);
                    if (graph.contains(in.node()) && !(in.node().equals(sw.name()) && in.index() != live)) {
                        liveCount++;
                        liveIdx = i;
                    }
                }
                if (liveCount == 1 && liveIdx >= 0 && liveCount < ins.size()) {
                    graph.rewire(TensorRef.of(n.name(), 0), ins.get(liveIdx));
                    String idxName = graph.uniqueName(n.name() + "/kiln_value_index");
                    graph.add(GraphEdits.constNode(idxName, Tensor.scalar(liveIdx), List.of()));
                    graph.rewire(TensorRef.of(n.name(), 1), TensorRef.of(idxName, 0));
                    GraphEdits.removeForwardingControl(graph, n.name(), false);
                    r.removed("resolved Merge '" + n.name() + "' to input " + liveIdx);
                }
            }
            for (Node n : new ArrayList<>(graph.nodes())) {
                List<String> keep = n.inputs().stream()
                        .filter(i -> !i.startsWith("^") || graph.contains(i.substring(1))).toList();
                if (keep.size() != n.inputs().size()) {
                    graph.replace(n.withInputs(keep));
                }
            }
            boolean switchUsed = graph.nodes().stream().anyMatch(n -> n.inputs().stream()
                    .anyMatch(i -> TensorRef.parse(i).node().equals(sw.name())));
            if (!switchUsed && !sigOutputs.contains(sw.name())) {
                graph.remove(sw.name());
            }
            r.removed += dead.size() + (switchUsed ? 0 : 1);
            r.folded("folded Switch '" + sw.name() + "' on a constant predicate (" + (live == 1) + "): removed "
                    + dead.size() + " nodes of the dead branch");
        }
    }

    private static boolean allConst(Graph g, Node n) {
        for (TensorRef in : n.dataInputs()) {
            if (g.constantValue(in) == null) {
                return false;
            }
        }
        return true;
    }

    /** The constant value of {@code n}, or null when it cannot be folded. */
    static Tensor evaluate(Graph graph, Node n) {
        if (ConstantEvaluator.isShapeOp(n.op())) {
            if (n.numDataInputs() != 1) {
                return null;
            }
            Tensor c = graph.constantValue(n.input(0));
            TensorType t = c != null ? c.type() : graph.typeOf(n.input(0));
            return t == null ? null : check(ConstantEvaluator.evaluateShapeOp(n, t.shape()));
        }
        if (!ConstantEvaluator.supports(n.op()) || n.numDataInputs() == 0) {
            return null;
        }
        List<Tensor> ins = new ArrayList<>();
        for (TensorRef in : n.dataInputs()) {
            Tensor c = graph.constantValue(in);
            if (c == null) {
                return null;
            }
            ins.add(c);
        }
        return check(ConstantEvaluator.evaluate(n, ins));
    }

    private static Tensor check(Tensor t) {
        if (t != null && t.numElements() > MAX_ELEMENTS) {
            throw new IllegalArgumentException("result of " + t.numElements() + " elements is larger than "
                    + MAX_ELEMENTS);
        }
        return t;
    }
}
