package dev.kiln.calib;

import dev.kiln.ErrorCode;
import dev.kiln.KilnException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class OnnxRuntimeCalibrationTableTest {
    private static final CalibrationTable.Metadata META =
            new CalibrationTable.Metadata("sha256:1", "test", false, "test", 8);

    private static CalibrationTable table(boolean symmetric) {
        Map<String, CalibrationTable.Entry> entries = new TreeMap<>();
        if (symmetric) {
            entries.put("x", new CalibrationTable.Entry("entropy", 1.5f, 1.5f / 127, 0, -1.5f, 1.5f, 1, 0, 0));
            entries.put("caf\u00e9\"", new CalibrationTable.Entry("entropy", 0.1f, 0.1f / 127, 0, -0.1f, 0.1f, 1, 0, 0));
        } else {
            entries.put("y", new CalibrationTable.Entry("minmax", 3f, 4f / 255, 64, -1f, 3f, 1, 0, 0));
        }
        return new CalibrationTable(META, symmetric, entries);
    }

    @Test
    void jsonIsWhatOnnxRuntimeWrites() {
        // what json.dumps(TensorsData, cls=encoder) gives in ORT >= 1.16 for 0-d float32 arrays
        String expected = "{\"CLS\": \"TensorsData\", \"data\": {"
                + "\"caf\\u00e9\\\"\": {\"lowest\": {\"data\": -0.10000000149011612, \"dtype\": \"float32\", "
                + "\"CLS\": \"numpy.array\"}, \"highest\": {\"data\": 0.10000000149011612, \"dtype\": \"float32\", "
                + "\"CLS\": \"numpy.array\"}, \"CLS\": \"TensorData\"}, "
                + "\"x\": {\"lowest\": {\"data\": -1.5, \"dtype\": \"float32\", \"CLS\": \"numpy.array\"}, "
                + "\"highest\": {\"data\": 1.5, \"dtype\": \"float32\", \"CLS\": \"numpy.array\"}, "
                + "\"CLS\": \"TensorData\"}}, "
                + "\"calibration_method\": {\"CLS\": \"CalibrationMethod\", \"value\": \"CalibrationMethod.Entropy\"}}";
        assertEquals(expected, OnnxRuntimeCalibrationTable.toJson(table(true)));
    }

    @Test
    void cacheTextIsNameAndRangePerLine() {
        assertEquals("caf\u00e9\" 0.10000000149011612\nx 1.5\n", OnnxRuntimeCalibrationTable.toCacheText(table(true)));
        assertEquals("y 3.0\n", OnnxRuntimeCalibrationTable.toCacheText(table(false)));
    }

    @Test
    void jsonRoundTripsToTheSameTable(@TempDir Path dir) {
        for (boolean symmetric : new boolean[] {true, false}) {
            CalibrationTable t = table(symmetric);
            Path f = dir.resolve("calibration.json");
            OnnxRuntimeCalibrationTable.writeJson(t, f);
            Map<String, OnnxRuntimeCalibrationTable.Range> r = OnnxRuntimeCalibrationTable.readJson(f);
            for (Map.Entry<String, CalibrationTable.Entry> e : t.entries().entrySet()) {
                assertEquals(e.getValue().min(), r.get(e.getKey()).lowest());
                assertEquals(e.getValue().max(), r.get(e.getKey()).highest());
            }
            CalibrationTable back = OnnxRuntimeCalibrationTable.toTable(r, symmetric, META);
            for (Map.Entry<String, CalibrationTable.Entry> e : t.entries().entrySet()) {
                CalibrationTable.Entry b = back.entry(e.getKey());
                assertEquals(e.getValue().scale(), b.scale(), e.getKey());
                assertEquals(e.getValue().zeroPoint(), b.zeroPoint(), e.getKey());
                assertEquals(e.getValue().amax(), b.amax(), e.getKey());
            }
        }
    }

    @Test
    void readsOlderAndOtherShapes() {
        byte[] old = "{\"a\": [-0.5, 2.0], \"b\": [0.0, 1e-3]}".getBytes(StandardCharsets.UTF_8);
        var r = OnnxRuntimeCalibrationTable.parseJson(old, "old.json");
        assertEquals(new OnnxRuntimeCalibrationTable.Range(-0.5f, 2f), r.get("a"));
        assertEquals(new OnnxRuntimeCalibrationTable.Range(0f, 0.001f), r.get("b"));
        byte[] minmax = ("{\"CLS\": \"TensorsData\", \"data\": {\"t\": {\"lowest\": {\"data\": [-1.25], \"dtype\": "
                + "\"float32\", \"CLS\": \"numpy.array\"}, \"highest\": {\"data\": [2.5], \"dtype\": \"float32\", "
                + "\"CLS\": \"numpy.array\"}, \"CLS\": \"TensorData\"}}, \"calibration_method\": {\"CLS\": "
                + "\"CalibrationMethod\", \"value\": \"CalibrationMethod.MinMax\"}}").getBytes(StandardCharsets.UTF_8);
        assertEquals(new OnnxRuntimeCalibrationTable.Range(-1.25f, 2.5f),
                OnnxRuntimeCalibrationTable.parseJson(minmax, "m.json").get("t"));
    }

    private static String error(String json) {
        KilnException e = assertThrows(KilnException.class,
                () -> OnnxRuntimeCalibrationTable.parseJson(json.getBytes(StandardCharsets.UTF_8), "calibration.json"));
        assertEquals(ErrorCode.IO, e.code());
        assertTrue(e.getMessage().startsWith("calibration.json: "), e.getMessage());
        return e.getMessage();
    }

    @Test
    void badFilesAreClearErrors(@TempDir Path dir) throws Exception {
        assertTrue(error("{\"a\": [1.0, 2.0]").contains("truncated"));
        assertTrue(error("{\"a\": [1.0]}").contains("tensor 'a'"));
        assertTrue(error("{\"a\": {\"lowest\": 1.0}}").contains("missing field 'highest'"));
        assertTrue(error("{\"a\": [2.0, 1.0]}").contains("lowest 2.0 > highest 1.0"));
        assertTrue(error("{\"a\": {\"lowest\": {\"data\": [1, 2]}, \"highest\": 3}}").contains("per-channel"));
        assertTrue(error("{\"a\": [\"x\", 1.0]}").contains("expected a number"));
        assertTrue(error("{\"CLS\": \"Other\"}").contains("TensorsData"));
        Path f = dir.resolve("calibration.json");
        Files.writeString(f, "{\"a\": [1e39, 2.0]}");
        KilnException e = assertThrows(KilnException.class, () -> OnnxRuntimeCalibrationTable.readJson(f));
        assertTrue(e.getMessage().startsWith(f.toString()) && e.getMessage().contains("not a finite float32"),
                e.getMessage());
    }
}
