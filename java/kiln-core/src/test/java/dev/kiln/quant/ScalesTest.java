package dev.kiln.quant;

import dev.kiln.KilnArgumentException;
import dev.kiln.kernels.JavaKernels;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class ScalesTest {

    @Test
    void qminQmaxFollowBitsSignAndNarrow() {
        assertEquals(-128, QuantRange.qmin(8, true, false));
        assertEquals(-127, QuantRange.qmin(8, true, true));
        assertEquals(127, QuantRange.qmax(8, true));
        assertEquals(0, QuantRange.qmin(8, false, false));
        assertEquals(255, QuantRange.qmax(8, false));
        assertEquals(65535, QuantRange.qmax(16, false));
        assertEquals(-2, QuantRange.qmin(2, true, false));
        assertThrows(KilnArgumentException.class, () -> QuantRange.qmax(17, true));
    }

    @Test
    void symmetricInt8ScaleIsAmaxOver127() {
        QuantParams p = QuantParams.int8Symmetric(12.7f);
        assertEquals(0.1f, p.scale()[0], 0f);
        assertEquals(0, p.zeroPoint()[0]);
        assertEquals(-127, p.qmin());
        assertEquals(-1, p.axis());
        QuantParams w = QuantParams.int8PerChannel(new float[] {1.27f, 0f}, 3);
        assertEquals(3, w.axis());
        assertEquals(1f, w.scale()[1]); // all-zero channel keeps a valid scale
    }

    @Test
    void asymmetricUint8LikeOnnxRuntime() {
        QuantParams p = Scales.asymmetric(-1f, 3f, 8, false);
        assertEquals(4f / 255f, p.scale()[0]);
        assertEquals(64, p.zeroPoint()[0]); // rint(0 + 1 / (4/255)) = rint(63.75)
        QuantParams pos = Scales.asymmetric(2f, 4f, 8, false); // range widened to include 0
        assertEquals(0, pos.zeroPoint()[0]);
        assertEquals(4f / 255f, pos.scale()[0]);
        QuantParams s = Scales.asymmetric(-1f, 3f, 8, true);
        assertEquals(-64, s.zeroPoint()[0]);
    }

    @Test
    void quantizeThroughParamsRoundTrips() {
        QuantParams p = QuantParams.int8PerChannel(new float[] {1.27f, 2.54f}, 1);
        float[] x = {1.27f, -2.54f, 0.01f, 0.02f};
        int[] q = Quantization.quantize(new JavaKernels(), x, new long[] {2, 2}, p);
        assertArrayEquals(new int[] {127, -127, 1, 1}, q);
        float[] back = Quantization.dequantize(new JavaKernels(), q, new long[] {2, 2}, p);
        assertEquals(1.27f, back[0], 1e-6f);
    }

    @Test
    void badParamsAreRejected() {
        assertThrows(KilnArgumentException.class, () -> new QuantParams(new float[] {0f}, new int[1], -1, 8, true, true));
        assertThrows(KilnArgumentException.class, () -> new QuantParams(new float[] {1f}, new int[] {300}, -1, 8, false, false));
        assertThrows(KilnArgumentException.class, () -> Scales.asymmetric(2f, 1f, 8, false));
        assertThrows(KilnArgumentException.class, () -> Scales.symmetric(new float[] {Float.NaN}, -1, 8, true));
    }
}
