package dev.kiln.tflite;

import dev.kiln.calib.CalibrationTable;
import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.graph.TensorType;

import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.Set;

/**
 * Which activations a full-INT8 TFLite export needs ranges for: in TFLite every float tensor between operators
 * becomes int8, so every float output of an operation and every float signature input. (Pass-through ops and SOFTMAX,
 * LOGISTIC, TANH then take their input's or TFLite's fixed parameters; their own ranges go unused.)
 */
public final class TfliteInt8Placement {
    private TfliteInt8Placement() {
    }

    /** The tensors to calibrate for {@code g} (an optimized graph, the one that is exported). */
    public static Set<TensorRef> tensors(Graph g) {
        Set<TensorRef> out = new LinkedHashSet<>();
        for (SignatureTensor s : g.inputs()) {
            if (s.type().dtype() == DType.FLOAT) {
                out.add(s.tensor());
            }
        }
        Set<String> inputNodes = new HashSet<>();
        g.inputs().forEach(s -> inputNodes.add(s.tensor().node()));
        for (Node n : g.nodes()) {
            if (n.op().equals("Const") || n.op().equals("NoOp") || inputNodes.contains(n.name())
                    || Lowerings.isIdentity(n.op()) || n.op().equals("Placeholder")) {
                continue;
            }
            if (n.outputTypes().isEmpty() && n.attr("T") instanceof dev.kiln.graph.AttrValue.Type t
                    && t.value() == DType.FLOAT) {
                out.add(TensorRef.of(n.name(), 0)); // a graph without shape inference: the op's type attribute
            }
            for (int i = 0; i < n.outputTypes().size(); i++) {
                TensorType t = n.outputType(i);
                if (t != null && t.dtype() == DType.FLOAT) {
                    out.add(TensorRef.of(n.name(), i));
                }
            }
        }
        return out;
    }

    /**
     * Checks that {@code table} fits {@code g}: every tensor of {@link #tensors} has a range and the table names no
     * tensor the graph lacks. One error lists everything.
     */
    public static void validate(CalibrationTable table, Graph g) {
        Set<String> needed = new HashSet<>();
        tensors(g).forEach(r -> needed.add(r.toString()));
        Set<String> has = new HashSet<>();
        for (Node n : g.nodes()) {
            for (int i = 0; i < Math.max(1, n.outputTypes().size()); i++) {
                has.add(TensorRef.of(n.name(), i).toString());
            }
        }
        table.validateAgainst(has, needed, null);
    }
}
