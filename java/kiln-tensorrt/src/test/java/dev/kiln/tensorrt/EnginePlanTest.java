package dev.kiln.tensorrt;

import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EnginePlanTest {
    @TempDir
    Path dir;

    @Test
    void writesTheScriptAndThePlannedManifestBesideTheOnnx() throws Exception {
        Path onnx = TestOnnx.write(dir.resolve("model_int8_tensorrt.onnx"), TestOnnx.Kind.QDQ, -1);
        Path engine = dir.resolve("model_int8.engine");
        EngineOptions o = EngineOptions.builder().precision(EnginePrecision.INT8)
                .profile(OptimizationProfile.parse("x:1x4", "x:8x4", "x:64x4")).workspaceBytes(1L << 30)
                .timingCache(dir.resolve("timing.cache")).build();
        EnginePlan.Result r = EnginePlan.write(onnx, engine, o, onnx, dir.resolve("build_engine.sh"), "no GPU here");

        String script = Files.readString(r.script());
        assertTrue(Files.isExecutable(r.script()));
        assertTrue(script.contains("# Written by Kiln because no GPU here."), script);
        // paths relative to the script's directory, so the folder can be copied to a GPU machine
        assertTrue(script.contains("--onnx=model_int8_tensorrt.onnx") && script.contains("--saveEngine=model_int8.engine")
                && script.contains("--timingCacheFile=timing.cache") && script.contains("--stronglyTyped")
                && script.contains("--minShapes=x:1x4"), script);
        assertTrue(r.commandLine().startsWith("trtexec --onnx=" + onnx), r.commandLine());

        EngineManifest m = EngineManifest.read(r.manifestFile());
        assertEquals(EngineManifest.PLANNED, m.status());
        assertEquals(Sha256.of(onnx), m.onnx().sha256());
        assertEquals(TensorRtProbe.PRESET_TENSORRT_VERSION, m.tensorrtVersion());
        assertNull(m.gpu());
        assertNull(m.engine().sha256());
        assertEquals("int8", m.options().precision());
        assertFalse(Files.exists(engine));
        // a planned manifest is not an engine
        Files.write(engine, new byte[] {1, 2, 3});
        assertTrue(assertThrows(KilnException.class, () -> EngineFiles.read(engine)).getMessage()
                .contains("planned build"));
    }

    @Test
    void badInputFailsBeforeAnythingIsWritten() throws Exception {
        Path onnx = TestOnnx.write(dir.resolve("model.onnx"), TestOnnx.Kind.FP32, -1);
        Path script = dir.resolve("build_engine.sh");
        EngineOptions int8 = EngineOptions.builder().precision(EnginePrecision.INT8)
                .profile(OptimizationProfile.parse("x:1x4", "x:8x4", "x:64x4")).build();
        assertThrows(KilnArgumentException.class, () -> EnginePlan.write(onnx, dir.resolve("m.engine"), int8, onnx,
                script, "test"));
        assertThrows(KilnArgumentException.class, () -> EnginePlan.write(onnx, dir.resolve("m.engine"),
                EngineOptions.defaults(), onnx, script, "test"));
        assertFalse(Files.exists(script));
        assertFalse(Files.exists(EngineManifest.pathFor(dir.resolve("m.engine"))));
    }
}
