package dev.kiln.calib;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.KilnArgumentException;
import dev.kiln.quant.QuantParams;
import dev.kiln.quant.QuantRange;
import dev.kiln.quant.Scales;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * ONNX Runtime's calibration table files, as {@code onnxruntime.quantization.quant_utils.write_calibration_table}
 * writes them (it also writes a flatbuffers file, which Kiln does not).
 *
 * <p>{@code calibration.json}: written in the format of ONNX Runtime 1.16 and later, where
 * {@code calibrator.compute_data()} returns a {@code TensorsData} of {@code TensorData(lowest, highest)} and the
 * JSON encoder turns numpy arrays into {@code {"data", "dtype", "CLS"}} objects; byte for byte what Python's
 * {@code json.dumps} gives (separators {@code ", "} and {@code ": "}, non-ASCII escaped, floats as Python's repr of
 * the float32 value):
 * <pre>{@code
 * {"CLS": "TensorsData", "data": {"x": {"lowest": {"data": -1.5, "dtype": "float32", "CLS": "numpy.array"},
 *   "highest": {"data": 1.5, "dtype": "float32", "CLS": "numpy.array"}, "CLS": "TensorData"}},
 *   "calibration_method": {"CLS": "CalibrationMethod", "value": "CalibrationMethod.Entropy"}}
 * }</pre>
 * (on one line). Reading accepts that, a bare {@code {name: TensorData}} dict, {@code data} given as a number or a
 * one-element list (the MinMax calibrator's shape), and the format of ONNX Runtime 1.15 and earlier,
 * {@code {name: [min, max]}}.
 *
 * <p>{@code calibration.cache}: one line per tensor, sorted by name, {@code <name> <value>} with the value as
 * Python's {@code str(float)}. ONNX Runtime up to 1.15 writes {@code max(|min|, |max|)}; later versions write
 * {@code max(highest, lowest)}, which is the same for the symmetric ranges TensorRT uses. Kiln writes
 * {@code max(|min|, |max|)}, the dynamic range TensorRT's execution provider expects.
 */
public final class OnnxRuntimeCalibrationTable {
    private OnnxRuntimeCalibrationTable() {
    }

    /** A tensor's calibrated range as ONNX Runtime stores it. */
    public record Range(float lowest, float highest) {
    }

    /** The text of {@code calibration.json} for the table. */
    public static String toJson(CalibrationTable table) {
        KilnArgumentException.check(table != null, "table must not be null");
        StringBuilder b = new StringBuilder("{\"CLS\": \"TensorsData\", \"data\": {");
        boolean first = true;
        for (Map.Entry<String, CalibrationTable.Entry> e : table.entries().entrySet()) {
            b.append(first ? "" : ", ");
            first = false;
            pythonString(b, e.getKey());
            b.append(": {\"lowest\": ");
            array(b, e.getValue().min());
            b.append(", \"highest\": ");
            array(b, e.getValue().max());
            b.append(", \"CLS\": \"TensorData\"}");
        }
        b.append("}, \"calibration_method\": {\"CLS\": \"CalibrationMethod\", \"value\": \"CalibrationMethod.")
                .append(ortMethod(table)).append("\"}}");
        return b.toString();
    }

    private static void array(StringBuilder b, float v) {
        b.append("{\"data\": ").append(FloatText.pythonRepr(v)).append(", \"dtype\": \"float32\", \"CLS\": "
                + "\"numpy.array\"}");
    }

    /** ORT's CalibrationMethod: the table's one method if ORT has it, else MinMax (the ranges are final anyway). */
    private static String ortMethod(CalibrationTable table) {
        String method = null;
        for (CalibrationTable.Entry e : table.entries().values()) {
            String m = e.method().startsWith("percentile") ? "percentile" : e.method();
            if (method != null && !method.equals(m)) {
                return "MinMax";
            }
            method = m;
        }
        if ("entropy".equals(method)) {
            return "Entropy";
        }
        return "percentile".equals(method) ? "Percentile" : "MinMax";
    }

    /** Python's json string: ASCII only, the short escapes, {@code \\uXXXX} for the rest. */
    private static void pythonString(StringBuilder b, String s) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                case '\n' -> b.append("\\n");
                case '\r' -> b.append("\\r");
                case '\t' -> b.append("\\t");
                case '\b' -> b.append("\\b");
                case '\f' -> b.append("\\f");
                default -> {
                    if (c < 0x20 || c > 0x7f) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
                }
            }
        }
        b.append('"');
    }

    /** Writes {@code calibration.json} atomically. */
    public static void writeJson(CalibrationTable table, Path file) {
        KilnArgumentException.check(file != null, "file must not be null");
        CalibFiles.writeAtomically(file, toJson(table).getBytes(StandardCharsets.UTF_8));
    }

    /** The text of {@code calibration.cache}: {@code <name> <max(|min|, |max|)>} lines, sorted, LF. */
    public static String toCacheText(CalibrationTable table) {
        KilnArgumentException.check(table != null, "table must not be null");
        StringBuilder b = new StringBuilder();
        for (Map.Entry<String, CalibrationTable.Entry> e : table.entries().entrySet()) {
            KilnArgumentException.check(e.getKey().indexOf('\n') < 0, "tensor name '" + e.getKey()
                    + "' contains a line break, which calibration.cache cannot hold");
            float range = Math.max(Math.abs(e.getValue().min()), Math.abs(e.getValue().max()));
            b.append(e.getKey()).append(' ').append(FloatText.pythonRepr(range)).append('\n');
        }
        return b.toString();
    }

    /** Writes {@code calibration.cache} atomically. */
    public static void writeCache(CalibrationTable table, Path file) {
        KilnArgumentException.check(file != null, "file must not be null");
        CalibFiles.writeAtomically(file, toCacheText(table).getBytes(StandardCharsets.UTF_8));
    }

    /** Reads a {@code calibration.json} (any of the shapes above): tensor name to range, in file order. */
    public static Map<String, Range> readJson(Path file) {
        KilnArgumentException.check(file != null, "file must not be null");
        return parseJson(CalibFiles.read(file), file);
    }

    /** Parses {@code calibration.json} bytes; {@code source} names them in errors. */
    public static Map<String, Range> parseJson(byte[] bytes, Object source) {
        JsonNode root = CalibJson.parse(bytes, source);
        CalibJson.Fields top = new CalibJson.Fields(root, source, "the top level");
        JsonNode data = root;
        if (root.has("CLS")) {
            if (!"TensorsData".equals(root.get("CLS").asText())) {
                throw top.error("CLS is '" + root.get("CLS").asText() + "', expected 'TensorsData'");
            }
            data = top.require("data");
        }
        CalibJson.Fields tensors = new CalibJson.Fields(data, source, "data");
        Map<String, Range> ranges = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = tensors.node().fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String where = "tensor '" + e.getKey() + "'";
            JsonNode v = e.getValue();
            float lo;
            float hi;
            if (v.isArray()) {
                if (v.size() != 2) {
                    throw CalibFiles.corrupt(source, where + ": expected [min, max], got " + v.size() + " values");
                }
                lo = number(v.get(0), source, where + " min");
                hi = number(v.get(1), source, where + " max");
            } else {
                CalibJson.Fields f = new CalibJson.Fields(v, source, where);
                lo = numpyValue(f.require("lowest"), source, where + " lowest");
                hi = numpyValue(f.require("highest"), source, where + " highest");
            }
            if (lo > hi) {
                throw CalibFiles.corrupt(source, where + ": lowest " + lo + " > highest " + hi);
            }
            ranges.put(e.getKey(), new Range(lo, hi));
        }
        return ranges;
    }

    /** A number, or ORT's numpy encoding {"data": number or [number], ...}. */
    private static float numpyValue(JsonNode v, Object source, String where) {
        if (v.isObject()) {
            JsonNode d = v.get("data");
            if (d == null) {
                throw CalibFiles.corrupt(source, where + ": missing field 'data'");
            }
            if (d.isArray()) {
                if (d.size() != 1) {
                    throw CalibFiles.corrupt(source, where + ": per-channel ranges (" + d.size()
                            + " values) are not supported; expected one value");
                }
                d = d.get(0);
            }
            return number(d, source, where);
        }
        return number(v, source, where);
    }

    private static float number(JsonNode v, Object source, String where) {
        if (v == null || !v.isNumber()) {
            throw CalibFiles.corrupt(source, where + ": expected a number, got " + v);
        }
        float f = Float.parseFloat(v.asText());
        if (!Float.isFinite(f)) {
            throw CalibFiles.corrupt(source, where + ": " + v.asText() + " is not a finite float32");
        }
        return f;
    }

    /**
     * A table from ONNX Runtime's ranges: symmetric ({@code amax = max(|lowest|, |highest|)}, scale amax/127) or
     * asymmetric uint8 (the range widened to include 0). Method {@code onnxruntime}, no counts.
     */
    public static CalibrationTable toTable(Map<String, Range> ranges, boolean symmetric,
                                           CalibrationTable.Metadata metadata) {
        KilnArgumentException.check(ranges != null && metadata != null, "ranges and metadata must not be null");
        Map<String, CalibrationTable.Entry> entries = new TreeMap<>();
        int bits = metadata.numBits();
        for (Map.Entry<String, Range> e : ranges.entrySet()) {
            float lo = Math.min(e.getValue().lowest(), 0f);
            float hi = Math.max(e.getValue().highest(), 0f);
            float amax = Math.max(-lo, hi);
            if (symmetric) {
                float scale = amax / QuantRange.qmax(bits, true);
                entries.put(e.getKey(), new CalibrationTable.Entry("onnxruntime", amax, scale, 0, -amax, amax, 0, 0, 0));
            } else {
                QuantParams q = Scales.asymmetric(lo, hi, bits, false);
                entries.put(e.getKey(), new CalibrationTable.Entry("onnxruntime", amax, q.scale()[0],
                        q.zeroPoint()[0], lo, hi, 0, 0, 0));
            }
        }
        return new CalibrationTable(metadata, symmetric, entries);
    }
}
