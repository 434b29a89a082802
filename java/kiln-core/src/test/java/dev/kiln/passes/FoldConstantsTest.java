package dev.kiln.passes;

import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorType;
import org.junit.jupiter.api.Test;

import java.util.List;

import static dev.kiln.passes.TestGraphs.constant;
import static dev.kiln.passes.TestGraphs.op;
import static dev.kiln.passes.TestGraphs.placeholder;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FoldConstantsTest {

    @Test
    void kerasBatchNormArithmeticFoldsToTwoConstants() {
        Graph g = new Graph();
        placeholder(g, "x", 1, 2);
        constant(g, "gamma", Tensor.ofFloats(Shape.of(2), 2, 3));
        constant(g, "beta", Tensor.ofFloats(Shape.of(2), 0.5f, -1));
        constant(g, "mean", Tensor.ofFloats(Shape.of(2), 1, 2));
        constant(g, "var", Tensor.ofFloats(Shape.of(2), 4, 0.25f));
        constant(g, "eps", Tensor.scalar(0.001f));
        op(g, "add", "AddV2", "var", "eps");
        op(g, "rsqrt", "Rsqrt", "add");
        op(g, "scale", "Mul", "rsqrt", "gamma");
        op(g, "mul1", "Mul", "x", "scale");
        op(g, "mul2", "Mul", "mean", "scale");
        op(g, "shift", "Sub", "beta", "mul2");
        op(g, "y", "AddV2", "mul1", "shift");
        TestGraphs.signature(g, "x", "y");
        PassResult r = new FoldConstants().apply(g);
        assertEquals(List.of("x", "scale", "mul1", "shift", "y"), g.nodes().stream().map(Node::name).toList());
        assertEquals(5, r.folded());
        float[] scale = g.node("scale").attrTensor("value").floats();
        float s0 = (float) (2 / Math.sqrt(4.001f));
        float s1 = (float) (3 / Math.sqrt(0.25f + 0.001f));
        assertEquals(s0, scale[0], 1e-6f);
        assertEquals(s1, scale[1], 1e-6f);
        float[] shift = g.node("shift").attrTensor("value").floats();
        assertEquals(0.5f - 1 * s0, shift[0], 1e-6f);
        assertEquals(-1 - 2 * s1, shift[1], 1e-5f);
        assertEquals(new TensorType(DType.FLOAT, Shape.of(2)), g.node("shift").outputType(0));
    }

    @Test
    void shapeOfANonConstantWithKnownShapeFolds() {
        Graph g = new Graph();
        placeholder(g, "x", 2, 3);
        g.add(Node.builder("shape", "Shape").input("x").attr("out_type", DType.INT32).build());
        constant(g, "minus1", Tensor.ofInts(Shape.of(1), -1));
        g.add(Node.builder("flat", "ConcatV2").input("minus1").input("shape").input("axis").build());
        constant(g, "axis", Tensor.scalar(0));
        op(g, "r", "Reshape", "x", "flat");
        TestGraphs.signature(g, "x", "r");
        new FoldConstants().apply(g);
        assertEquals("Const", g.node("flat").op());
        assertArrayEquals(new int[] {-1, 2, 3}, g.node("flat").attrTensor("value").ints());
        assertFalse(g.contains("shape"));
        assertFalse(g.contains("axis"));
    }

    @Test
    void shapeOfUnknownBatchIsLeftAlone() {
        Graph g = new Graph();
        placeholder(g, "x", -1, 3);
        g.add(Node.builder("shape", "Shape").input("x").attr("out_type", DType.INT32).build());
        TestGraphs.signature(g, "x", "shape");
        PassResult r = new FoldConstants().apply(g);
        assertEquals("Shape", g.node("shape").op());
        assertFalse(r.changed());
    }

    @Test
    void randomAndUnknownOpsAreReportedNotFolded() {
        Graph g = new Graph();
        placeholder(g, "x", 2);
        constant(g, "shape", Tensor.ofInts(Shape.of(1), 2));
        g.add(Node.builder("ru", "RandomUniform").input("shape").attr("dtype", DType.FLOAT).build());
        constant(g, "a", Tensor.ofFloats(Shape.of(2), 1, 2));
        op(g, "weird", "Erf", "a");
        op(g, "y", "Add", "x", "ru");
        op(g, "z", "Add", "y", "weird");
        TestGraphs.signature(g, "x", "z");
        PassResult r = new FoldConstants().apply(g);
        assertEquals("RandomUniform", g.node("ru").op());
        assertEquals("Erf", g.node("weird").op());
        assertTrue(r.notes().stream().anyMatch(n -> n.contains("Erf")), r.notes().toString());
    }

    @Test
    void foldedNodeKeepsSignatureOutputAndControlInputs() {
        Graph g = new Graph();
        placeholder(g, "x", 1);
        g.add(Node.builder("init", "AssignVariableOp").build());
        constant(g, "a", Tensor.scalar(2f));
        constant(g, "b", Tensor.scalar(3f));
        op(g, "y", "Mul", "a", "b", "^init");
        TestGraphs.signature(g, "x", "y");
        new FoldConstants().apply(g);
        Node y = g.node("y");
        assertEquals("Const", y.op());
        assertEquals(6f, y.attrTensor("value").floats()[0]);
        assertEquals(List.of("^init"), y.inputs());
    }
}
