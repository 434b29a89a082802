package dev.kiln.tensorrt;

import dev.kiln.KilnArgumentException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What the engine builder checks and reads before it needs TensorRT: the same on every machine. */
class EngineBuilderPrepareTest {
    @TempDir
    Path dir;

    @Test
    void int8LegacyNeedsACacheOrCalibrationData() throws Exception {
        Path onnx = TestOnnx.write(dir.resolve("m.onnx"), TestOnnx.Kind.FP32, 2);
        EngineOptions legacy = EngineOptions.builder().precision(EnginePrecision.INT8_LEGACY).build();
        String m = assertThrows(KilnArgumentException.class, () -> EngineBuilder.prepare(onnx, legacy)).getMessage();
        assertTrue(m.contains("int8-legacy needs a TensorRT calibration cache"), m);
        EngineBuilder.Prepared p = EngineBuilder.prepare(onnx, legacy, true);
        assertNull(p.cache());
        assertArrayEquals(new long[] {2, 4}, p.calibrationShapes().get("x"), "the fixed ONNX shape");
    }

    @Test
    void theCacheIsReadAndACorruptOneIsNamed() throws Exception {
        Path onnx = TestOnnx.write(dir.resolve("m.onnx"), TestOnnx.Kind.FP32, 2);
        Path cache = Files.writeString(dir.resolve("c.cache"), "TRT-100900-EntropyCalibration2\nx: 3c010a14\n");
        EngineOptions o = EngineOptions.builder().precision(EnginePrecision.INT8_LEGACY).calibrationCache(cache).build();
        assertEquals(1, EngineBuilder.prepare(onnx, o).tensorCount());
        Files.writeString(cache, "TRT-100900-EntropyCalibration2\nx: zz\n");
        assertTrue(assertThrows(dev.kiln.KilnException.class, () -> EngineBuilder.prepare(onnx, o)).getMessage()
                .contains("line 2"));
    }

    @Test
    void calibrationBatchesTakeTheFirstProfilesOptShape() throws Exception {
        Path onnx = TestOnnx.write(dir.resolve("dyn.onnx"), TestOnnx.Kind.FP32, -1);
        OnnxModelInfo info = OnnxModelInfo.read(onnx);
        EngineOptions o = EngineOptions.builder().precision(EnginePrecision.INT8_LEGACY)
                .profile(OptimizationProfile.parse("x:1x4", "x:16x4", "x:64x4")).build();
        assertArrayEquals(new long[] {16, 4}, EngineBuilder.calibrationShapes(info, o, onnx).get("x"));
        String m = assertThrows(KilnArgumentException.class, () -> EngineBuilder.calibrationShapes(info,
                EngineOptions.defaults(), onnx)).getMessage();
        assertTrue(m.contains("input 'x' (?x4) needs a profile"), m);
    }
}
