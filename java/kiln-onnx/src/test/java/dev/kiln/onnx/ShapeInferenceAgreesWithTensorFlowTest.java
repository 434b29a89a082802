package dev.kiln.onnx;

import dev.kiln.graph.DType;
import dev.kiln.graph.TensorType;
import dev.kiln.tensorflow.TfTensors;
import dev.kiln.tensorflow.shapes.TfShapeInference;
import org.junit.jupiter.api.Test;
import org.tensorflow.GraphOperation;
import org.tensorflow.Output;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Kiln's shape rules node by node against TensorFlow's shape inference, on every op-coverage graph (about 190 ops,
 * built with TF Java): each node Kiln has a rule for must get exactly TensorFlow's output dtypes and shapes, and every
 * rule must be checked so on at least one node.
 */
class ShapeInferenceAgreesWithTensorFlowTest {
    /** Ops with a rule that no op-coverage graph holds, and the test that checks them instead. */
    static final Map<String, String> CHECKED_ELSEWHERE = Map.of(
            "RandomUniform", "TfShapeInferenceTest (the dropout of mlnet_mnist_conv_model)",
            "NoOp", "TfShapeInferenceTest (no outputs: every shared TF1 model has one)");

    /**
     * The ops of the op-coverage graphs without a rule, or with a node that their rule gives up on (a Range over
     * floats, whose values Kiln does not evaluate): such a graph is typed by TensorFlow.
     */
    static final Set<String> LEFT_TO_TENSORFLOW = new TreeSet<>(Set.of("Range"));

    @Test
    void everyRuleAgreesWithTensorFlowOnTheOpCoverageGraphs() {
        List<String> differ = new ArrayList<>();
        Map<String, Integer> checked = new TreeMap<>();
        Map<String, String> gaveUp = new LinkedHashMap<>();
        for (OnnxOpCases.Case c : OnnxOpCases.all()) {
            try (TfOpGraph t = new TfOpGraph(c.name().hashCode())) {
                c.build().accept(t);
                Map<String, List<TensorType>> reference = tensorFlowTypes(t.g);
                Map<String, String> skipped = new HashMap<>();
                Map<String, List<TensorType>> kiln = TfShapeInference.inferEachNode(t.g.toGraphDef(), reference,
                        skipped);
                kiln.forEach((node, types) -> {
                    String op = t.g.operation(node).type();
                    if (types.equals(reference.get(node))) {
                        checked.merge(op, 1, Integer::sum);
                    } else {
                        differ.add(c.name() + ": " + node + " (" + op + "): TensorFlow " + reference.get(node)
                                + ", Kiln " + types);
                    }
                });
                skipped.forEach((node, why) -> gaveUp.putIfAbsent(t.g.operation(node).type(), why));
            }
        }
        assertEquals(List.of(), differ, "Kiln's shape rules that disagree with TensorFlow");
        Set<String> unchecked = new TreeSet<>(TfShapeInference.ops());
        unchecked.removeAll(checked.keySet());
        unchecked.removeAll(CHECKED_ELSEWHERE.keySet());
        assertEquals(Set.of(), unchecked, "ops with a shape rule that no graph checks against TensorFlow (ops given "
                + "up on: " + gaveUp + ")");
        assertEquals(LEFT_TO_TENSORFLOW, new TreeSet<>(gaveUp.keySet()), "the ops of the op-coverage graphs that Kiln "
                + "leaves to TensorFlow's inference: " + gaveUp);
    }

    /** Every node's output types as TensorFlow inferred them while the graph was built. */
    static Map<String, List<TensorType>> tensorFlowTypes(org.tensorflow.Graph g) {
        Map<String, List<TensorType>> out = new HashMap<>();
        Iterator<GraphOperation> it = g.operations();
        while (it.hasNext()) {
            GraphOperation op = it.next();
            List<TensorType> types = new ArrayList<>();
            for (int i = 0; i < op.numOutputs(); i++) {
                Output<?> o = op.output(i);
                types.add(new TensorType(DType.fromTfCode(o.dataType().getNumber()), TfTensors.fromTf(o.shape())));
            }
            out.put(op.name(), types);
        }
        return out;
    }
}
