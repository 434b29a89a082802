package dev.kiln.onnx;

import dev.kiln.graph.Node;

/** Graph plumbing: constants and inputs (written elsewhere), and ops that only rename a tensor. */
final class GraphLowerings {
    private GraphLowerings() {
    }

    static void register(OnnxLowerings.Table t) {
        t.add("Placeholder", "graph input", 1, (e, n) -> { });
        t.add("Const", "initializer", 1, (e, n) -> { });
        t.add("NoOp", "(dropped)", 1, (e, n) -> { });
        for (String op : new String[] {"Identity", "Snapshot", "StopGradient", "PreventGradient", "CheckNumerics",
                "EnsureShape"}) {
            t.add(op, "(alias, no node)", 1, GraphLowerings::alias);
        }
        t.add("PlaceholderWithDefault", "(alias of its default when not a signature input)", 1,
                GraphLowerings::alias);
        t.add("IdentityN", "(alias of each input, no node)", 1, (e, n) -> {
            for (int i = 0; i < n.numDataInputs(); i++) {
                e.alias(n, i, n.input(i));
            }
        });
    }

    private static void alias(OnnxEmitter e, Node n) {
        e.alias(n, 0, n.input(0));
    }
}
