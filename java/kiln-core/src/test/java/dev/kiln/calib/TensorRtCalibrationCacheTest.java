package dev.kiln.calib;

import dev.kiln.ErrorCode;
import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class TensorRtCalibrationCacheTest {
    private static final CalibrationTable.Metadata META =
            new CalibrationTable.Metadata("sha256:1", "test", false, "test", 8);

    static Path sharedCaches() {
        Path p = Path.of(System.getProperty("kiln.repo.root", "."), "..", "shared", "calibration-caches").normalize();
        assumeTrue(Files.isDirectory(p), "skipped: " + p + " is absent (the shared TensorRT calibration caches)");
        return p;
    }

    @Test
    void realCachesReadAndWriteBackTheSameBytes(@TempDir Path dir) throws Exception {
        int files = 0;
        try (Stream<Path> s = Files.list(sharedCaches())) {
            for (Path f : (Iterable<Path>) s.filter(p -> p.toString().endsWith(".table")).sorted()::iterator) {
                TensorRtCalibrationCache c = TensorRtCalibrationCache.read(f);
                assertEquals("1", c.header());
                assertEquals(0, c.trtVersion());
                assertTrue(c.scales().size() > 10, f.toString());
                assertEquals(Files.readString(f), c.toText(), f.toString());
                Path out = dir.resolve(f.getFileName());
                c.write(out);
                assertArrayEquals(Files.readAllBytes(f), Files.readAllBytes(out), f.toString());
                CalibrationTable t = c.toTable("sha256:1", f.getFileName().toString());
                Map.Entry<String, Float> first = c.scales().entrySet().iterator().next();
                assertEquals(first.getValue() * 127f, t.entry(first.getKey()).amax());
                assertEquals("tensorrt", t.entry(first.getKey()).method());
                files++;
            }
        }
        assertEquals(2, files);
    }

    @Test
    void theFormatsTrickyCasesRoundTrip() {
        String text = "TRT-8501-EntropyCalibration2\n"
                + "input_1: 3c010a14\n"
                + "(Unnamed Layer* 37) [Constant]_output: 0\n"
                + "1113: 3d9e24f6\n"
                + "name: with: colons: 3e61c581\n"
                + "inf: 7f800000\n"
                + "tiny: 1\n";
        TensorRtCalibrationCache c = TensorRtCalibrationCache.parse(text, "test");
        assertEquals(text, c.toText());
        assertEquals(8501, c.trtVersion());
        assertEquals("EntropyCalibration2", c.algorithm());
        assertEquals(0f, c.scales().get("(Unnamed Layer* 37) [Constant]_output"));
        assertEquals(Float.intBitsToFloat(0x3e61c581), c.scales().get("name: with: colons"));
        assertEquals(Float.POSITIVE_INFINITY, c.scales().get("inf"));
        assertEquals(Float.MIN_VALUE, c.scales().get("tiny"));
        KilnArgumentException e = assertThrows(KilnArgumentException.class, () -> c.toTable("m", "d"));
        assertTrue(e.getMessage().contains("'inf'"), e.getMessage());
    }

    @Test
    void writesFromATableWithTheChosenVersionAndAlgorithm() {
        Map<String, CalibrationTable.Entry> entries = new TreeMap<>();
        entries.put("b", new CalibrationTable.Entry("entropy", 1.27f, 0.01f, 0, -1.27f, 1.27f, 1, 0, 0));
        entries.put("a:0", new CalibrationTable.Entry("entropy", 0f, 0f, 0, 0f, 0f, 1, 0, 0));
        CalibrationTable t = new CalibrationTable(META, true, entries);
        assertEquals("TRT-100900-EntropyCalibration2\na:0: 0\nb: " + Integer.toHexString(Float.floatToIntBits(0.01f))
                + "\n", TensorRtCalibrationCache.of(t).toText());
        assertEquals(100900, TensorRtCalibrationCache.version(10, 9, 0));
        assertEquals(101303, TensorRtCalibrationCache.version(10, 13, 3));
        assertEquals(8501, TensorRtCalibrationCache.version(8, 5, 1));
        assertEquals(7000, TensorRtCalibrationCache.version(7, 0, 0));
        TensorRtCalibrationCache c = TensorRtCalibrationCache.of(t, TensorRtCalibrationCache.version(8, 6, 1),
                "MinMaxCalibration");
        assertTrue(c.toText().startsWith("TRT-8601-MinMaxCalibration\n"));
        CalibrationTable back = TensorRtCalibrationCache.parse(c.toText(), "x").toTable("sha256:1", "test");
        assertEquals(0.01f, back.entry("b").scale());
        assertEquals(0.01f * 127f, back.entry("b").amax());
        assertEquals("tensorrt:MinMaxCalibration", back.entry("b").method());
        CalibrationTable asym = new CalibrationTable(META, false, entries);
        assertThrows(KilnArgumentException.class, () -> TensorRtCalibrationCache.of(asym));
        assertThrows(KilnArgumentException.class, () -> TensorRtCalibrationCache.of(t, 100900, "bad name"));
    }

    private static String error(String text) {
        KilnException e = assertThrows(KilnException.class, () -> TensorRtCalibrationCache.parse(text, "cache.bin"));
        assertEquals(ErrorCode.IO, e.code());
        assertTrue(e.getMessage().startsWith("cache.bin: "), e.getMessage());
        return e.getMessage();
    }

    @Test
    void corruptOrTruncatedCachesNameTheLine(@TempDir Path dir) throws Exception {
        assertTrue(error("").contains("empty"));
        assertTrue(error("TRT-8501-EntropyCalibration2\nx: 3c01").contains("line 2: no line end"));
        assertTrue(error("hello\nx: 1\n").contains("line 1:"));
        assertTrue(error("1\nx: 1\ny 3c010a14\n").contains("line 3:"));
        assertTrue(error("1\nx: 1\ny: 3g\n").contains("line 3: '3g' is not a hex"));
        assertTrue(error("1\nx: 1\ny: 123456789\n").contains("line 3:"));
        assertTrue(error("1\nx: 1\nx: 2\n").contains("line 3: tensor 'x' appears twice"));
        assertTrue(error("1\r\nx: 1\r\n").contains("line 1: CR LF"));
        assertTrue(error("1\n: 1\n").contains("line 2: empty tensor name"));
        Path f = dir.resolve("calibration.cache");
        Files.writeString(f, "TRT-100900-EntropyCalibration2\nconv: 3c0");
        KilnException e = assertThrows(KilnException.class, () -> TensorRtCalibrationCache.read(f));
        assertTrue(e.getMessage().startsWith(f.toString()) && e.getMessage().contains("line 2"), e.getMessage());
    }
}
