package dev.kiln.data;

import dev.kiln.KilnArgumentException;
import dev.kiln.graph.DType;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

class FloatConversionTest {

    @Test
    void scaleOneOver255IsExactlyNumpysFloat32Division() {
        byte[] all = new byte[256];
        float[] numpy = new float[256];
        for (int i = 0; i < 256; i++) {
            all[i] = (byte) i;
            numpy[i] = (float) i / 255f; // u8.astype(np.float32) / 255
        }
        Tensor t = Tensor.ofBytes(DType.UINT8, Shape.of(256), all);
        assertArrayEquals(numpy, FloatConversion.scale(1.0 / 255).apply(t).floats());
        assertArrayEquals(numpy, FloatConversion.scale(FloatConversion.parseNumber("1/255")).apply(t).floats());
    }

    @Test
    void int8WithScaleAndOffset() {
        Tensor t = Tensor.ofBytes(DType.INT8, Shape.of(2, 2), new byte[] {-128, -1, 0, 127});
        assertArrayEquals(new float[] {-63, 0.5f, 1, 64.5f}, FloatConversion.of(0.5, 1).apply(t).floats());
    }

    @Test
    void identityPassesFloat32Through() {
        Tensor t = Tensor.ofFloats(Shape.of(1), 3f);
        assertSame(t, FloatConversion.identity().apply(t));
        assertEquals("x * 0.5 + 1.0", FloatConversion.of(0.5, 1).toString());
    }

    @Test
    void rejectsBadNumbers() {
        assertThrows(KilnArgumentException.class, () -> FloatConversion.parseNumber("one/255"));
        assertThrows(KilnArgumentException.class, () -> FloatConversion.of(Double.NaN, 0));
    }
}
