package dev.kiln.passes;

import dev.kiln.graph.AttrValue;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorRef;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/** Small graph surgery shared by the passes. */
final class GraphEdits {
    private GraphEdits() {
    }

    /** Names of the nodes that hold a signature input (never removed or replaced). */
    static Set<String> signatureInputNodes(Graph g) {
        Set<String> out = new HashSet<>();
        for (SignatureTensor s : g.inputs()) {
            out.add(s.tensor().node());
        }
        return out;
    }

    /** Names of the nodes whose outputs are signature outputs. */
    static Set<String> signatureOutputNodes(Graph g) {
        Set<String> out = new HashSet<>();
        for (SignatureTensor s : g.outputs()) {
            out.add(s.tensor().node());
        }
        return out;
    }

    /** A Const node holding {@code value}. */
    static Node constNode(String name, Tensor value, List<String> controlInputs) {
        Node.Builder b = Node.builder(name, "Const").attr("dtype", AttrValue.of(value.dtype()))
                .attr("value", AttrValue.of(value)).outputType(value.type());
        for (String c : controlInputs) {
            b.input("^" + c);
        }
        return b.build();
    }

    /** Whether any node reads any output of {@code name} (data or control), or a signature output is bound to it. */
    static boolean isUsed(Graph g, String name, Map<String, List<String>> consumers) {
        List<String> c = consumers.get(name);
        return (c != null && !c.isEmpty()) || signatureOutputNodes(g).contains(name);
    }

    /** The nodes that read output {@code ref} as data, with the number of such reads (a node may read twice). */
    static int dataUseCount(Graph g, TensorRef ref) {
        int n = 0;
        for (Node node : g.nodes()) {
            for (TensorRef in : node.dataInputs()) {
                if (in.equals(ref)) {
                    n++;
                }
            }
        }
        for (SignatureTensor s : g.outputs()) {
            if (s.tensor().equals(ref)) {
                n++;
            }
        }
        return n;
    }

    /** Whether any node reads any output of {@code node} other than output 0, or has a control edge on it. */
    static boolean onlyOutput0Used(Graph g, String node) {
        for (Node n : g.nodes()) {
            for (String in : n.inputs()) {
                TensorRef r = TensorRef.parse(in);
                if (r.node().equals(node) && (r.control() || r.index() != 0)) {
                    return false;
                }
            }
        }
        for (SignatureTensor s : g.outputs()) {
            if (s.tensor().node().equals(node) && s.tensor().index() != 0) {
                return false;
            }
        }
        return true;
    }

    /**
     * Removes node {@code name} whose data outputs are no longer read. Nodes with a control dependency on it get its
     * control inputs instead, plus (when {@code forwardDataAsControl}) control dependencies on the nodes of its data
     * inputs, so that ordering through a bypassed Identity is kept.
     */
    static void removeForwardingControl(Graph g, String name, boolean forwardDataAsControl) {
        Node gone = g.find(name);
        if (gone == null) {
            return;
        }
        List<String> forward = new ArrayList<>(gone.controlInputs());
        if (forwardDataAsControl) {
            for (TensorRef r : gone.dataInputs()) {
                forward.add(r.node());
            }
        }
        String ctl = "^" + name;
        for (Node n : new ArrayList<>(g.nodes())) {
            if (!n.inputs().contains(ctl)) {
                continue;
            }
            g.replace(n.withInputs(withControls(n, ctl, forward)));
        }
        g.remove(name);
    }

    /** {@code n}'s inputs without {@code drop} and with control inputs on {@code add} (deduplicated, not self). */
    private static List<String> withControls(Node n, String drop, List<String> add) {
        List<String> data = new ArrayList<>();
        Set<String> ctl = new LinkedHashSet<>();
        for (String in : n.inputs()) {
            if (in.equals(drop)) {
                continue;
            }
            if (in.startsWith("^")) {
                ctl.add(in);
            } else {
                data.add(in);
            }
        }
        for (String a : add) {
            if (!a.equals(n.name())) {
                ctl.add("^" + a);
            }
        }
        data.addAll(ctl);
        return data;
    }

    /**
     * Removes nodes that nothing reads and that are not signature inputs or outputs, when {@code removable} accepts
     * them (e.g. dead constants left behind by folding); repeats until none is left. Returns the removed names.
     */
    static List<String> removeDead(Graph g, java.util.function.Predicate<Node> removable) {
        List<String> removed = new ArrayList<>();
        Set<String> keep = new HashSet<>(signatureInputNodes(g));
        keep.addAll(signatureOutputNodes(g));
        boolean again = true;
        while (again) {
            again = false;
            Map<String, List<String>> consumers = g.consumers();
            for (Node n : new ArrayList<>(g.nodes())) {
                if (keep.contains(n.name()) || !removable.test(n)) {
                    continue;
                }
                List<String> c = consumers.get(n.name());
                if (c == null || c.isEmpty()) {
                    g.remove(n.name());
                    removed.add(n.name());
                    again = true;
                }
            }
        }
        return removed;
    }
}
