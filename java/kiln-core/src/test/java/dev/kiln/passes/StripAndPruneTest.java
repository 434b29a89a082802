package dev.kiln.passes;

import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.Shape;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.graph.TensorType;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static dev.kiln.passes.TestGraphs.constant;
import static dev.kiln.passes.TestGraphs.op;
import static dev.kiln.passes.TestGraphs.placeholder;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class StripAndPruneTest {

    @Test
    void pruneKeepsOnlyWhatOutputsNeedAndTheSignatureInputs() {
        Graph g = new Graph();
        placeholder(g, "x", 2);
        placeholder(g, "unused", 2);
        constant(g, "c", Tensor.ofFloats(Shape.of(2), 1, 2));
        op(g, "y", "Add", "x", "c");
        op(g, "saver", "NoOp", "^c");
        g.add(Node.builder("ctl", "NoOp").build());
        op(g, "z", "Mul", "y", "y", "^ctl");
        op(g, "train", "Sub", "z", "c");
        g.addInput(new SignatureTensor("x", TensorRef.of("x", 0), TensorType.of(DType.FLOAT, 2)));
        g.addInput(new SignatureTensor("unused", TensorRef.of("unused", 0), TensorType.of(DType.FLOAT, 2)));
        g.addOutput(new SignatureTensor("out", TensorRef.of("z", 0), TensorType.of(DType.FLOAT, 2)));
        PassResult r = new PruneToOutputs().apply(g);
        assertEquals(List.of("x", "unused", "c", "y", "ctl", "z"), g.nodes().stream().map(Node::name).toList());
        assertEquals(2, r.removed());
        assertEquals(8, r.nodesBefore());
        assertEquals(6, r.nodesAfter());
    }

    @Test
    void identitiesAreBypassedAndOutputRebound() {
        Graph g = new Graph();
        placeholder(g, "x", 2);
        op(g, "id1", "Identity", "x");
        op(g, "sg", "StopGradient", "id1");
        op(g, "relu", "Relu", "sg");
        op(g, "check", "CheckNumerics", "relu");
        op(g, "out", "Identity", "check");
        TestGraphs.signature(g, "x", "out");
        PassResult r = new StripTrainingOps().apply(g);
        assertEquals(List.of("x", "relu"), g.nodes().stream().map(Node::name).toList());
        assertEquals("x", g.node("relu").inputs().get(0));
        assertEquals(TensorRef.of("relu", 0), g.outputs().get(0).tensor());
        assertEquals(4, r.removed());
    }

    @Test
    void identityNIsBypassedPerOutput() {
        Graph g = new Graph();
        placeholder(g, "a", 2);
        placeholder(g, "b", 2);
        op(g, "idn", "IdentityN", "a", "b");
        op(g, "sub", "Sub", "idn:1", "idn");
        TestGraphs.signature(g, "a", "sub");
        new StripTrainingOps().apply(g);
        assertEquals(List.of("b", "a"), g.node("sub").inputs());
        assertFalse(g.contains("idn"));
    }

    @Test
    void controlDependenciesMoveToConsumers() {
        Graph g = new Graph();
        placeholder(g, "x", 2);
        g.add(Node.builder("stateful", "AssignVariableOp").build());
        g.add(Node.builder("deps", "NoOp").input("^stateful").build());
        op(g, "assert", "Assert", "x", "^deps");
        op(g, "id", "Identity", "x", "^assert");
        op(g, "y", "Relu", "x", "^id");
        TestGraphs.signature(g, "x", "y");
        new StripTrainingOps().apply(g);
        assertFalse(g.contains("deps"));
        assertFalse(g.contains("assert"));
        assertFalse(g.contains("id"));
        // the Identity's ordering moves to its input (a Placeholder, dropped) and the dependencies of the NoOp
        assertEquals(List.of("x", "^stateful"), g.node("y").inputs());
    }

    @Test
    void signatureInputsAreNeverRemoved() {
        Graph g = new Graph();
        g.add(Node.builder("x", "PlaceholderWithDefault").input("d").outputType(TensorType.of(DType.FLOAT, 1))
                .build());
        constant(g, "d", Tensor.ofFloats(Shape.of(1), 3));
        op(g, "y", "Identity", "x");
        TestGraphs.signature(g, "x", "y");
        new StripTrainingOps().apply(g);
        assertTrue(g.contains("x"));
        assertEquals(TensorRef.of("x", 0), g.outputs().get(0).tensor());
    }

    @Test
    void tf1DropoutWithKeepProbOneDisappears() {
        // x / keep_prob * floor(keep_prob + (RandomUniform(shape(x)) * (1 - 0) + 0)), keep_prob defaulting to 1
        Graph g = new Graph();
        placeholder(g, "x", 4, 3);
        constant(g, "one", Tensor.scalar(1f));
        g.add(Node.builder("keep_prob", "PlaceholderWithDefault").input("one").build());
        op(g, "shape", "Shape", "x");
        g.add(Node.builder("ru", "RandomUniform").input("shape").attr("dtype", DType.FLOAT).build());
        constant(g, "max", Tensor.scalar(1f));
        constant(g, "min", Tensor.scalar(0f));
        op(g, "range", "Sub", "max", "min");
        op(g, "scaled", "Mul", "ru", "range");
        op(g, "uniform", "Add", "scaled", "min");
        op(g, "rt", "Add", "keep_prob", "uniform");
        op(g, "floor", "Floor", "rt");
        op(g, "div", "RealDiv", "x", "keep_prob");
        op(g, "mul", "Mul", "div", "floor");
        op(g, "y", "Relu", "mul");
        TestGraphs.signature(g, "x", "y");
        List<PassResult> r = Passes.optimizeForInference().run(g);
        assertEquals(List.of("x", "y"), g.nodes().stream().map(Node::name).toList(), r.toString());
        assertEquals("x", g.node("y").inputs().get(0));
    }

    @Test
    void stripKeepsValuesTheSame() {
        Graph g = new Graph();
        placeholder(g, "x", 3);
        constant(g, "c", Tensor.ofFloats(Shape.of(3), 1, 2, 3));
        op(g, "snap", "Snapshot", "c");
        op(g, "y", "Mul", "x", "snap");
        op(g, "out", "Identity", "y");
        TestGraphs.signature(g, "x", "out");
        Map<String, Tensor> feed = Map.of("x", Tensor.ofFloats(Shape.of(3), 2, 3, 4));
        float[] before = TestGraphs.run(g, feed).get(0).floats();
        new StripTrainingOps().apply(g);
        assertArrayEquals(before, TestGraphs.run(g, feed).get(0).floats());
        assertNotNull(g.find("y"));
    }

    @Test
    void kerasLearningPhaseCondIsResolvedToTheInferenceBranch() {
        Graph g = new Graph();
        placeholder(g, "x", 2);
        constant(g, "false", Tensor.ofBytes(DType.BOOL, Shape.scalar(), (byte) 0));
        g.add(Node.builder("keras_learning_phase", "PlaceholderWithDefault").input("false").build());
        op(g, "cond/Switch", "Switch", "keras_learning_phase", "keras_learning_phase");
        op(g, "cond/switch_t", "Identity", "cond/Switch:1");
        op(g, "cond/Switch_1", "Switch", "x", "keras_learning_phase");
        g.add(GraphEdits.constNode("cond/mul/y", Tensor.scalar(0.5f), List.of("cond/switch_t")));
        op(g, "cond/mul", "Mul", "cond/Switch_1:1", "cond/mul/y");
        op(g, "cond/Identity", "Identity", "cond/Switch_1");
        op(g, "cond/Merge", "Merge", "cond/Identity", "cond/mul");
        op(g, "y", "Relu", "cond/Merge");
        TestGraphs.signature(g, "x", "y");
        List<PassResult> r = Passes.optimizeForInference().run(g);
        assertEquals(List.of("x", "y"), g.nodes().stream().map(Node::name).toList(), r.toString());
        assertEquals("x", g.node("y").inputs().get(0));
    }

    @Test
    void trueLearningPhaseKeepsTheTrainingBranch() {
        Graph g = new Graph();
        placeholder(g, "x", 2);
        constant(g, "true", Tensor.ofBytes(DType.BOOL, Shape.scalar(), (byte) 1));
        op(g, "sw", "Switch", "x", "true");
        constant(g, "half", Tensor.scalar(0.5f));
        op(g, "mul", "Mul", "sw:1", "half");
        op(g, "id", "Identity", "sw");
        op(g, "merge", "Merge", "id", "mul");
        op(g, "y", "Relu", "merge");
        TestGraphs.signature(g, "x", "y");
        new FoldConstants().apply(g);
        assertEquals("mul", g.node("y").inputs().get(0));
        assertEquals("x", g.node("mul").inputs().get(0));
        assertFalse(g.contains("sw"));
        assertFalse(g.contains("id"));
    }
}
