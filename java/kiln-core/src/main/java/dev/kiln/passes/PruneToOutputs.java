package dev.kiln.passes;

import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.TensorRef;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashSet;
import java.util.Set;

/**
 * Keeps only what the signature outputs need: every node reachable backwards from an output through data and control
 * inputs, plus the nodes of the signature inputs (kept even when unused, since they are part of the signature).
 * Everything else (savers, initializers, training ops, other signatures' nodes) is removed, with its quantization and
 * sparsity annotations.
 */
public final class PruneToOutputs implements GraphPass {

    @Override
    public String name() {
        return "prune-to-outputs";
    }

    @Override
    public PassResult apply(Graph graph) {
        Report r = new Report(name(), graph);
        Set<String> live = new HashSet<>();
        Deque<String> work = new ArrayDeque<>();
        for (SignatureTensor o : graph.outputs()) {
            work.add(o.tensor().node());
        }
        for (SignatureTensor i : graph.inputs()) {
            work.add(i.tensor().node());
        }
        while (!work.isEmpty()) {
            String name = work.poll();
            if (!live.add(name)) {
                continue;
            }
            Node n = graph.find(name);
            if (n == null) {
                continue;
            }
            for (String in : n.inputs()) {
                work.add(TensorRef.parse(in).node());
            }
        }
        for (Node n : new ArrayList<>(graph.nodes())) {
            if (!live.contains(n.name())) {
                graph.remove(n.name());
                r.removed++;
            }
        }
        // annotations of removed nodes go with them
        graph.sparsity().keySet().removeIf(name -> !graph.contains(name));
        graph.quantization().keySet().removeIf(ref -> !graph.contains(TensorRef.parse(ref).node()));
        if (r.removed > 0) {
            r.note("removed " + r.removed + " nodes not needed by the outputs "
                    + graph.outputs().stream().map(SignatureTensor::name).toList());
        }
        return r.finish(graph);
    }
}
