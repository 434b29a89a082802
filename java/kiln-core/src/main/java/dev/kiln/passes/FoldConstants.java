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
 * Constants that nothing reads any more are removed. Nodes with constant inputs that cannot be evaluated (unsupported
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
