package dev.kiln.passes;

import dev.kiln.graph.AttrValue;
import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorType;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Random;

import static dev.kiln.passes.TestGraphs.constant;
import static dev.kiln.passes.TestGraphs.op;
import static dev.kiln.passes.TestGraphs.placeholder;
import static dev.kiln.passes.TestGraphs.positive;
import static dev.kiln.passes.TestGraphs.random;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FoldBatchNormTest {
    private final Random rnd = new Random(42);

    private Node fusedBn(Graph g, String name, String x, int c, boolean training) {
        constant(g, name + "/gamma", random(rnd, c));
        constant(g, name + "/beta", random(rnd, c));
        constant(g, name + "/mean", random(rnd, c));
        constant(g, name + "/var", positive(rnd, c));
        return g.add(Node.builder(name, "FusedBatchNormV3").input(x).input(name + "/gamma").input(name + "/beta")
                .input(name + "/mean").input(name + "/var").attr("T", DType.FLOAT).attr("U", DType.FLOAT)
                .attr("epsilon", 0.001f).attr("data_format", "NHWC").attr("is_training", training)
                .outputType(TensorType.of(DType.FLOAT, 2, 3, 3, c)).build());
    }

    private static void assertSameOutputs(Graph before, Graph after, Map<String, Tensor> feed, double tol) {
        List<Tensor> a = TestGraphs.run(before, feed);
        List<Tensor> b = TestGraphs.run(after, feed);
        for (int i = 0; i < a.size(); i++) {
            double err = TestGraphs.maxRelError(b.get(i), a.get(i));
            assertTrue(err <= tol, "max relative error " + err);
        }
    }

    /** x [2,5,5,3] → Conv2D 3×3 3→4 → BiasAdd → FusedBatchNormV3 → Relu ("relu"); no signature yet. */
    private Graph convBiasBatchNormRelu() {
        Graph g = new Graph();
        placeholder(g, "x", 2, 5, 5, 3);
        constant(g, "w", random(rnd, 3, 3, 3, 4));
        constant(g, "b", random(rnd, 4));
        g.add(Node.builder("conv", "Conv2D").input("x").input("w").attr("T", DType.FLOAT)
                .attr("strides", AttrValue.ofInts(1, 1, 1, 1)).attr("padding", "VALID").build());
        op(g, "bias", "BiasAdd", "conv", "b");
        fusedBn(g, "bn", "bias", 4, false);
        op(g, "relu", "Relu", "bn");
        return g;
    }

    @Test
    void fusedBatchNormAfterConvAndBiasAddFoldsIntoWeightsAndBias() {
        Graph g = convBiasBatchNormRelu();
        TestGraphs.signature(g, "x", "relu");
        Graph original = g.copy();

        PassResult r = new FoldBatchNorm().apply(g);

        assertEquals(1, r.folded(), r.notes().toString());
        assertEquals("BiasAdd", g.node("bn").op());
        assertEquals(TensorType.of(DType.FLOAT, 2, 3, 3, 4), g.node("bn").outputType(0));
        assertFalse(g.contains("bias"));
        assertFalse(g.opHistogram().containsKey("FusedBatchNormV3"));
        assertEquals(List.of("x", "conv", "bn", "relu"), g.nodes().stream().filter(n -> !n.op().equals("Const"))
                .map(Node::name).toList());
        assertSameOutputs(original, g, Map.of("x", random(rnd, 2, 5, 5, 3)), 1e-4);
    }

    @Test
    void thePassTableAddsUpForEveryPassOfThePipeline() {
        Graph g = convBiasBatchNormRelu();
        op(g, "out", "Identity", "relu");
        TestGraphs.signature(g, "x", "out");

        List<PassResult> results = Passes.optimizeForInference().run(g);
        PassResult fold = results.stream().filter(r -> r.pass().equals("fold-batch-norm")).findFirst().orElseThrow();
        assertTrue(fold.removed() > 0 && fold.added() > 0, "folding replaces the weights with new constants: " + fold);
        for (int i = 0; i < results.size(); i++) {
            PassResult r = results.get(i);
            assertEquals(r.nodesAfter(), r.nodesBefore() - r.removed() + r.added(), r.toString());
            if (i > 0) {
                assertEquals(results.get(i - 1).nodesAfter(), r.nodesBefore(), "passes run on each other's output");
            }
        }
        assertEquals(g.size(), results.get(results.size() - 1).nodesAfter());
    }

    @Test
    void depthwiseWithMultiplierFoldsPerOutputChannel() {
        Graph g = new Graph();
        placeholder(g, "x", 2, 5, 5, 3);
        constant(g, "w", random(rnd, 3, 3, 3, 2));
        g.add(Node.builder("dw", "DepthwiseConv2dNative").input("x").input("w").attr("T", DType.FLOAT)
                .attr("strides", AttrValue.ofInts(1, 1, 1, 1)).attr("padding", "VALID").build());
        fusedBn(g, "bn", "dw", 6, false);
        TestGraphs.signature(g, "x", "bn");
        Graph original = g.copy();
        assertEquals(1, new FoldBatchNorm().apply(g).folded());
        assertEquals("BiasAdd", g.node("bn").op());
        assertSameOutputs(original, g, Map.of("x", random(rnd, 2, 5, 5, 3)), 1e-4);
    }

    @Test
    void mulAddFormAfterMatMulWithTransposeBFolds() {
        Graph g = new Graph();
        placeholder(g, "x", 4, 6);
        constant(g, "w", random(rnd, 5, 6));
        g.add(Node.builder("mm", "MatMul").input("x").input("w").attr("T", DType.FLOAT).attr("transpose_b", true)
                .build());
        constant(g, "scale", random(rnd, 5));
        constant(g, "shift", random(rnd, 1, 5));
        op(g, "mul", "Mul", "scale", "mm");
        op(g, "add", "AddV2", "mul", "shift");
        TestGraphs.signature(g, "x", "add");
        Graph original = g.copy();
        PassResult r = new FoldBatchNorm().apply(g);
        assertEquals(1, r.folded(), r.notes().toString());
        assertFalse(g.contains("mul"));
        assertEquals("BiasAdd", g.node("add").op());
        assertSameOutputs(original, g, Map.of("x", random(rnd, 4, 6)), 1e-4);
    }

    @Test
    void subFormAndLoneMulFold() {
        Graph g = new Graph();
        placeholder(g, "x", 4, 6);
        constant(g, "w", random(rnd, 6, 5));
        g.add(Node.builder("mm", "MatMul").input("x").input("w").attr("T", DType.FLOAT).build());
        constant(g, "b", random(rnd, 5));
        op(g, "bias", "BiasAdd", "mm", "b");
        constant(g, "scale", random(rnd, 5));
        constant(g, "shift", Tensor.scalar(0.25f));
        op(g, "mul", "Mul", "bias", "scale");
        op(g, "sub", "Sub", "mul", "shift");
        constant(g, "w2", random(rnd, 5, 3));
        g.add(Node.builder("mm2", "MatMul").input("sub").input("w2").attr("T", DType.FLOAT).build());
        constant(g, "s2", Tensor.scalar(3f));
        op(g, "mul2", "Mul", "mm2", "s2");
        TestGraphs.signature(g, "x", "mul2");
        Graph original = g.copy();
        PassResult r = new FoldBatchNorm().apply(g);
        assertEquals(2, r.folded(), r.notes().toString());
        assertEquals(Map.of("BiasAdd", 2, "Const", 4, "MatMul", 2, "Placeholder", 1), g.opHistogram());
        assertSameOutputs(original, g, Map.of("x", random(rnd, 4, 6)), 1e-4);
    }

    @Test
    void notFoldedWhenConvOutputHasAnotherReaderOrTraining() {
        Graph g = new Graph();
        placeholder(g, "x", 2, 5, 5, 3);
        constant(g, "w", random(rnd, 3, 3, 3, 4));
        g.add(Node.builder("conv", "Conv2D").input("x").input("w").attr("T", DType.FLOAT)
                .attr("strides", AttrValue.ofInts(1, 1, 1, 1)).attr("padding", "VALID").build());
        fusedBn(g, "bn", "conv", 4, false);
        op(g, "other", "Relu", "conv");
        op(g, "sum", "Add", "bn", "other");
        constant(g, "w2", random(rnd, 1, 1, 4, 4));
        g.add(Node.builder("conv2", "Conv2D").input("sum").input("w2").attr("T", DType.FLOAT)
                .attr("strides", AttrValue.ofInts(1, 1, 1, 1)).attr("padding", "VALID").build());
        fusedBn(g, "bn2", "conv2", 4, true);
        TestGraphs.signature(g, "x", "bn2");
        PassResult r = new FoldBatchNorm().apply(g);
        assertEquals(0, r.folded());
        List<FoldBatchNorm.Match> m = FoldBatchNorm.findPatterns(g);
        assertEquals(2, m.size());
        assertTrue(m.get(0).reason().contains("other readers"), m.get(0).reason());
        assertTrue(m.get(1).reason().contains("is_training"), m.get(1).reason());
    }

    @Test
    void matcherRecognisesPatternsWhoseWeightsAreNotLoaded() {
        Graph g = new Graph();
        placeholder(g, "x", 2, 5, 5, 3);
        g.add(Node.builder("w", "ReadVariableOp").build());
        g.add(Node.builder("conv", "Conv2D").input("x").input("w").attr("T", DType.FLOAT).build());
        for (String p : List.of("gamma", "beta", "mean", "var")) {
            g.add(Node.builder("bn/" + p, "ReadVariableOp").build());
        }
        g.add(Node.builder("bn", "FusedBatchNormV3").input("conv").input("bn/gamma").input("bn/beta")
                .input("bn/mean").input("bn/var").attr("is_training", false).build());
        TestGraphs.signature(g, "x", "bn");
        List<FoldBatchNorm.Match> m = FoldBatchNorm.findPatterns(g);
        assertEquals(1, m.size());
        assertEquals("conv", m.get(0).producer());
        assertFalse(m.get(0).foldable());
        assertTrue(m.get(0).reason().contains("not a constant"), m.get(0).reason());
        PassResult r = new FoldBatchNorm().apply(g);
        assertEquals(0, r.folded());
        assertTrue(r.notes().get(0).startsWith("not folded"));
    }

    @Test
    void fullPipelineFoldsKerasStyleBatchNormArithmetic() {
        // x * (gamma * rsqrt(var + eps)) + (beta - mean * gamma * rsqrt(var + eps)) after a conv
        Graph g = new Graph();
        placeholder(g, "x", 2, 5, 5, 3);
        constant(g, "w", random(rnd, 3, 3, 3, 4));
        g.add(Node.builder("conv", "Conv2D").input("x").input("w").attr("T", DType.FLOAT)
                .attr("strides", AttrValue.ofInts(1, 1, 1, 1)).attr("padding", "VALID").build());
        constant(g, "gamma", random(rnd, 4));
        constant(g, "beta", random(rnd, 4));
        constant(g, "mean", random(rnd, 4));
        constant(g, "var", positive(rnd, 4));
        constant(g, "eps", Tensor.scalar(1e-3f));
        op(g, "ve", "AddV2", "var", "eps");
        op(g, "rs", "Rsqrt", "ve");
        op(g, "sc", "Mul", "rs", "gamma");
        op(g, "xs", "Mul", "conv", "sc");
        op(g, "ms", "Mul", "mean", "sc");
        op(g, "off", "Sub", "beta", "ms");
        op(g, "y", "AddV2", "xs", "off");
        op(g, "relu", "Relu", "y");
        op(g, "out", "Identity", "relu");
        TestGraphs.signature(g, "x", "out");
        Graph original = g.copy();
        List<PassResult> r = Passes.optimizeForInference().run(g);
        assertEquals(Map.of("BiasAdd", 1, "Const", 2, "Conv2D", 1, "Placeholder", 1, "Relu", 1), g.opHistogram(),
                r.toString());
        assertEquals("Relu", g.node("conv").attrString(FuseBiasActivation.FUSED_ACTIVATION));
        assertEquals("y", g.node("conv").attrString(FuseBiasActivation.FUSED_BIAS));
        assertSameOutputs(original, g, Map.of("x", random(rnd, 2, 5, 5, 3)), 1e-4);
    }

    @Test
    void batchNormWithGlobalNormalizationFolds() {
        Graph g = new Graph();
        placeholder(g, "x", 4, 6);
        constant(g, "w", random(rnd, 6, 3));
        g.add(Node.builder("mm", "MatMul").input("x").input("w").attr("T", DType.FLOAT).build());
        Tensor mean = random(rnd, 3);
        Tensor var = positive(rnd, 3);
        Tensor beta = random(rnd, 3);
        Tensor gamma = random(rnd, 3);
        constant(g, "m", mean);
        constant(g, "v", var);
        constant(g, "be", beta);
        constant(g, "ga", gamma);
        g.add(Node.builder("bn", "BatchNormWithGlobalNormalization").input("mm").input("m").input("v").input("be")
                .input("ga").attr("variance_epsilon", 0.01f).attr("scale_after_normalization", true).build());
        TestGraphs.signature(g, "x", "bn");
        Tensor xv = random(rnd, 4, 6);
        Tensor y = TestGraphs.matmul(xv, g.node("w").attrTensor("value"), false);
        float[] expected = y.floats();
        for (int i = 0; i < expected.length; i++) {
            int c = i % 3;
            expected[i] = (float) ((expected[i] - mean.floats()[c]) / Math.sqrt(var.floats()[c] + 0.01)
                    * gamma.floats()[c] + beta.floats()[c]);
        }
        assertEquals(1, new FoldBatchNorm().apply(g).folded());
        Tensor got = TestGraphs.run(g, Map.of("x", xv)).get(0);
        assertTrue(TestGraphs.maxRelError(got, Tensor.ofFloats(Shape.of(4, 3), expected)) < 1e-4);
    }

    @Test
    void nchwFusedBatchNormFoldsIntoAnNchwBiasAdd() {
        Graph g = new Graph();
        placeholder(g, "x", 1, 3, 5, 5);
        Tensor w = random(rnd, 1, 1, 3, 2);
        constant(g, "w", w);
        g.add(Node.builder("conv", "Conv2D").input("x").input("w").attr("T", DType.FLOAT)
                .attr("data_format", "NCHW").attr("strides", AttrValue.ofInts(1, 1, 1, 1)).attr("padding", "VALID")
                .build());
        Tensor gamma = random(rnd, 2);
        Tensor var = positive(rnd, 2);
        constant(g, "gamma", gamma);
        constant(g, "beta", random(rnd, 2));
        constant(g, "mean", random(rnd, 2));
        constant(g, "var", var);
        g.add(Node.builder("bn", "FusedBatchNormV3").input("conv").input("gamma").input("beta").input("mean")
                .input("var").attr("epsilon", 0.001f).attr("data_format", "NCHW").attr("is_training", false).build());
        TestGraphs.signature(g, "x", "bn");
        assertEquals(1, new FoldBatchNorm().apply(g).folded());
        Node bias = g.node("bn");
        assertEquals("BiasAdd", bias.op());
        assertEquals("NCHW", bias.attrString("data_format"));
        float[] folded = g.constantValue(g.node("conv").input(1)).floats();
        for (int i = 0; i < folded.length; i++) {
            int c = i % 2;
            double s = gamma.floats()[c] / Math.sqrt(var.floats()[c] + 0.001f);
            assertEquals(w.floats()[i] * s, folded[i], 1e-5);
        }
    }

    @Test
    void batchNormWithDifferentDataFormatIsNotFolded() {
        Graph g = new Graph();
        placeholder(g, "x", 1, 5, 5, 3);
        constant(g, "w", random(rnd, 1, 1, 3, 2));
        g.add(Node.builder("conv", "Conv2D").input("x").input("w").attr("T", DType.FLOAT).build());
        for (String p : List.of("gamma", "beta", "mean", "var")) {
            constant(g, p, positive(rnd, 2));
        }
        g.add(Node.builder("bn", "FusedBatchNormV3").input("conv").input("gamma").input("beta").input("mean")
                .input("var").attr("data_format", "NCHW").attr("is_training", false).build());
        TestGraphs.signature(g, "x", "bn");
        assertEquals(0, new FoldBatchNorm().apply(g).folded());
        assertTrue(FoldBatchNorm.findPatterns(g).get(0).reason().contains("data_format"));
    }
}
