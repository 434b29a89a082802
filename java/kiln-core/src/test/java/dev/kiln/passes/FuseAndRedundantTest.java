package dev.kiln.passes;

import dev.kiln.graph.AttrValue;
import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.graph.TensorType;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Random;

import static dev.kiln.passes.TestGraphs.constant;
import static dev.kiln.passes.TestGraphs.op;
import static dev.kiln.passes.TestGraphs.placeholder;
import static dev.kiln.passes.TestGraphs.random;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FuseAndRedundantTest {
    private final Random rnd = new Random(7);

    @Test
    void convBiasReluChainIsMarkedForExporters() {
        Graph g = new Graph();
        placeholder(g, "x", 1, 4, 4, 2);
        constant(g, "w", random(rnd, 1, 1, 2, 3));
        g.add(Node.builder("conv", "Conv2D").input("x").input("w").attr("T", DType.FLOAT).build());
        constant(g, "b", random(rnd, 3));
        op(g, "add", "AddV2", "conv", "b");
        op(g, "act", "Relu6", "add");
        TestGraphs.signature(g, "x", "act");
        Graph original = g.copy();
        PassResult r = new FuseBiasActivation().apply(g);
        assertEquals(1, r.fused());
        Node conv = g.node("conv");
        assertEquals("add", conv.attrString(FuseBiasActivation.FUSED_BIAS));
        assertEquals("Relu6", conv.attrString(FuseBiasActivation.FUSED_ACTIVATION));
        assertEquals("BiasAdd", g.node("add").op());
        assertEquals("conv", g.node("add").attrString(FuseBiasActivation.FUSED_INTO));
        assertEquals("conv", g.node("act").attrString(FuseBiasActivation.FUSED_INTO));
        Map<String, Tensor> feed = Map.of("x", random(rnd, 1, 4, 4, 2));
        assertArrayEquals(TestGraphs.run(original, feed).get(0).floats(), TestGraphs.run(g, feed).get(0).floats());
    }

    @Test
    void chainWithASharedBiasOutputIsMarkedOnlyUpToTheBias() {
        Graph g = new Graph();
        placeholder(g, "x", 2, 3);
        constant(g, "w", random(rnd, 3, 4));
        g.add(Node.builder("mm", "MatMul").input("x").input("w").attr("T", DType.FLOAT).build());
        constant(g, "b", random(rnd, 4));
        op(g, "bias", "BiasAdd", "mm", "b");
        op(g, "relu", "Relu", "bias");
        op(g, "y", "Add", "relu", "bias");
        TestGraphs.signature(g, "x", "y");
        new FuseBiasActivation().apply(g);
        assertEquals("bias", g.node("mm").attrString(FuseBiasActivation.FUSED_BIAS));
        assertFalse(g.node("mm").hasAttr(FuseBiasActivation.FUSED_ACTIVATION));
    }

    @Test
    void reshapeChainsCollapse() {
        Graph g = new Graph();
        placeholder(g, "x", -1, 28, 28);
        constant(g, "s1", Tensor.ofInts(Shape.of(2), -1, 784));
        constant(g, "s2", Tensor.ofInts(Shape.of(3), -1, 28, 28));
        op(g, "r1", "Reshape", "x", "s1");
        g.add(Node.builder("r2", "Reshape").input("r1").input("s2").attr("T", DType.FLOAT)
                .outputType(TensorType.of(DType.FLOAT, -1, 28, 28)).build());
        op(g, "y", "Relu", "r2");
        TestGraphs.signature(g, "x", "y");
        PassResult r = new RemoveRedundantReshapeTranspose().apply(g);
        assertEquals(List.of("x", "y"), g.nodes().stream().map(Node::name).toList(), r.notes().toString());
        assertEquals("x", g.node("y").inputs().get(0));
    }

    @Test
    void reshapeToADifferentShapeStays() {
        Graph g = new Graph();
        placeholder(g, "x", -1, 28, 28);
        constant(g, "s", Tensor.ofInts(Shape.of(2), -1, 784));
        op(g, "r", "Reshape", "x", "s");
        TestGraphs.signature(g, "x", "r");
        assertFalse(new RemoveRedundantReshapeTranspose().apply(g).changed());
    }

    @Test
    void inverseTransposesCancelAndOthersCompose() {
        Graph g = new Graph();
        placeholder(g, "x", 1, 2, 3, 4);
        constant(g, "toNchw", Tensor.ofInts(Shape.of(4), 0, 3, 1, 2));
        constant(g, "toNhwc", Tensor.ofInts(Shape.of(4), 0, 2, 3, 1));
        constant(g, "swap", Tensor.ofInts(Shape.of(4), 1, 0, 2, 3));
        op(g, "t1", "Transpose", "x", "toNchw");
        op(g, "t2", "Transpose", "t1", "toNhwc");
        op(g, "t3", "Transpose", "t2", "toNchw");
        op(g, "t4", "Transpose", "t3", "swap");
        TestGraphs.signature(g, "x", "t4");
        Graph original = g.copy();
        new RemoveRedundantReshapeTranspose().apply(g);
        assertEquals(1, g.opHistogram().get("Transpose"), g.nodes().toString());
        assertEquals(TensorRef.of("t4", 0), g.outputs().get(0).tensor());
        Map<String, Tensor> feed = Map.of("x", random(rnd, 1, 2, 3, 4));
        Tensor a = TestGraphs.run(original, feed).get(0);
        Tensor b = TestGraphs.run(g, feed).get(0);
        assertEquals(a.shape(), b.shape());
        assertArrayEquals(a.floats(), b.floats());
    }

    @Test
    void castsToTheSameTypeAndLosslessRoundTripsGo() {
        Graph g = new Graph();
        g.add(Node.builder("i", "Placeholder").attr("dtype", DType.INT32).outputType(TensorType.of(DType.INT32, 2))
                .build());
        g.add(Node.builder("c1", "Cast").input("i").attr("SrcT", DType.INT32).attr("DstT", DType.INT64).build());
        g.add(Node.builder("c2", "Cast").input("c1").attr("SrcT", DType.INT64).attr("DstT", DType.INT32).build());
        g.add(Node.builder("c3", "Cast").input("c2").attr("SrcT", DType.INT32).attr("DstT", DType.INT32).build());
        g.add(Node.builder("f1", "Cast").input("c3").attr("SrcT", DType.INT32).attr("DstT", DType.DOUBLE).build());
        g.add(Node.builder("f2", "Cast").input("f1").attr("SrcT", DType.DOUBLE).attr("DstT", DType.FLOAT).build());
        g.add(Node.builder("l1", "Cast").input("f2").attr("SrcT", DType.FLOAT).attr("DstT", DType.INT32).build());
        g.add(Node.builder("l2", "Cast").input("l1").attr("SrcT", DType.INT32).attr("DstT", DType.FLOAT).build());
        g.addInput(new dev.kiln.graph.SignatureTensor("i", TensorRef.of("i", 0), TensorType.of(DType.INT32, 2)));
        g.addOutput(new dev.kiln.graph.SignatureTensor("o", TensorRef.of("l2", 0), TensorType.of(DType.FLOAT, 2)));
        new RemoveRedundantReshapeTranspose().apply(g);
        // int32→int64→int32 and the no-op cast vanish; int32→double→float becomes int32→float; float→int32→float
        // is lossy and stays
        assertEquals(List.of("i", "f2", "l1", "l2"), g.nodes().stream().map(Node::name).toList());
        assertEquals(DType.INT32, g.node("f2").attrType("SrcT"));
        assertEquals("i", g.node("f2").inputs().get(0));
    }

    @Test
    void pipelineRunsFoldPassesToAFixedPointAndReportsEachPass() {
        Graph g = new Graph();
        placeholder(g, "x", 2, 6);
        constant(g, "a", Tensor.ofInts(Shape.of(1), 3));
        op(g, "id", "Identity", "a");
        constant(g, "m1", Tensor.ofInts(Shape.of(1), -1));
        g.add(Node.builder("shape", "ConcatV2").input("m1").input("id").input("axis").build());
        constant(g, "axis", Tensor.scalar(0));
        op(g, "r", "Reshape", "x", "shape");
        g.add(Node.builder("save", "SaveV2").input("a").build());
        TestGraphs.signature(g, "x", "r");
        List<PassResult> results = Passes.optimizeForInference().run(g);
        assertEquals(List.of("prune-to-outputs", "strip-training-ops", "fold-constants", "fold-batch-norm",
                "fold-constants", "remove-redundant-reshape-transpose-cast", "fuse-bias-activation",
                "prune-to-outputs"), results.stream().map(PassResult::pass).toList());
        assertEquals(Map.of("Const", 1, "Placeholder", 1, "Reshape", 1), g.opHistogram());
        assertArrayEquals(new int[] {-1, 3}, g.node("shape").attrTensor("value").ints());
        assertTrue(results.get(0).removed() == 1);
        assertEquals(results.get(results.size() - 1).nodesAfter(), g.size());
    }
}
