package dev.kiln.kernels;

import dev.kiln.ErrorCode;
import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The native backends' binding: loading, the ABI check, and native statuses mapped to Kiln's exceptions. */
class CpuKernelsTest {

    private static CpuKernels cpu() {
        NativeLibraries.Status s = NativeLibraries.cpu();
        assumeTrue(s.available(), () -> "native CPU library not built here: " + s.description());
        return new CpuKernels();
    }

    @Test
    void loadsOnceAndReportsItsIsa() {
        CpuKernels k = cpu();
        assertEquals("cpu", k.name());
        assertTrue(k.isa().matches("avx512|avx2|scalar"), k.isa());
        assertTrue(NativeLibraries.cpu().description().contains(k.isa()));
        assertEquals(KilnNative.KILN_ABI_VERSION, KilnNative.kiln_abi_version());
    }

    @Test
    void aNativeArgumentErrorBecomesKilnArgumentExceptionWithTheNativeMessage() {
        CpuKernels k = cpu();
        float[] w = {1, 1, 1, 0, 0, 0, 0, 0}; // three non-zeros in the first group: only the native pass sees it
        KilnArgumentException e = assertThrows(KilnArgumentException.class, () -> k.pack24(w, 1, 8));
        assertTrue(e.getMessage().contains("more than 2 non-zeros"), e.getMessage());
        assertTrue(e.getMessage().contains("pack_2_4"), e.getMessage());
        float[] nan = {1f, Float.NaN};
        assertThrows(KilnArgumentException.class, () -> k.maskMagnitude(nan, 1));
    }

    @Test
    void cudaProbeNeverThrowsAndGivesAReason() {
        NativeLibraries.Status s = NativeLibraries.cuda();
        assertTrue(!s.description().isEmpty());
        if (!s.available()) {
            KilnException e = assertThrows(KilnException.class, NativeLibraries::requireCuda);
            assertEquals(ErrorCode.UNAVAILABLE, e.code());
        }
    }
}
