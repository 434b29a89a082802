package dev.kiln.calib;

import dev.kiln.ErrorCode;
import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;
import dev.kiln.kernels.JavaKernels;
import dev.kiln.quant.QuantParams;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CalibrationTableTest {
    private static final CalibrationTable.Metadata META =
            new CalibrationTable.Metadata("sha256:0123", "mnist test set, 1000 images", false, "0.1.0", 8);

    private static CalibrationStatistics stats() {
        CalibrationStatistics s = CalibrationStatistics.create(new JavaKernels(), 2048, n -> true);
        s.add("relu", new float[] {0f, 0.5f, 1f, 2f, 4f}, 1);
        s.add("mixed", new float[] {-1f, -0.25f, 0.5f, 3f}, 2);
        s.add("zeros", new float[] {0f, 0f}, 1);
        return s;
    }

    @Test
    void symmetricEntriesFollowTensorRt() {
        CalibrationTable t = CalibrationTable.compute(stats(), n -> ThresholdMethod.minmax(), true, META);
        CalibrationTable.Entry e = t.entry("mixed");
        assertEquals(3f, e.amax());
        assertEquals(3f / 127f, e.scale());
        assertEquals(0, e.zeroPoint());
        assertEquals(-3f, e.min());
        assertEquals(3f, e.max());
        assertEquals(2, e.samples());
        assertEquals("minmax", e.method());
        assertEquals(QuantParams.int8Symmetric(3f), t.quantParams("mixed"));
        // an all-zero tensor: amax and scale 0 (as TensorRT writes), QuantParams gets scale 1
        assertEquals(0f, t.entry("zeros").scale());
        assertEquals(1f, t.quantParams("zeros").scale()[0]);
    }

    @Test
    void asymmetricEntriesFollowOnnxRuntime() {
        CalibrationTable t = CalibrationTable.compute(stats(), n -> ThresholdMethod.minmax(), false, META);
        CalibrationTable.Entry e = t.entry("mixed");
        assertEquals(-1f, e.min());
        assertEquals(3f, e.max());
        assertEquals(4f / 255f, e.scale());
        assertEquals(Math.round(1f / (4f / 255f)), e.zeroPoint()); // 64
        assertEquals(3f, e.amax());
        QuantParams q = t.quantParams("mixed");
        assertEquals(0, q.qmin());
        assertEquals(255, q.qmax());
        assertEquals(e.zeroPoint(), q.zeroPoint()[0]);
        CalibrationTable.Entry relu = t.entry("relu");
        assertEquals(0f, relu.min());
        assertEquals(0, relu.zeroPoint());
        assertEquals(4f / 255f, relu.scale());
    }

    @Test
    void methodsAreNamedInTheTable() {
        assertEquals("percentile(99.99)", CalibrationTable.methodName(ThresholdMethod.percentile(99.99)));
        assertEquals("entropy", CalibrationTable.methodName(ThresholdMethod.entropy()));
        assertEquals("mse", CalibrationTable.methodName(ThresholdMethod.mse()));
        assertEquals("minmax", CalibrationTable.methodName(ThresholdMethod.minmax()));
    }

    @Test
    void jsonRoundTripsExactlyAndIsWrittenAtomically(@TempDir Path dir) throws Exception {
        for (boolean symmetric : new boolean[] {true, false}) {
            CalibrationTable t = CalibrationTable.compute(stats(), n -> ThresholdMethod.entropy(), symmetric, META);
            Path f = dir.resolve("table.json");
            t.save(f);
            byte[] bytes = Files.readAllBytes(f);
            assertArrayEquals(t.toJson(), bytes);
            CalibrationTable back = CalibrationTable.load(f);
            assertEquals(t, back);
            assertArrayEquals(bytes, back.toJson());
            try (var files = Files.list(dir)) {
                assertEquals(1, files.count(), "no temporary file is left");
            }
        }
    }

    @Test
    void jsonLooksAsDocumented() {
        CalibrationTable t = new CalibrationTable(META, true, Map.of("x", new CalibrationTable.Entry("entropy",
                2.5f, 2.5f / 127f, 0, -2.5f, 2.5f, 10, 1, 0)));
        String json = new String(t.toJson(), StandardCharsets.UTF_8);
        assertTrue(json.startsWith("{\n  \"format\" : \"kiln-calibration-table\",\n  \"version\" : 1,\n"), json);
        assertTrue(json.contains("\"amax\" : 2.5,\n      \"amaxBits\" : \"40200000\""), json);
        assertTrue(json.contains("\"scale\" : 0.01968504,"), json);
        assertTrue(json.endsWith("}\n") && !json.contains("\r"), json);
    }

    private static String loadError(Path dir, String json) throws Exception {
        Path f = dir.resolve("table.json");
        Files.writeString(f, json, StandardCharsets.UTF_8);
        KilnException e = assertThrows(KilnException.class, () -> CalibrationTable.load(f));
        assertEquals(ErrorCode.IO, e.code());
        assertTrue(e.getMessage().startsWith(f.toString()), e.getMessage());
        return e.getMessage();
    }

    @Test
    void loadRejectsBadFilesWithClearErrors(@TempDir Path dir) throws Exception {
        CalibrationTable t = CalibrationTable.compute(stats(), n -> ThresholdMethod.minmax(), true, META);
        String good = new String(t.toJson(), StandardCharsets.UTF_8);
        String mixedScale = "\"scale\" : 0.023622047,\n      \"scaleBits\" : \"3cc18306\"";
        assertTrue(good.contains(mixedScale), good);
        assertTrue(loadError(dir, good.substring(0, good.length() - 40)).contains("truncated JSON"));
        assertTrue(loadError(dir, "").contains("empty"));
        assertTrue(loadError(dir, good.replace("\"tensors\" : {", "\"tensors\" : {,")).contains("malformed JSON"));
        assertTrue(loadError(dir, good.replace("\"numBits\" : 8,\n", "")).contains("missing field 'numBits'"));
        String m = loadError(dir, good.replace("\"zeroPoint\" : 0,\n", ""));
        assertTrue(m.contains("missing field 'zeroPoint'") && m.contains("tensor '"), m);
        m = loadError(dir, good.replace(mixedScale, "\"scale\" : -0.023622047,\n      \"scaleBits\" : \"bcc18306\""));
        assertTrue(m.contains("tensor 'mixed'") && m.contains("scale must be finite and >= 0"), m);
        m = loadError(dir, good.replace(mixedScale, "\"scale\" : 0,\n      \"scaleBits\" : \"7fc00000\""));
        assertTrue(m.contains("scale"), m);
        m = loadError(dir, good.replace(mixedScale, "\"scale\" : 0.5,\n      \"scaleBits\" : \"3cc18306\""));
        assertTrue(m.contains("disagrees"), m);
        m = loadError(dir, good.replace(mixedScale, "\"scale\" : \"x\",\n      \"scaleBits\" : \"3cc18306\""));
        assertTrue(m.contains("'scale' must be a number"), m);
        assertTrue(loadError(dir, good.replace("\"version\" : 1", "\"version\" : 2")).contains("version 2"));
        assertTrue(loadError(dir, good.replace("\"samples\" : 2", "\"samples\" : -2")).contains("'samples'"));
        assertTrue(loadError(dir, good.replace("\"random\" : false", "\"random\" : \"no\"")).contains("'random'"));
        assertTrue(loadError(dir, good.replace("\"format\" : \"kiln-calibration-table\"", "\"format\" : \"x\""))
                .contains("format"));
        assertTrue(loadError(dir, "[1, 2]").contains("must be a JSON object"));
        assertTrue(loadError(dir, good.replace("\"version\" : 1,", "\"version\" : 1, \"version\" : 1,"))
                .contains("malformed JSON"));
        m = loadError(dir, good.replace("\"zeroPoint\" : 0", "\"zeroPoint\" : 3"));
        assertTrue(m.contains("zero point 3"), m);
    }

    @Test
    void validateAgainstNamesEveryProblem() {
        CalibrationTable t = CalibrationTable.compute(stats(), n -> ThresholdMethod.minmax(), true, META);
        assertDoesNotThrow(() -> t.validateAgainst(Set.of("relu", "mixed", "zeros", "other"), Set.of("relu"),
                "sha256:0123"));
        KilnArgumentException e = assertThrows(KilnArgumentException.class, () -> t.validateAgainst(
                Set.of("relu", "mixed", "conv"), Set.of("relu", "conv"), "sha256:ffff"));
        String m = e.getMessage();
        assertTrue(m.contains("computed for model sha256:0123, not for this model (sha256:ffff)"), m);
        assertTrue(m.contains("tensors the model does not have: 'zeros'"), m);
        assertTrue(m.contains("tensors needed but missing from the table: 'conv'"), m);
    }

    @Test
    void entriesRejectBadValues() {
        assertThrows(KilnArgumentException.class, () -> new CalibrationTable.Entry("m", 1f, -1f, 0, -1f, 1f, 0, 0, 0));
        assertThrows(KilnArgumentException.class,
                () -> new CalibrationTable.Entry("m", 1f, Float.NaN, 0, -1f, 1f, 0, 0, 0));
        assertThrows(KilnArgumentException.class, () -> new CalibrationTable.Entry("m", 1f, 1f, 0, 1f, 2f, 0, 0, 0));
        assertTrue(assertThrows(KilnArgumentException.class, () -> new CalibrationTable(META, false,
                Map.of("t", new CalibrationTable.Entry("m", 1f, 1f, 300, -1f, 1f, 0, 0, 0)))).getMessage()
                .contains("'t'"));
    }
}
