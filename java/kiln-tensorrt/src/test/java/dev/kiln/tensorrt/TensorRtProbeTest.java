package dev.kiln.tensorrt;

import dev.kiln.ErrorCode;
import dev.kiln.KilnException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TensorRtProbeTest {
    @TempDir
    Path dir;

    @Test
    void namesEveryMissingLibraryAndTheVersionsThePresetsNeed() {
        TensorRtProbe.Result r = TensorRtProbe.probe(new LibraryLocator(List.of(dir), Set.of()), false);
        assertFalse(r.available());
        for (String lib : new String[] {"libcuda.so.1 (NVIDIA driver)", "libcudart.so.13", "libnvinfer.so.10",
                "libnvonnxparser.so.10"}) {
            assertTrue(r.reason().contains(lib), lib + " in: " + r.reason());
        }
        assertTrue(r.reason().contains("TensorRT 10.x (built against 10.15.1)")
                && r.reason().contains("CUDA 13.x (built against 13.1)"), r.reason());
        assertEquals(4, r.details().size());
    }

    @Test
    void findsLibrariesInTheGivenDirectoriesAndTheLdconfigCache() throws Exception {
        Files.createFile(dir.resolve("libnvinfer.so.10"));
        LibraryLocator l = new LibraryLocator(List.of(dir), Set.of("/opt/x/libcuda.so.1"));
        assertEquals(dir.resolve("libnvinfer.so.10"), l.find("libnvinfer.so.10").orElseThrow());
        assertEquals(Path.of("/opt/x/libcuda.so.1"), l.find("libcuda.so.1").orElseThrow());
        TensorRtProbe.Result r = TensorRtProbe.probe(l, false);
        assertFalse(r.reason().contains("libnvinfer.so.10"), r.reason());
        assertTrue(r.reason().contains("libcudart.so.13"), r.reason());
    }

    /** The real probe never ends the JVM; where TensorRT is missing it says why and require() throws that. */
    @Test
    void theMachinesProbeAnswersWithAReason() {
        TensorRtProbe.Result r = TensorRtProbe.probe();
        assertNotNull(r.reason());
        assertFalse(r.reason().isBlank());
        if (r.available()) {
            assertNotNull(r.platform());
            assertTrue(r.platform().tensorrtVersion().startsWith("10."), r.reason());
        } else {
            KilnException e = assertThrows(KilnException.class, r::require);
            assertEquals(ErrorCode.UNAVAILABLE, e.code());
            assertTrue(e.getMessage().contains(r.reason()));
            assertTrue(r.reason().matches(".*(libcuda|libcudart|libnvinfer|libnvonnxparser|GPU|driver|presets).*"),
                    r.reason());
        }
        assertTrue(TensorRtProbe.report().startsWith(r.available() ? "available: " : "unavailable: "));
    }

    /** TensorRT is one of the native libraries: loaded by the same mechanism, listed with Kiln's own. */
    @Test
    void tensorRtIsProbedOnceByTheOneNativeMechanism() {
        var all = dev.kiln.kernels.NativeLibraries.all();
        var trt = all.entrySet().stream().filter(e -> e.getKey().name().equals("tensorrt")).findFirst()
                .orElseThrow(() -> new AssertionError("no tensorrt service among " + all.keySet()));
        assertSame(TensorRtProbe.probe(), trt.getValue());
        assertTrue(dev.kiln.kernels.NativeLibraries.report().contains("libnvinfer.so.10"));
    }

    @Test
    void versionNumbersAreDecoded() {
        assertEquals("10.15.1", TensorRtProbe.trtVersion(101501));
        assertEquals("13.1", TensorRtProbe.cudaVersion(13010));
        assertEquals("12.8", TensorRtProbe.cudaVersion(12080));
    }
}
