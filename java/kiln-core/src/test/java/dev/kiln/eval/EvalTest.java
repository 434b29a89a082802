package dev.kiln.eval;

import dev.kiln.graph.DType;
import dev.kiln.graph.Shape;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.graph.TensorType;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.*;

class EvalTest {

    private static SignatureTensor in(String name, DType t, Shape s) {
        return new SignatureTensor(name, TensorRef.of(name, 0), new TensorType(t, s));
    }

    @Test
    void randomInputsAreDeterministicAndFillUnknownDims() {
        List<SignatureTensor> sig = List.of(in("x", DType.FLOAT, Shape.of(-1, 4, -1)),
                in("ids", DType.INT32, Shape.of(-1)), in("u", DType.FLOAT, Shape.unknown()));
        Map<String, Tensor> a = RandomInputs.forSignature(sig, 7, 3);
        Map<String, Tensor> b = RandomInputs.forSignature(sig, 7, 3);
        assertEquals(Shape.of(3, 4, 1), a.get("x").shape());
        assertEquals(Shape.of(3), a.get("ids").shape());
        assertEquals(Shape.of(3), a.get("u").shape());
        assertArrayEquals(a.get("x").floats(), b.get("x").floats());
        for (float f : a.get("x").floats()) {
            assertTrue(f >= -1 && f < 1);
        }
        for (int i : a.get("ids").ints()) {
            assertTrue(i >= 0 && i < 4);
        }
        assertNotEquals(a.get("x").floats()[0], RandomInputs.forSignature(sig, 8, 3).get("x").floats()[0]);
    }

    @Test
    void stringInputsAreRefusedWithTheirName() {
        var e = assertThrows(dev.kiln.KilnException.class,
                () -> RandomInputs.forSignature(List.of(in("tf_example", DType.STRING, Shape.of(-1))), 1, 1));
        assertTrue(e.getMessage().contains("tf_example"), e.getMessage());
    }

    @Test
    void halfRoundTrips() {
        for (float f : new float[] {0f, 1f, -0.5f, 0.333f, 1e-5f}) {
            assertEquals(f, TensorComparison.halfToFloat(RandomInputs.toHalf(f)), Math.abs(f) * 1e-3 + 1e-7);
        }
    }

    @Test
    void comparisonReportsAbsAndRelativeError() {
        Tensor e = Tensor.ofFloats(Shape.of(3), 1f, -4f, 2f);
        Tensor a = Tensor.ofFloats(Shape.of(3), 1f, -4.004f, 2f);
        TensorComparison c = TensorComparison.compare(e, a);
        assertTrue(c.shapeAndTypeMatch());
        assertEquals(0.004, c.maxAbsError(), 1e-6);
        assertEquals(0.001, c.maxRelError(), 1e-6);
        assertTrue(c.within(2e-3));
        assertFalse(c.within(1e-4));
    }

    @Test
    void comparisonFlagsShapeTypeAndNaN() {
        TensorComparison s = TensorComparison.compare(Tensor.ofFloats(Shape.of(2), 1, 2),
                Tensor.ofFloats(Shape.of(1, 2), 1, 2));
        assertFalse(s.shapeAndTypeMatch());
        assertTrue(s.message().contains("shape"), s.message());
        TensorComparison t = TensorComparison.compare(Tensor.ofFloats(Shape.of(1), 1), Tensor.ofInts(Shape.of(1), 1));
        assertTrue(t.message().contains("dtype"), t.message());
        TensorComparison n = TensorComparison.compare(Tensor.ofFloats(Shape.of(2), 1, Float.NaN),
                Tensor.ofFloats(Shape.of(2), 1, 3));
        assertEquals(Double.POSITIVE_INFINITY, n.maxAbsError());
        assertEquals(0, TensorComparison.compare(Tensor.ofFloats(Shape.of(1), Float.NaN),
                Tensor.ofFloats(Shape.of(1), Float.NaN)).maxAbsError());
    }
}
