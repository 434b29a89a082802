package dev.kiln.quant;

import dev.kiln.KilnException;
import dev.kiln.graph.AttrValue;
import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.Shape;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.graph.TensorType;
import dev.kiln.kernels.AxisView;
import dev.kiln.kernels.JavaKernels;
import dev.kiln.passes.PassResult;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FakeQuantInsertionTest {
    private final Random rnd = new Random(7);

    // ---- fixtures

    private static Node placeholder(Graph g, String name, long... dims) {
        return g.add(Node.builder(name, "Placeholder").attr("dtype", DType.FLOAT)
                .outputType(TensorType.of(DType.FLOAT, dims)).build());
    }

    private static Node constant(Graph g, String name, Tensor t) {
        return g.add(Node.builder(name, "Const").attr("dtype", AttrValue.of(t.dtype())).attr("value", AttrValue.of(t))
                .outputType(t.type()).build());
    }

    private static Node op(Graph g, String name, String op, String... inputs) {
        Node.Builder b = Node.builder(name, op).attr("T", DType.FLOAT).outputType(TensorType.of(DType.FLOAT, -1));
        for (String in : inputs) {
            b.input(in);
        }
        return g.add(b.build());
    }

    private Tensor random(long... dims) {
        Shape s = Shape.of(dims);
        float[] v = new float[(int) s.numElements()];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) rnd.nextGaussian() * (1 + i % 5);
        }
        return Tensor.ofFloats(s, v);
    }

    /** x → conv1 → relu1 → {dw → out, side (Tanh) → out2}; relu1 also a signature output. */
    private Graph cnn() {
        Graph g = new Graph();
        placeholder(g, "x", 1, 6, 6, 3);
        constant(g, "w1", random(3, 3, 3, 8));
        op(g, "conv1", "Conv2D", "x", "w1");
        op(g, "relu1", "Relu", "conv1");
        constant(g, "wd", random(3, 3, 8, 2));
        op(g, "dw", "DepthwiseConv2dNative", "relu1", "wd");
        op(g, "side", "Tanh", "relu1");
        g.addInput(new SignatureTensor("x", TensorRef.of("x", 0), TensorType.of(DType.FLOAT, 1, 6, 6, 3)));
        g.addOutput(new SignatureTensor("out", TensorRef.of("dw", 0), TensorType.of(DType.FLOAT, -1)));
        g.addOutput(new SignatureTensor("side", TensorRef.of("side", 0), TensorType.of(DType.FLOAT, -1)));
        g.addOutput(new SignatureTensor("relu", TensorRef.of("relu1", 0), TensorType.of(DType.FLOAT, -1)));
        g.quantization().put("x", QuantParams.int8Symmetric(2.5f));
        g.quantization().put("relu1", QuantParams.int8Symmetric(6f));
        return g;
    }

    /** Expected weights by explicit loops: channel of element i is {@code channelOf(i)}. */
    private static float[] expectedWeights(float[] w, int channels, java.util.function.IntUnaryOperator channelOf,
                                           int qmax) {
        float[] amax = new float[channels];
        for (int i = 0; i < w.length; i++) {
            int c = channelOf.applyAsInt(i);
            amax[c] = Math.max(amax[c], Math.abs(w[i]));
        }
        float[] out = new float[w.length];
        for (int i = 0; i < w.length; i++) {
            float s = amax[channelOf.applyAsInt(i)] / qmax;
            long code = Math.max(-qmax, Math.min(qmax, (long) Math.rint(w[i] / s)));
            out[i] = code * s;
            assertTrue(Math.abs(out[i] - w[i]) <= s / 2 * 1.0001f, "rounding error at " + i);
        }
        return out;
    }

    @Test
    void symmetricActivationGetsNarrowRangeFakeQuantReadByEveryConsumer() {
        Graph g = cnn();
        PassResult r = FakeQuantInsertion.standard().apply(g);

        Node fq = g.node("relu1/fake_quant");
        assertEquals("FakeQuantWithMinMaxVars", fq.op());
        assertEquals(List.of("relu1", "relu1/fake_quant/min", "relu1/fake_quant/max"), fq.inputs());
        assertEquals(8, fq.attrInt("num_bits"));
        assertTrue(fq.attrBool("narrow_range", false));
        float s = 6f / 127;
        assertEquals(-127 * s, g.constantValue(TensorRef.of("relu1/fake_quant/min", 0)).floats()[0]);
        assertEquals(127 * s, g.constantValue(TensorRef.of("relu1/fake_quant/max", 0)).floats()[0]);
        // every consumer reads the fake-quantized value; the signature output bound to relu1 keeps the float value
        assertEquals(TensorRef.of("relu1/fake_quant", 0), g.node("dw").input(0));
        assertEquals(TensorRef.of("relu1/fake_quant", 0), g.node("side").input(0));
        assertEquals(TensorRef.of("relu1", 0), g.outputs().get(2).tensor());
        assertEquals(TensorRef.of("x/fake_quant", 0), g.node("conv1").input(0));
        assertEquals(6, r.added());
        assertEquals(2, r.folded());
        g.topologicalOrder(); // still a DAG with no dangling input
    }

    @Test
    void symmetricFakeQuantHas255LevelsWithStepScale() {
        float amax = 6f;
        float s = amax / 127;
        float[] x = new float[4001];
        for (int i = 0; i < x.length; i++) {
            x[i] = -8f + 16f * i / (x.length - 1);
        }
        float[] y = new float[x.length];
        new JavaKernels().fakeQuant(x, AxisView.perTensor(x.length), new float[] {-127 * s},
                new float[] {127 * s}, 8, true, y);
        Set<Float> levels = new TreeSet<>();
        for (float v : y) {
            levels.add(v);
            double k = v / s;
            assertEquals(Math.rint(k), k, 1e-4, "level " + v + " is not a multiple of the scale");
        }
        assertEquals(255, levels.size());
        assertTrue(levels.contains(0f), "zero is exactly representable");
    }

    @Test
    void asymmetricUint8UsesZeroPointRangeWithoutNarrowRange() {
        Graph g = cnn();
        QuantParams q = Scales.asymmetric(-1f, 5f, 8, false);
        g.quantization().put("relu1", q);
        FakeQuantInsertion.standard().apply(g);
        Node fq = g.node("relu1/fake_quant");
        float s = q.scale()[0];
        int z = q.zeroPoint()[0];
        assertEquals(-z * s, g.constantValue(TensorRef.of("relu1/fake_quant/min", 0)).floats()[0]);
        assertEquals((255 - z) * s, g.constantValue(TensorRef.of("relu1/fake_quant/max", 0)).floats()[0]);
        assertFalse(fq.attrBool("narrow_range", true));
        // TF's nudging keeps ONNX's grid: zero maps to zero, and a point k steps away to about k * s
        float[] x = {0f, 7 * s, -3 * s};
        float[] y = new float[3];
        new JavaKernels().fakeQuant(x, AxisView.perTensor(3), new float[] {-z * s}, new float[] {(255 - z) * s}, 8,
                false, y);
        assertEquals(0f, y[0]);
        assertEquals(7 * s, y[1], 1e-6f);
        assertEquals(-3 * s, y[2], 1e-6f);
    }

    @Test
    void conv2dAndDepthwiseWeightsAreDequantizedPerOutputChannel() {
        Graph g = cnn();
        float[] w1 = g.constantValue(TensorRef.of("w1", 0)).floats();
        float[] wd = g.constantValue(TensorRef.of("wd", 0)).floats();
        FakeQuantInsertion.standard().apply(g);
        // Conv2D HWIO: channel = last index; the Const is replaced in place
        assertArrayEquals(expectedWeights(w1, 8, i -> i % 8, 127), g.constantValue(TensorRef.of("w1", 0)).floats());
        assertEquals(TensorRef.of("w1", 0), g.node("conv1").input(1));
        // depthwise [3,3,8,2]: output channel c * 2 + m, i.e. the last two dims together
        assertArrayEquals(expectedWeights(wd, 16, i -> i % 16, 127), g.constantValue(TensorRef.of("wd", 0)).floats());
    }

    @Test
    void matMulRespectsTransposeBAndReducedRange() {
        Graph g = new Graph();
        placeholder(g, "a", 2, 5);
        constant(g, "wn", random(5, 4));    // [K, N]: channel = column
        constant(g, "wt", random(4, 5));    // [N, K] with transpose_b: channel = row
        op(g, "mm", "MatMul", "a", "wn");
        g.add(Node.builder("mmt", "MatMul").input("a").input("wt").attr("T", DType.FLOAT)
                .attr("transpose_b", true).build());
        g.addInput(new SignatureTensor("a", TensorRef.of("a", 0), TensorType.of(DType.FLOAT, 2, 5)));
        g.addOutput(new SignatureTensor("y", TensorRef.of("mm", 0), TensorType.of(DType.FLOAT, -1)));
        g.addOutput(new SignatureTensor("yt", TensorRef.of("mmt", 0), TensorType.of(DType.FLOAT, -1)));
        float[] wn = g.constantValue(TensorRef.of("wn", 0)).floats();
        float[] wt = g.constantValue(TensorRef.of("wt", 0)).floats();
        FakeQuantInsertion.builder().weightQmax(64).build().apply(g);
        assertArrayEquals(expectedWeights(wn, 4, i -> i % 4, 64), g.constantValue(TensorRef.of("wn", 0)).floats());
        assertArrayEquals(expectedWeights(wt, 4, i -> i / 5, 64), g.constantValue(TensorRef.of("wt", 0)).floats());
    }

    @Test
    void keepFloatByNameOrOpSkipsWeightsAndInputActivations() {
        Graph g = cnn();
        Tensor wd = g.constantValue(TensorRef.of("wd", 0));
        Tensor w1 = g.constantValue(TensorRef.of("w1", 0));
        FakeQuantInsertion.builder().keepFloat(Set.of("dw", "Conv2D")).build().apply(g);
        assertSame(wd, g.constantValue(TensorRef.of("wd", 0)));
        assertSame(w1, g.constantValue(TensorRef.of("w1", 0)));
        assertEquals(TensorRef.of("relu1", 0), g.node("dw").input(0));
        assertEquals(TensorRef.of("relu1/fake_quant", 0), g.node("side").input(0));
        assertNull(g.find("x/fake_quant"), "x's only consumer is kept in float");
    }

    @Test
    void sharedWeightConstGetsACopyAndTheOriginalIsUnchanged() {
        Graph g = cnn();
        op(g, "w1_read", "Identity", "w1");
        g.addOutput(new SignatureTensor("w", TensorRef.of("w1_read", 0), TensorType.of(DType.FLOAT, -1)));
        Tensor w1 = g.constantValue(TensorRef.of("w1", 0));
        FakeQuantInsertion.standard().apply(g);
        assertSame(w1, g.constantValue(TensorRef.of("w1", 0)));
        assertEquals(TensorRef.of("w1/fake_quant", 0), g.node("conv1").input(1));
        assertArrayEquals(expectedWeights(w1.floats(), 8, i -> i % 8, 127),
                g.constantValue(TensorRef.of("w1/fake_quant", 0)).floats());
    }

    @Test
    void explicitWeightsInsertPerChannelFakeQuantAndReshapeDepthwise() {
        Graph g = cnn();
        Tensor w1 = g.constantValue(TensorRef.of("w1", 0));
        FakeQuantInsertion.builder().explicitWeights(true).build().apply(g);
        assertSame(w1, g.constantValue(TensorRef.of("w1", 0)), "float weights stay behind the fake quant");
        Node fq = g.node("conv1/weights/fake_quant");
        assertEquals("FakeQuantWithMinMaxVarsPerChannel", fq.op());
        assertEquals(TensorRef.of("w1", 0), fq.input(0));
        assertEquals(TensorRef.of("conv1/weights/fake_quant", 0), g.node("conv1").input(1));
        float[] s = WeightFakeQuant.scales(w1.floats(), AxisView.of(new long[] {3, 3, 3, 8}, 3), 127);
        float[] max = g.constantValue(fq.input(2)).floats();
        for (int c = 0; c < 8; c++) {
            assertEquals(127 * s[c], max[c]);
        }
        // depthwise: [3,3,8,2] → Reshape [3,3,16] → per-channel fake quant → Reshape back
        Node back = g.node("dw/weights/fake_quant/filter");
        assertEquals("Reshape", back.op());
        assertEquals(TensorRef.of("dw/weights/fake_quant/filter", 0), g.node("dw").input(1));
        assertArrayEquals(new int[] {3, 3, 16},
                g.constantValue(TensorRef.of("dw/weights/fake_quant/flat_shape", 0)).ints());
        assertEquals(16, g.constantValue(g.node("dw/weights/fake_quant").input(1)).numElements());
        g.topologicalOrder();
    }

    @Test
    void brokenFusedChainLosesItsMarks() {
        Graph g = cnn();
        g.replace(g.node("conv1").withAttr("_kiln_fused_activation", AttrValue.of("Relu")));
        g.replace(g.node("relu1").withAttr("_kiln_fused_into", AttrValue.of("conv1")));
        g.quantization().put("conv1", QuantParams.int8Symmetric(9f));
        FakeQuantInsertion.standard().apply(g);
        assertEquals(TensorRef.of("conv1/fake_quant", 0), g.node("relu1").input(0));
        assertFalse(g.node("conv1").hasAttr("_kiln_fused_activation"));
        assertFalse(g.node("relu1").hasAttr("_kiln_fused_into"));
    }

    @Test
    void perChannelActivationParametersAreRejectedNamingTheNode() {
        Graph g = cnn();
        g.quantization().put("relu1", QuantParams.int8PerChannel(new float[] {1f, 2f}, 3));
        KilnException e = assertThrows(KilnException.class, () -> FakeQuantInsertion.standard().apply(g));
        assertTrue(e.getMessage().contains("'relu1'"), e.getMessage());
    }

    @Test
    void transformLeavesTheSourceAloneAndIsNotAppliedTwiceToActivations() {
        Graph g = cnn();
        Tensor w1 = g.constantValue(TensorRef.of("w1", 0));
        Graph fq = FakeQuantInsertion.standard().transform(g);
        assertNull(g.find("relu1/fake_quant"));
        assertSame(w1, g.constantValue(TensorRef.of("w1", 0)));
        int size = fq.size();
        FakeQuantInsertion.standard().apply(fq);
        assertEquals(size, fq.size(), "a second application adds no fake quant");
    }
}
