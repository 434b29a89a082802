package dev.kiln.kernels;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.function.IntSupplier;

import static dev.kiln.kernels.KilnNative.*;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every native entry point called through JNI (KilnNative directly, without CpuKernels' checks) with null arrays,
 * negative or overflowing counts and NaN/Inf parameters: an error status and a message, never a crash. The C tests
 * (native/tests/boundaryTest.cpp) do the same from C++; this checks the JNI glue passes a null array as a null pointer
 * and the status back. Under AddressSanitizer (.ci/asan-java) any out-of-bounds access would also end the run.
 */
class NativeEntryPointsTest {
    private static final long HUGE = Long.MAX_VALUE;

    private static void add(List<DynamicTest> t, String name, IntSupplier call) {
        t.add(DynamicTest.dynamicTest(name, () -> {
            int status = call.getAsInt();
            assertNotEquals(KILN_OK, status, name + " must fail");
            assertNotEquals(KILN_ERR_INTERNAL, status, name + ": an argument error, reported as such");
            String message = kiln_last_error();
            assertTrue(message != null && !message.isBlank(), name + " leaves a message");
            assertFalse(message.contains("\n"), name + ": one line: " + message);
        }));
    }

    @TestFactory
    List<DynamicTest> wrongArgumentsAreErrorStatusesNeverCrashes() {
        Assumptions.assumeTrue(NativeLibraries.cpu().available(), "native CPU library: "
                + NativeLibraries.cpu().description());
        System.out.println("NativeEntryPointsTest: " + NativeLibraries.cpu().description()); // which library
        float[] f = new float[16];
        long[] n = new long[16];
        int[] q = new int[16];
        byte[] m = new byte[16];
        short[] h = new short[16];
        float[] one = {1, 1, 1, 1};
        int[] zp = new int[4];
        List<DynamicTest> t = new ArrayList<>();
        // null arrays
        add(t, "range_stats x null", () -> kiln_range_stats(null, 4, f, n));
        add(t, "histogram counts null", () -> kiln_histogram(f, 4, 0.5f, 8, KILN_HIST_ABS, null, null));
        add(t, "histogram negCounts null", () -> kiln_histogram(f, 4, 0.5f, 8, KILN_HIST_SIGNED, n, null));
        add(t, "channel_absmax out null", () -> kiln_channel_absmax(f, 1, 2, 2, null));
        add(t, "quantize scale null", () -> kiln_quantize(f, 1, 1, 4, null, zp, -127, 127, q));
        add(t, "quantize q null", () -> kiln_quantize(f, 1, 1, 4, one, zp, -127, 127, null));
        add(t, "dequantize y null", () -> kiln_dequantize(q, 1, 1, 4, one, zp, null));
        add(t, "fake_quant min null", () -> kiln_fake_quant(f, 1, 1, 4, null, one, 8, 0, f));
        add(t, "f32_to_f16 x null", () -> kiln_f32_to_f16(null, 4, h));
        add(t, "f16_to_f32 x null", () -> kiln_f16_to_f32(h, 4, null));
        add(t, "mask_magnitude mask null", () -> kiln_mask_magnitude(f, 4, 2, null));
        add(t, "mask_n_m w null", () -> kiln_mask_n_m(null, 1, 4, 1, 2, 4, m));
        add(t, "mask_block mask null", () -> kiln_mask_block(f, 4, 4, 2, 2, 2, null));
        add(t, "check_n_m nbBad null", () -> kiln_check_n_m(f, 1, 4, 1, 2, 4, null, n, 4));
        add(t, "csr_count nnz null", () -> kiln_csr_count(f, 2, 2, null));
        add(t, "csr_pack rowPtr null", () -> kiln_csr_pack(f, 2, 2, null, q, f, 1));
        add(t, "csr_unpack colIdx null", () -> kiln_csr_unpack(new long[] {0, 1, 2}, null, f, 2, 2, f));
        add(t, "bsr_count w null", () -> kiln_bsr_count(null, 4, 4, 2, 2, n));
        add(t, "bsr_pack blockCol null", () -> kiln_bsr_pack(f, 4, 4, 2, 2, n, null, f, 1));
        add(t, "bsr_unpack rowPtr null", () -> kiln_bsr_unpack(null, q, f, 4, 4, 2, 2, f));
        add(t, "pack_2_4 values null", () -> kiln_pack_2_4(f, 1, 4, null, m));
        add(t, "unpack_2_4 meta null", () -> kiln_unpack_2_4(f, null, 1, 4, f));
        // negative and overflowing sizes
        add(t, "range_stats nb < 0", () -> kiln_range_stats(f, -1, f, n));
        add(t, "histogram bins < 0", () -> kiln_histogram(f, 4, 0.5f, -8, KILN_HIST_ABS, n, null));
        add(t, "histogram mode 7", () -> kiln_histogram(f, 4, 0.5f, 8, 7, n, null));
        add(t, "channel_absmax overflow", () -> kiln_channel_absmax(f, HUGE, HUGE, 2, f));
        add(t, "quantize overflow", () -> kiln_quantize(f, HUGE, 2, HUGE, one, null, -127, 127, q));
        add(t, "quantize qmin > qmax", () -> kiln_quantize(f, 1, 1, 4, one, null, 127, -127, q));
        add(t, "dequantize inner < 0", () -> kiln_dequantize(q, 1, 1, -4, one, null, f));
        add(t, "fake_quant 99 bits", () -> kiln_fake_quant(f, 1, 1, 4, one, one, 99, 0, f));
        add(t, "f32_to_f16 nb < 0", () -> kiln_f32_to_f16(f, -4, h));
        add(t, "mask_magnitude keep > nb", () -> kiln_mask_magnitude(f, 4, 5, m));
        add(t, "mask_n_m overflow", () -> kiln_mask_n_m(f, HUGE, HUGE, 1, 2, 4, m));
        add(t, "mask_block br = 0", () -> kiln_mask_block(f, 4, 4, 0, 2, 2, m));
        add(t, "csr_count overflow", () -> kiln_csr_count(f, HUGE, HUGE, n));
        add(t, "bsr_count bc < 0", () -> kiln_bsr_count(f, 4, 4, 2, -2, n));
        add(t, "pack_2_4 cols 3", () -> kiln_pack_2_4(f, 1, 3, f, m));
        add(t, "set_threads < 0", () -> kiln_set_threads(-3));
        // NaN and infinite parameters
        for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 0f, -1f}) {
            add(t, "histogram invRange " + bad, () -> kiln_histogram(f, 4, bad, 8, KILN_HIST_ABS, n, null));
            add(t, "quantize scale " + bad, () -> kiln_quantize(f, 1, 1, 4, new float[] {bad}, null, -127, 127, q));
            add(t, "dequantize scale " + bad, () -> kiln_dequantize(q, 1, 1, 4, new float[] {bad}, null, f));
        }
        add(t, "fake_quant NaN min", () -> kiln_fake_quant(f, 1, 1, 4, new float[] {Float.NaN}, one, 8, 0, f));
        add(t, "fake_quant infinite max", () -> kiln_fake_quant(f, 1, 1, 4, new float[] {0f},
                new float[] {Float.POSITIVE_INFINITY}, 8, 0, f));
        add(t, "mask_magnitude NaN weight", () -> kiln_mask_magnitude(new float[] {1f, Float.NaN}, 2, 1, m));
        // corrupt sparse indices (as a packed-weights file could hold them)
        add(t, "csr_unpack rowPtr decreasing", () -> kiln_csr_unpack(new long[] {0, 3, 1, 4, 4},
                new int[] {0, 1, 2, 3}, one, 4, 4, f));
        add(t, "csr_unpack column 99", () -> kiln_csr_unpack(new long[] {0, 1, 2, 3, 4}, new int[] {0, 1, 99, 3},
                one, 4, 4, f));
        add(t, "bsr_unpack block column 7", () -> kiln_bsr_unpack(new long[] {0, 1, 2}, new int[] {0, 7},
                new float[8], 4, 4, 2, 2, f));
        return t;
    }
}
