package dev.kiln.tensorrt;

import dev.kiln.ErrorCode;
import dev.kiln.KilnException;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ManifestCheckTest {
    private static final RuntimePlatform H200 = new RuntimePlatform("10.15.1", "13.1", "NVIDIA H200", "9.0");

    private static String refused(EngineManifest m, RuntimePlatform here) {
        KilnException e = assertThrows(KilnException.class, () -> ManifestCheck.check(m, here, "m.engine"));
        assertEquals(ErrorCode.UNSUPPORTED, e.code());
        assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
        assertTrue(e.getMessage().startsWith("engine m.engine "), e.getMessage());
        return e.getMessage();
    }

    @Test
    void theSameTensorRtAndGpuAreAccepted() {
        assertDoesNotThrow(() -> ManifestCheck.check(Manifests.built("10.15.1", "NVIDIA H200", "9.0",
                EngineOptions.defaults()), H200, "m.engine"));
    }

    @Test
    void anotherTensorRtVersionIsRefused() {
        String m = refused(Manifests.built("10.9.0", "NVIDIA H200", "9.0", EngineOptions.defaults()), H200);
        assertTrue(m.contains("TensorRT 10.9.0") && m.contains("TensorRT 10.15.1") && m.contains("--version-compatible"),
                m);
    }

    @Test
    void versionCompatibleEnginesRunOnLaterTensorRtOfTheSameMajor() {
        EngineOptions vc = EngineOptions.builder().versionCompatible(true).build();
        assertDoesNotThrow(() -> ManifestCheck.check(Manifests.built("10.9.0", "NVIDIA H200", "9.0", vc), H200, "e"));
        assertTrue(refused(Manifests.built("10.16.0", "NVIDIA H200", "9.0", vc), H200).contains("10.16.0"));
        refused(Manifests.built("8.6.1", "NVIDIA H200", "9.0", vc), H200);
    }

    @Test
    void anotherGpuIsRefused() {
        String m = refused(Manifests.built("10.15.1", "NVIDIA A100-SXM4-40GB", "8.0", EngineOptions.defaults()), H200);
        assertTrue(m.contains("NVIDIA A100-SXM4-40GB (compute capability 8.0)")
                && m.contains("NVIDIA H200 (compute capability 9.0)") && m.contains("ampere+"), m);
        // same compute capability, another model: not portable by default
        refused(Manifests.built("10.15.1", "NVIDIA H100 PCIe", "9.0", EngineOptions.defaults()), H200);
    }

    @Test
    void hardwareCompatibleEnginesFollowTheirLevel() {
        EngineOptions ampere = EngineOptions.builder().hardwareCompatibility(HardwareCompatibility.AMPERE_PLUS).build();
        assertDoesNotThrow(() -> ManifestCheck.check(Manifests.built("10.15.1", "NVIDIA A100", "8.0", ampere), H200,
                "e"));
        RuntimePlatform turing = new RuntimePlatform("10.15.1", "13.1", "Tesla T4", "7.5");
        assertTrue(refused(Manifests.built("10.15.1", "NVIDIA A100", "8.0", ampere), turing).contains("8.0+"));

        EngineOptions same = EngineOptions.builder()
                .hardwareCompatibility(HardwareCompatibility.SAME_COMPUTE_CAPABILITY).build();
        assertDoesNotThrow(() -> ManifestCheck.check(Manifests.built("10.15.1", "NVIDIA H100 PCIe", "9.0", same),
                H200, "e"));
        refused(Manifests.built("10.15.1", "NVIDIA A100", "8.0", same), H200);
    }

    @Test
    void aPlannedBuildIsNotAnEngine() {
        EngineManifest m = Manifests.built("10.15.1", "NVIDIA H200", "9.0", EngineOptions.defaults());
        EngineManifest planned = new EngineManifest(m.format(), m.formatVersion(), EngineManifest.PLANNED, m.engine(),
                m.sourceModel(), m.onnx(), m.onnxExternalData(), m.tensorrtVersion(), m.cudaVersion(), null, m.options(), null, null,
                m.buildTime(), 0, null);
        KilnException e = assertThrows(KilnException.class, () -> ManifestCheck.check(planned, H200, "m.engine"));
        assertTrue(e.getMessage().contains("planned build"), e.getMessage());
    }

    @Test
    void versionsCompareNumerically() {
        assertTrue(RuntimePlatform.compareVersions("10.9.0", "10.15.1") < 0);
        assertEquals(0, RuntimePlatform.compareVersions("10.15", "10.15.0"));
        assertEquals(86, RuntimePlatform.capabilityNumber("8.6"));
    }
}
