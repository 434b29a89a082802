package dev.kiln.onnx;

import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.TensorRef;

import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Multi-op TensorFlow patterns that ONNX has one op for, found before the emitter walks the graph: layer
 * normalization (LayerNormalization, opset 17) and GELU (Gelu, opset 20). Below those opsets, and for INT8 exports
 * (whose Q/DQ placement works op by op), the ops are lowered one by one as before. A pattern is fused only when
 * nothing outside it reads its inner values.
 */
final class OnnxFusions {
    /** A fused pattern: its last node, every node it replaces, the tensors it reads, and how it is lowered. */
    record Fusion(String root, Set<String> members, List<TensorRef> inputs, OnnxLowering lowering) { }

    static final int LAYER_NORM_OPSET = 17;
    static final int GELU_OPSET = 20;

    private OnnxFusions() {
    }

    /** The fusions among {@code live}, by root node name (no node in two of them). */
    static Map<String, Fusion> find(Graph g, List<Node> live, int opset, Precision precision) {
        if (precision == Precision.INT8 || precision == Precision.INT8_WEIGHTS_ONLY || opset < LAYER_NORM_OPSET) {
            return Map.of();
        }
        PatternView v = new PatternView(g, live);
        Map<String, Fusion> found = new HashMap<>();
        Set<String> taken = new HashSet<>();
        // outputs first (reverse topological order): a pattern is matched from its last node
        for (int i = live.size() - 1; i >= 0; i--) {
            Node n = live.get(i);
            if (taken.contains(n.name())) {
                continue;
            }
            Fusion f = LayerNormFusion.match(v, n);
            if (f == null && opset >= GELU_OPSET) {
                f = GeluFusion.match(v, n);
            }
            if (f != null && f.members().stream().noneMatch(taken::contains)) {
                found.put(f.root(), f);
                taken.addAll(f.members());
            }
        }
        return found;
    }
}
