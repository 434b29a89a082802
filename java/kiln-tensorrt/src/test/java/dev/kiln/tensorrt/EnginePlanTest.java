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

    /** Weights kept as ONNX external data are part of what the engine is built from: the manifest hashes them. */
    @Test
    void theManifestFingerprintsTheOnnxExternalData() throws Exception {
        Path onnx = withExternalData(TestOnnx.write(dir.resolve("ext.onnx"), TestOnnx.Kind.FP32, 1), "ext.onnx.data");
        Path data = dir.resolve("ext.onnx.data");
        EngineOptions o = EngineOptions.builder().precision(EnginePrecision.FP32).build();
        EngineManifest m = EngineManifest.read(EnginePlan.write(onnx, dir.resolve("ext.engine"), o, onnx,
                dir.resolve("build_ext.sh"), "no GPU here").manifestFile());
        assertEquals(1, m.onnxExternalData().size());
        assertEquals(data.toString(), m.onnxExternalData().get(0).path());
        assertEquals(Sha256.of(data), m.onnxExternalData().get(0).sha256());
        assertEquals(Files.size(data), m.onnxExternalData().get(0).bytes());

        // other weights, the same .onnx: a different fingerprint
        byte[] b = Files.readAllBytes(data);
        b[0] ^= 1;
        Files.write(data, b);
        EngineManifest changed = EngineManifest.read(EnginePlan.write(onnx, dir.resolve("ext.engine"), o, onnx,
                dir.resolve("build_ext.sh"), "no GPU here").manifestFile());
        assertEquals(m.onnx().sha256(), changed.onnx().sha256());
        assertFalse(m.onnxExternalData().get(0).sha256().equals(changed.onnxExternalData().get(0).sha256()));

        // a model in one file has none
        Path whole = TestOnnx.write(dir.resolve("whole.onnx"), TestOnnx.Kind.FP32, 1);
        assertEquals(java.util.List.of(), EnginePlan.write(whole, dir.resolve("whole.engine"), o, whole,
                dir.resolve("build_whole.sh"), "no GPU here").manifest().onnxExternalData());
    }

    /** Moves every float initializer of {@code onnx} into {@code dataName} beside it, as ONNX external data. */
    static Path withExternalData(Path onnx, String dataName) throws Exception {
        dev.kiln.onnx.proto.Onnx.ModelProto m = dev.kiln.onnx.proto.Onnx.ModelProto.parseFrom(Files.readAllBytes(onnx));
        dev.kiln.onnx.proto.Onnx.ModelProto.Builder b = m.toBuilder();
        java.io.ByteArrayOutputStream data = new java.io.ByteArrayOutputStream();
        var g = b.getGraphBuilder();
        for (int i = 0; i < g.getInitializerCount(); i++) {
            var t = g.getInitializer(i);
            java.nio.ByteBuffer bytes = java.nio.ByteBuffer.allocate(4 * t.getFloatDataCount())
                    .order(java.nio.ByteOrder.LITTLE_ENDIAN);
            t.getFloatDataList().forEach(bytes::putFloat);
            byte[] raw = t.getRawData().isEmpty() ? bytes.array() : t.getRawData().toByteArray();
            long offset = data.size();
            data.write(raw);
            g.setInitializer(i, t.toBuilder().clearFloatData().clearRawData()
                    .setDataLocation(dev.kiln.onnx.proto.Onnx.TensorProto.DataLocation.EXTERNAL)
                    .addExternalData(entry("location", dataName)).addExternalData(entry("offset", "" + offset))
                    .addExternalData(entry("length", "" + raw.length)));
        }
        Files.write(onnx.resolveSibling(dataName), data.toByteArray());
        Files.write(onnx, b.build().toByteArray());
        return onnx;
    }

    private static dev.kiln.onnx.proto.Onnx.StringStringEntryProto entry(String k, String v) {
        return dev.kiln.onnx.proto.Onnx.StringStringEntryProto.newBuilder().setKey(k).setValue(v).build();
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
