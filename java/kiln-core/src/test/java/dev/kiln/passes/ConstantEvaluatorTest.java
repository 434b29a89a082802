package dev.kiln.passes;

import dev.kiln.graph.AttrValue;
import dev.kiln.graph.DType;
import dev.kiln.graph.Node;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class ConstantEvaluatorTest {

    private static Tensor eval(Node n, Tensor... in) {
        return ConstantEvaluator.evaluate(n, List.of(in));
    }

    private static Tensor eval(String op, Tensor... in) {
        return eval(Node.builder("n", op).build(), in);
    }

    private static Tensor f(long[] dims, float... v) {
        return Tensor.ofFloats(Shape.of(dims), v);
    }

    private static Tensor i(int... v) {
        return Tensor.ofInts(Shape.of(v.length), v);
    }

    @Test
    void binaryOpsBroadcastLikeNumpy() {
        Tensor a = f(new long[] {2, 3}, 1, 2, 3, 4, 5, 6);
        Tensor b = f(new long[] {3}, 10, 20, 30);
        Tensor c = f(new long[] {2, 1}, 2, 4);
        assertArrayEquals(new float[] {11, 22, 33, 14, 25, 36}, eval("AddV2", a, b).floats());
        assertArrayEquals(new float[] {-9, -18, -27, -6, -15, -24}, eval("Sub", a, b).floats());
        assertArrayEquals(new float[] {2, 4, 6, 16, 20, 24}, eval("Mul", a, c).floats());
        assertArrayEquals(new float[] {0.5f, 1, 1.5f, 1, 1.25f, 1.5f}, eval("RealDiv", a, c).floats());
        assertArrayEquals(new float[] {2, 2, 3, 4, 5, 6}, eval("Maximum", a, c).floats());
        assertArrayEquals(new float[] {1, 2, 2, 4, 4, 4}, eval("Minimum", a, c).floats());
        Tensor outer = eval("Add", f(new long[] {3, 1}, 1, 2, 3), f(new long[] {1, 2}, 10, 20));
        assertEquals(Shape.of(3, 2), outer.shape());
        assertArrayEquals(new float[] {11, 21, 12, 22, 13, 23}, outer.floats());
        assertArrayEquals(new int[] {5, 7}, eval("Add", i(1, 2), i(4, 5)).ints());
        assertArrayEquals(new int[] {-2, 2}, eval("FloorDiv", i(-3, 5), i(2, 2)).ints());
    }

    @Test
    void unaryOpsMatchHandComputedValues() {
        Tensor a = f(new long[] {3}, 4, 0.25f, 1);
        assertArrayEquals(new float[] {-4, -0.25f, -1}, eval("Neg", a).floats());
        assertArrayEquals(new float[] {2, 0.5f, 1}, eval("Sqrt", a).floats());
        assertArrayEquals(new float[] {0.5f, 2, 1}, eval("Rsqrt", a).floats());
        assertArrayEquals(new float[] {16, 0.0625f, 1}, eval("Square", a).floats());
        assertArrayEquals(new float[] {0.25f, 4, 1}, eval("Reciprocal", a).floats());
    }

    @Test
    void rsqrtOfVariancePlusEpsilonIsFloat32Exact() {
        float var = 0.3f;
        float eps = 1e-3f;
        Tensor s = eval("Add", Tensor.scalar(var), Tensor.scalar(eps));
        assertEquals(var + eps, s.floats()[0]);
        assertEquals((float) (1 / Math.sqrt(var + eps)), eval("Rsqrt", s).floats()[0]);
    }

    @Test
    void reshapeResolvesMinusOne() {
        Tensor a = f(new long[] {2, 3}, 1, 2, 3, 4, 5, 6);
        Tensor r = eval("Reshape", a, i(3, -1));
        assertEquals(Shape.of(3, 2), r.shape());
        assertArrayEquals(a.floats(), r.floats());
    }

    @Test
    void transposePermutesAxes() {
        Tensor a = f(new long[] {2, 3}, 1, 2, 3, 4, 5, 6);
        Tensor t = eval("Transpose", a, i(1, 0));
        assertEquals(Shape.of(3, 2), t.shape());
        assertArrayEquals(new float[] {1, 4, 2, 5, 3, 6}, t.floats());
        Tensor b = f(new long[] {1, 2, 3}, 1, 2, 3, 4, 5, 6);
        assertArrayEquals(new float[] {1, 4, 2, 5, 3, 6}, eval("Transpose", b, i(2, 0, 1)).floats());
        assertEquals(Shape.of(3, 1, 2), eval("Transpose", b, i(2, 0, 1)).shape());
    }

    @Test
    void castConvertsBetweenTypes() {
        Node toInt = Node.builder("c", "Cast").attr("DstT", DType.INT32).build();
        assertArrayEquals(new int[] {1, -2, 3}, eval(toInt, f(new long[] {3}, 1.7f, -2.7f, 3)).ints());
        Node toFloat = Node.builder("c", "Cast").attr("DstT", DType.FLOAT).build();
        assertArrayEquals(new float[] {1, 2}, eval(toFloat, Tensor.ofLongs(Shape.of(2), 1, 2)).floats());
    }

    @Test
    void packConcatSqueezeExpandDims() {
        Node pack = Node.builder("p", "Pack").attr("axis", 0L).build();
        Tensor p = eval(pack, Tensor.scalar(-1), Tensor.scalar(784));
        assertEquals(Shape.of(2), p.shape());
        assertArrayEquals(new int[] {-1, 784}, p.ints());
        Node pack1 = Node.builder("p", "Pack").attr("axis", 1L).build();
        Tensor p1 = eval(pack1, i(1, 2), i(3, 4));
        assertEquals(Shape.of(2, 2), p1.shape());
        assertArrayEquals(new int[] {1, 3, 2, 4}, p1.ints());
        Tensor a = Tensor.ofInts(Shape.of(2, 1), 1, 2);
        Tensor b = Tensor.ofInts(Shape.of(2, 2), 3, 4, 5, 6);
        Tensor c = eval("ConcatV2", a, b, Tensor.scalar(1));
        assertEquals(Shape.of(2, 3), c.shape());
        assertArrayEquals(new int[] {1, 3, 4, 2, 5, 6}, c.ints());
        assertArrayEquals(new int[] {1, 2, 3, 4, 5, 6},
                eval("ConcatV2", i(1, 2), i(3, 4, 5, 6), Tensor.scalar(0)).ints());
        Tensor sq = eval(Node.builder("s", "Squeeze").attr("squeeze_dims", AttrValue.ofInts(1)).build(), a);
        assertEquals(Shape.of(2), sq.shape());
        assertEquals(Shape.of(2), eval("Squeeze", Tensor.ofInts(Shape.of(1, 2, 1, 1), 1, 2)).shape());
        assertEquals(Shape.of(1, 2), eval("ExpandDims", i(1, 2), Tensor.scalar(0)).shape());
        assertEquals(Shape.of(2, 1), eval("ExpandDims", i(1, 2), Tensor.scalar(-1)).shape());
    }

    @Test
    void fillAndRange() {
        Tensor fl = eval("Fill", i(2, 2), Tensor.scalar(7f));
        assertEquals(Shape.of(2, 2), fl.shape());
        assertArrayEquals(new float[] {7, 7, 7, 7}, fl.floats());
        assertArrayEquals(new int[] {0, 3, 6, 9}, eval("Range", Tensor.scalar(0), Tensor.scalar(10),
                Tensor.scalar(3)).ints());
        assertArrayEquals(new int[] {5, 3}, eval("Range", Tensor.scalar(5), Tensor.scalar(1),
                Tensor.scalar(-2)).ints());
        assertArrayEquals(new float[] {0, 0.5f, 1, 1.5f}, eval("Range", Tensor.scalar(0f), Tensor.scalar(2f),
                Tensor.scalar(0.5f)).floats());
    }

    @Test
    void stridedSliceWithMasks() {
        Tensor shape = i(7, 28, 28, 1);
        Node first = Node.builder("s", "StridedSlice").attr("shrink_axis_mask", 1L).build();
        Tensor batch = eval(first, shape, i(0), i(1), i(1));
        assertEquals(Shape.scalar(), batch.shape());
        assertArrayEquals(new int[] {7}, batch.ints());
        Node tail = Node.builder("s", "StridedSlice").attr("end_mask", 1L).build();
        assertArrayEquals(new int[] {28, 28, 1}, eval(tail, shape, i(1), i(0), i(1)).ints());
        Node rev = Node.builder("s", "StridedSlice").attr("begin_mask", 1L).attr("end_mask", 1L).build();
        assertArrayEquals(new int[] {1, 28, 28, 7}, eval(rev, shape, i(0), i(0), i(-1)).ints());
        Node neg = Node.builder("s", "StridedSlice").build();
        assertArrayEquals(new int[] {28, 28}, eval(neg, shape, i(-3), i(-1), i(1)).ints());
        Tensor m = Tensor.ofInts(Shape.of(3, 4), 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11);
        Node cols = Node.builder("s", "StridedSlice").attr("begin_mask", 1L).attr("end_mask", 1L).build();
        Tensor sub = eval(cols, m, i(0, 1), i(0, 4), i(1, 2));
        assertEquals(Shape.of(3, 2), sub.shape());
        assertArrayEquals(new int[] {1, 3, 5, 7, 9, 11}, sub.ints());
        assertNull(eval(Node.builder("s", "StridedSlice").attr("ellipsis_mask", 1L).build(), shape, i(0), i(1),
                i(1)));
    }

    @Test
    void sliceAndGather() {
        Tensor m = Tensor.ofInts(Shape.of(3, 4), 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11);
        Tensor s = eval("Slice", m, i(1, 1), i(2, -1));
        assertEquals(Shape.of(2, 3), s.shape());
        assertArrayEquals(new int[] {5, 6, 7, 9, 10, 11}, s.ints());
        Tensor g0 = eval("GatherV2", m, i(2, 0), Tensor.scalar(0));
        assertEquals(Shape.of(2, 4), g0.shape());
        assertArrayEquals(new int[] {8, 9, 10, 11, 0, 1, 2, 3}, g0.ints());
        Tensor g1 = eval("GatherV2", m, Tensor.scalar(3), Tensor.scalar(1));
        assertEquals(Shape.of(3), g1.shape());
        assertArrayEquals(new int[] {3, 7, 11}, g1.ints());
    }

    @Test
    void reductions() {
        Tensor m = Tensor.ofInts(Shape.of(2, 3), 1, 2, 3, 4, 5, 6);
        assertArrayEquals(new int[] {6, 15}, eval("Sum", m, i(1)).ints());
        assertArrayEquals(new int[] {720}, eval("Prod", m, i(0, 1)).ints());
        Tensor kept = eval(Node.builder("r", "Max").attr("keep_dims", true).build(), m, i(0));
        assertEquals(Shape.of(1, 3), kept.shape());
        assertArrayEquals(new int[] {4, 5, 6}, kept.ints());
    }

    @Test
    void shapeSizeRankFromKnownShape() {
        Node shape = Node.builder("s", "Shape").attr("out_type", DType.INT32).build();
        assertArrayEquals(new int[] {2, 3}, ConstantEvaluator.evaluateShapeOp(shape, Shape.of(2, 3)).ints());
        assertNull(ConstantEvaluator.evaluateShapeOp(shape, Shape.of(-1, 3)));
        Node size = Node.builder("s", "Size").attr("out_type", DType.INT64).build();
        assertArrayEquals(new long[] {6}, ConstantEvaluator.evaluateShapeOp(size, Shape.of(2, 3)).longs());
        Node rank = Node.builder("r", "Rank").build();
        assertArrayEquals(new int[] {2}, ConstantEvaluator.evaluateShapeOp(rank, Shape.of(-1, 3)).ints());
    }

    @Test
    void unsupportedOpsAreDeclined() {
        assertNull(eval("RandomUniform", i(2)));
        assertNull(eval("Sqrt", Tensor.ofBytes(DType.BOOL, Shape.of(1), (byte) 1)));
    }
}
