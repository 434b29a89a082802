package dev.kiln.tensorflow;

import dev.kiln.graph.DType;
import dev.kiln.graph.Shape;
import dev.kiln.graph.TensorType;
import org.tensorflow.GraphOperation;
import org.tensorflow.proto.GraphDef;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * TensorFlow's own shape inference over a GraphDef (imported into a TF Java graph, large constants without their
 * values): every node's output shapes and dtype codes. Used where Kiln's inference ({@code dev.kiln.tensorflow.shapes})
 * cannot type a graph; this loads TensorFlow's native library. TensorFlow's refusal of the graph is thrown as it
 * comes ({@code IllegalArgumentException} or {@code TensorFlowException}), for the caller to say which graph it was.
 */
record TensorFlowInference(Map<String, List<Shape>> shapes, Map<String, List<Integer>> dtypeCodes) {

    static TensorFlowInference of(GraphDef gd) {
        Map<String, List<Shape>> shapes = new HashMap<>();
        Map<String, List<Integer>> dtypes = new HashMap<>();
        try (org.tensorflow.Graph tfg = new org.tensorflow.Graph()) {
            tfg.importGraphDef(GraphDefs.withoutLargeConstantValues(gd));
            Iterator<GraphOperation> it = tfg.operations();
            while (it.hasNext()) {
                GraphOperation op = it.next();
                List<Shape> s = new ArrayList<>();
                List<Integer> d = new ArrayList<>();
                for (int i = 0; i < op.numOutputs(); i++) {
                    s.add(TfTensors.fromTf(op.output(i).shape()));
                    d.add(op.output(i).dataType().getNumber());
                }
                shapes.put(op.name(), s);
                dtypes.put(op.name(), d);
            }
        }
        return new TensorFlowInference(shapes, dtypes);
    }

    /** The shape of output {@code index} of {@code node}. */
    Shape shape(String node, int index) {
        return shapes.get(node).get(index);
    }

    /** The output types of {@code node}; a dtype Kiln has no name for throws {@code IllegalArgumentException}. */
    List<TensorType> types(String node) {
        List<TensorType> out = new ArrayList<>();
        List<Shape> s = shapes.get(node);
        for (int i = 0; i < s.size(); i++) {
            out.add(new TensorType(DType.fromTfCode(dtypeCodes.get(node).get(i)), s.get(i)));
        }
        return out;
    }
}
