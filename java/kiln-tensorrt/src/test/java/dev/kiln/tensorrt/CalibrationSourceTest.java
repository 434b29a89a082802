package dev.kiln.tensorrt;

import dev.kiln.KilnException;
import dev.kiln.calib.TensorRtCalibrationCache;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CalibrationSourceTest {
    @TempDir
    Path dir;

    @Test
    void servesKilnsCacheUnderTheRunningTensorRtsHeader() throws Exception {
        Path f = dir.resolve("calibration_tensorrt.cache");
        Files.writeString(f, "TRT-100900-EntropyCalibration2\nx: 3c010a14\nconv1/Relu:0: 3d4ccccd\n");
        CalibrationSource s = CalibrationSource.read(f);
        assertEquals("EntropyCalibration2", s.algorithm());
        assertEquals(2, s.tensorCount());
        String served = new String(s.cacheBytes(101501), StandardCharsets.UTF_8);
        assertEquals("TRT-101501-EntropyCalibration2\nx: 3c010a14\nconv1/Relu:0: 3d4ccccd\n", served);
        // what TensorRT gets back parses as a cache with the same scales
        assertEquals(TensorRtCalibrationCache.read(f).scales(),
                TensorRtCalibrationCache.parse(served, "served").scales());
    }

    @Test
    void minMaxCachesKeepTheirAlgorithmAndOthersBecomeEntropy2() throws Exception {
        Path f = dir.resolve("a.cache");
        Files.writeString(f, "TRT-8601-MinMaxCalibration\nx: 3c010a14\n");
        assertEquals("MinMaxCalibration", CalibrationSource.read(f).algorithm());
        Files.writeString(f, "1\nx: 3c010a14\n");
        CalibrationSource legacy = CalibrationSource.read(f);
        assertEquals("EntropyCalibration2", legacy.algorithm());
        assertTrue(new String(legacy.cacheBytes(101501), StandardCharsets.UTF_8)
                .startsWith("TRT-101501-EntropyCalibration2\nx: 3c010a14\n"));
    }

    @Test
    void aCorruptCacheIsNamedWithItsLine() throws Exception {
        Path f = dir.resolve("bad.cache");
        Files.writeString(f, "TRT-100900-EntropyCalibration2\nx 3c010a14\n");
        KilnException e = assertThrows(KilnException.class, () -> CalibrationSource.read(f));
        assertTrue(e.getMessage().contains("bad.cache") && e.getMessage().contains("line 2"), e.getMessage());
    }
}
