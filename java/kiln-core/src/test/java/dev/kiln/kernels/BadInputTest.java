package dev.kiln.kernels;

import dev.kiln.ErrorCode;
import dev.kiln.KilnArgumentException;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.function.Executable;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every argument rule, on every available backend: a KilnArgumentException naming the argument, never a crash. */
class BadInputTest {

    private static void add(List<DynamicTest> tests, Kernels k, String name, String mentions, Executable call) {
        tests.add(DynamicTest.dynamicTest(k.name() + ": " + name, () -> {
            KilnArgumentException e = assertThrows(KilnArgumentException.class, call);
            assertEquals(ErrorCode.INVALID_ARGUMENT, e.code());
            assertTrue(e.getMessage().contains(mentions), "message '" + e.getMessage() + "' should name " + mentions);
        }));
    }

    @TestFactory
    List<DynamicTest> badArgumentsAreRejectedByName() {
        List<DynamicTest> t = new ArrayList<>();
        float[] x4 = {1f, 2f, 3f, 4f};
        AxisView v4 = AxisView.perTensor(4);
        for (Kernels k : KernelBackends.available()) {
            add(t, k, "rangeStats null", "x", () -> k.rangeStats(null));
            add(t, k, "histogram null x", "x", () -> k.histogram(null, 1f, 4, false, new long[4], null));
            add(t, k, "histogram bins 0", "nbBins", () -> k.histogram(x4, 1f, 0, false, new long[0], null));
            add(t, k, "histogram bins negative", "nbBins", () -> k.histogram(x4, 1f, -2, false, new long[2], null));
            add(t, k, "histogram bins odd", "nbBins", () -> k.histogram(x4, 1f, 3, false, new long[3], null));
            add(t, k, "histogram invRange not a power of two", "invRange",
                    () -> k.histogram(x4, 0.3f, 4, false, new long[4], null));
            add(t, k, "histogram invRange NaN", "invRange", () -> k.histogram(x4, Float.NaN, 4, false, new long[4], null));
            add(t, k, "histogram invRange negative", "invRange", () -> k.histogram(x4, -1f, 4, false, new long[4], null));
            add(t, k, "histogram counts wrong length", "counts", () -> k.histogram(x4, 1f, 4, false, new long[3], null));
            add(t, k, "histogram counts null", "counts", () -> k.histogram(x4, 1f, 4, false, null, null));
            add(t, k, "histogram signed without negCounts", "negCounts",
                    () -> k.histogram(x4, 1f, 4, true, new long[4], null));
            add(t, k, "channelAbsMax wrong view", "x", () -> k.channelAbsMax(x4, AxisView.perTensor(5)));
            add(t, k, "channelAbsMax null view", "view", () -> k.channelAbsMax(x4, null));
            add(t, k, "axis out of range", "axis", () -> AxisView.of(new long[] {2, 2}, 2));
            add(t, k, "negative axis out of range", "axis", () -> AxisView.of(new long[] {2, 2}, -3));
            add(t, k, "zero-sized tensor", "zero-sized", () -> AxisView.of(new long[] {2, 0}, 0));
            add(t, k, "quantize empty", "x", () -> k.quantize(new float[0], v4, new float[] {1f}, new int[1], 0, 255));
            add(t, k, "quantize scale zero", "scale", () -> k.quantize(x4, v4, new float[] {0f}, new int[1], 0, 255));
            add(t, k, "quantize scale NaN", "scale",
                    () -> k.quantize(x4, v4, new float[] {Float.NaN}, new int[1], 0, 255));
            add(t, k, "quantize scale length", "scale",
                    () -> k.quantize(x4, new AxisView(1, 2, 2), new float[] {1f}, new int[2], 0, 255));
            add(t, k, "quantize zeroPoint length", "zeroPoint",
                    () -> k.quantize(x4, v4, new float[] {1f}, new int[2], 0, 255));
            add(t, k, "quantize qmin >= qmax", "qmin", () -> k.quantize(x4, v4, new float[] {1f}, new int[1], 5, 5));
            add(t, k, "quantize beyond 16 bits", "qmin",
                    () -> k.quantize(x4, v4, new float[] {1f}, new int[1], 0, 1 << 20));
            add(t, k, "dequantize null", "q", () -> k.dequantize(null, v4, new float[] {1f}, new int[1]));
            add(t, k, "fakeQuant bits 1", "numBits",
                    () -> k.fakeQuant(x4, v4, new float[] {-1f}, new float[] {1f}, 1, false, new float[4]));
            add(t, k, "fakeQuant bits 17", "numBits",
                    () -> k.fakeQuant(x4, v4, new float[] {-1f}, new float[] {1f}, 17, false, new float[4]));
            add(t, k, "fakeQuant min > max", "min",
                    () -> k.fakeQuant(x4, v4, new float[] {2f}, new float[] {1f}, 8, false, new float[4]));
            add(t, k, "fakeQuant min NaN", "min",
                    () -> k.fakeQuant(x4, v4, new float[] {Float.NaN}, new float[] {1f}, 8, false, new float[4]));
            add(t, k, "fakeQuant y length", "y",
                    () -> k.fakeQuant(x4, v4, new float[] {-1f}, new float[] {1f}, 8, false, new float[3]));
            add(t, k, "fakeQuant null y", "y",
                    () -> k.fakeQuant(x4, v4, new float[] {-1f}, new float[] {1f}, 8, false, null));
            add(t, k, "fakeQuant max length", "max",
                    () -> k.fakeQuant(x4, v4, new float[] {-1f}, new float[] {1f, 2f}, 8, false, new float[4]));
            add(t, k, "toHalf empty", "x", () -> k.toHalf(new float[0]));
            add(t, k, "fromHalf null", "h", () -> k.fromHalf(null));
            add(t, k, "maskMagnitude nbKeep too big", "nbKeep", () -> k.maskMagnitude(x4, 5));
            add(t, k, "maskMagnitude NaN", "NaN", () -> k.maskMagnitude(new float[] {1f, Float.NaN}, 1));
            add(t, k, "maskNM axis not a multiple of m", "multiple", () -> k.maskNM(new float[6], AxisView.perTensor(6), 2, 4));
            add(t, k, "maskNM n > m", "n", () -> k.maskNM(x4, AxisView.of(new long[] {4}, 0), 5, 4));
            add(t, k, "maskNM m 0", "m", () -> k.maskNM(x4, v4, 0, 0));
            add(t, k, "maskBlock rows not divisible", "blockRows", () -> k.maskBlock(new float[6], 3, 2, 2, 2, 1));
            add(t, k, "maskBlock wrong length", "w", () -> k.maskBlock(x4, 3, 2, 1, 1, 1));
            add(t, k, "maskBlock nbKeep", "nbKeepBlocks", () -> k.maskBlock(x4, 2, 2, 1, 1, 5));
            add(t, k, "checkNM maxReport negative", "maxReport", () -> k.checkNM(x4, AxisView.of(new long[] {4}, 0), 2, 4, -1));
            add(t, k, "packCsr wrong shape", "w", () -> k.packCsr(x4, 3, 3));
            add(t, k, "packCsr empty", "w", () -> k.packCsr(new float[0], 0, 0));
            add(t, k, "unpackCsr null", "csr", () -> k.unpackCsr(null));
            add(t, k, "packBsr block cols", "blockCols", () -> k.packBsr(new float[6], 2, 3, 1, 2));
            add(t, k, "pack24 cols", "cols", () -> k.pack24(new float[6], 1, 6));
            add(t, k, "pack24 three non-zeros", "2:4", () -> k.pack24(new float[] {1f, 1f, 1f, 0f}, 1, 4));
            add(t, k, "unpack24 null", "packed", () -> k.unpack24(null));
            add(t, k, "unpack24 bad meta", "meta",
                    () -> k.unpack24(new Packed24(1, 4, new float[2], new byte[] {(byte) 0x0F})));
        }
        return t;
    }
}
