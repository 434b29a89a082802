package dev.kiln.tensorrt;

import dev.kiln.ErrorCode;
import dev.kiln.KilnException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EngineManifestTest {
    @TempDir
    Path dir;

    @Test
    void writesAndReadsEveryField() {
        EngineOptions o = EngineOptions.builder().precision(EnginePrecision.INT8)
                .profile(OptimizationProfile.parse("x:1x4", "x:8x4", "x:16x4")).workspaceBytes(1 << 20)
                .optimizationLevel(4).sparseWeights(true).versionCompatible(true)
                .hardwareCompatibility(HardwareCompatibility.AMPERE_PLUS).build();
        EngineManifest m = Manifests.built("10.15.1", "NVIDIA H200", "9.0", o);
        Path f = dir.resolve("model.engine.manifest.json");
        m.write(f);
        EngineManifest r = EngineManifest.read(f);
        assertEquals("10.15.1", r.tensorrtVersion());
        assertEquals("13.1", r.cudaVersion());
        assertEquals(new EngineManifest.Gpu("NVIDIA H200", "9.0"), r.gpu());
        assertEquals("int8", r.options().precision());
        assertTrue(r.options().stronglyTyped() && r.options().sparseWeights() && r.options().versionCompatible());
        assertEquals("ampere+", r.options().hardwareCompatibility());
        assertEquals(4, r.options().builderOptimizationLevel());
        assertArrayEquals(new long[] {16, 4}, r.options().profiles().get(0).get("x").max());
        assertEquals("sha256:bb", r.onnx().sha256());
        assertEquals("sha256:cc", r.timingCache().sha256());
        assertNull(r.calibrationCache());
        assertEquals(12.5, r.buildSeconds());
        assertTrue(r.built());
    }

    @Test
    void theManifestLivesBesideTheEngine() {
        assertEquals(Path.of("out/model.engine.manifest.json"), EngineManifest.pathFor(Path.of("out/model.engine")));
    }

    @Test
    void corruptOrForeignManifestsAreNamed() throws Exception {
        Path f = dir.resolve("m.json");
        Files.writeString(f, "{\"format\": \"kiln-tensorrt-engine-manifest\", \"formatVersion\": 1, ");
        KilnException e = assertThrows(KilnException.class, () -> EngineManifest.read(f));
        assertEquals(ErrorCode.INVALID_MODEL, e.code());
        assertTrue(e.getMessage().contains(f.toString()) && e.getMessage().contains("corrupt"), e.getMessage());

        Files.writeString(f, "{\"format\": \"something-else\"}");
        assertTrue(assertThrows(KilnException.class, () -> EngineManifest.read(f)).getMessage()
                .contains("not a Kiln engine manifest"));

        String good = Manifests.built("10.15.1", "g", "9.0", EngineOptions.defaults()).toJson();
        Files.writeString(f, good.replace("\"sha256\" : \"sha256:dd\"", "\"sha256\" : null"));
        assertTrue(assertThrows(KilnException.class, () -> EngineManifest.read(f)).getMessage()
                .contains("'engine.sha256/bytes'"));

        Files.writeString(f, good.replace("\"formatVersion\" : 1", "\"formatVersion\" : 9"));
        assertEquals(ErrorCode.UNSUPPORTED, assertThrows(KilnException.class, () -> EngineManifest.read(f)).code());

        KilnException missing = assertThrows(KilnException.class, () -> EngineManifest.read(dir.resolve("no.json")));
        assertTrue(missing.getMessage().contains("does not exist"));
    }
}
