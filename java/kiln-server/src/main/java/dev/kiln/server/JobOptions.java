package dev.kiln.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.kiln.onnx.Precision;
import dev.kiln.pipeline.OptimizeJob;

import java.util.EnumSet;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The optimize options of one job, from the {@code options} part's JSON: the same names and values as the
 * {@code kiln optimize} flags ({@code formats}, {@code precisions}, {@code calibRandom}, {@code calibSamples},
 * {@code opset}, {@code samples}, {@code batch}, {@code seed}, {@code lowRank}). An unknown key or value is a 400
 * that names it. {@link #canonicalJson} is the options with every default filled in and keys sorted, so that two
 * submissions that mean the same run have the same cache key.
 */
record JobOptions(Set<OptimizeJob.Format> formats, Set<Precision> precisions, boolean calibRandom, int calibSamples,
                  int opset, int samples, int batch, long seed, Double lowRank) {

    static final List<String> KEYS = List.of("formats", "precisions", "calibRandom", "calibSamples", "opset",
            "samples", "batch", "seed", "lowRank");
    private static final ObjectMapper MAPPER = new ObjectMapper();

    static JobOptions defaults() {
        return new JobOptions(EnumSet.of(OptimizeJob.Format.SAVEDMODEL, OptimizeJob.Format.ONNX),
                EnumSet.of(Precision.FP32), false, 64, 17, 4, 2, 42, null);
    }

    /** Parses the {@code options} part; null or blank means all defaults. */
    static JobOptions parse(String json) {
        JobOptions d = defaults();
        if (json == null || json.isBlank()) {
            return d;
        }
        JsonNode root;
        try {
            root = MAPPER.readTree(json);
        } catch (JsonProcessingException e) {
            throw ApiException.badRequest("the 'options' part is not valid JSON: " + e.getOriginalMessage());
        }
        if (root == null || !root.isObject()) {
            throw ApiException.badRequest("the 'options' part must be a JSON object");
        }
        for (Iterator<String> it = root.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!KEYS.contains(k)) {
                throw ApiException.badRequest("unknown option '" + k + "' (known: " + String.join(", ", KEYS) + ")");
            }
        }
        Set<OptimizeJob.Format> formats = root.has("formats") ? formats(root.get("formats")) : d.formats;
        Set<Precision> precisions = root.has("precisions") ? precisions(root.get("precisions")) : d.precisions;
        boolean calibRandom = root.has("calibRandom") ? bool(root, "calibRandom") : d.calibRandom;
        int calibSamples = root.has("calibSamples") ? integer(root, "calibSamples", 1, 100_000) : d.calibSamples;
        int opset = root.has("opset") ? integer(root, "opset", 13, 23) : d.opset;
        int samples = root.has("samples") ? integer(root, "samples", 1, 1000) : d.samples;
        int batch = root.has("batch") ? integer(root, "batch", 1, 4096) : d.batch;
        long seed = root.has("seed") ? integer(root, "seed", Integer.MIN_VALUE, Integer.MAX_VALUE) : d.seed;
        Double lowRank = null;
        if (root.has("lowRank") && !root.get("lowRank").isNull()) {
            JsonNode v = root.get("lowRank");
            if (!v.isNumber() || v.asDouble() <= 0 || v.asDouble() > 1) {
                throw ApiException.badRequest("option 'lowRank' must be a number in (0, 1] (the share of squared "
                        + "singular values kept), got " + v);
            }
            lowRank = v.asDouble();
        }
        return new JobOptions(formats, precisions, calibRandom, calibSamples, opset, samples, batch, seed, lowRank);
    }

    /** Every option with its value, keys sorted: the form that is stored and hashed. */
    String canonicalJson() {
        Map<String, Object> m = new TreeMap<>();
        m.put("formats", formats.stream().map(f -> f.name().toLowerCase(Locale.ROOT)).sorted().toList());
        m.put("precisions", precisions.stream().map(JobOptions::precisionName).sorted().toList());
        m.put("calibRandom", calibRandom);
        m.put("calibSamples", calibSamples);
        m.put("opset", opset);
        m.put("samples", samples);
        m.put("batch", batch);
        m.put("seed", seed);
        m.put("lowRank", lowRank);
        try {
            return MAPPER.writeValueAsString(m);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /** Checks what needs the model's calibration data: INT8 needs a {@code data} part or calibRandom. */
    void checkCalibration(boolean hasData) {
        if (precisions.contains(Precision.INT8) && !hasData && !calibRandom) {
            throw ApiException.badRequest("precision 'int8' needs calibration data: a 'data' part (.npy or .npz) or "
                    + "\"calibRandom\": true for a smoke run");
        }
        if (hasData && calibRandom) {
            throw ApiException.badRequest("a 'data' part and \"calibRandom\": true contradict each other: give one");
        }
        if (hasData && !precisions.contains(Precision.INT8)) {
            throw ApiException.badRequest("a 'data' part calibrates INT8, but 'precisions' has no 'int8'");
        }
    }

    static String precisionName(Precision p) {
        return switch (p) {
            case FP32 -> "fp32";
            case FP16 -> "fp16";
            case INT8 -> "int8";
            case INT8_WEIGHTS_ONLY -> "int8-dynamic";
        };
    }

    private static Set<OptimizeJob.Format> formats(JsonNode v) {
        Set<OptimizeJob.Format> set = EnumSet.noneOf(OptimizeJob.Format.class);
        for (String s : strings(v, "formats")) {
            switch (s.toLowerCase(Locale.ROOT)) {
                case "savedmodel" -> set.add(OptimizeJob.Format.SAVEDMODEL);
                case "frozen" -> set.add(OptimizeJob.Format.FROZEN);
                case "onnx" -> set.add(OptimizeJob.Format.ONNX);
                case "tflite" -> set.add(OptimizeJob.Format.TFLITE);
                case "tensorrt" -> set.add(OptimizeJob.Format.TENSORRT);
                default -> throw ApiException.badRequest("option 'formats': unknown format '" + s
                        + "' (known: savedmodel, frozen, onnx, tflite, tensorrt)");
            }
        }
        return set;
    }

    private static Set<Precision> precisions(JsonNode v) {
        Set<Precision> set = EnumSet.noneOf(Precision.class);
        for (String s : strings(v, "precisions")) {
            switch (s.toLowerCase(Locale.ROOT)) {
                case "fp32" -> set.add(Precision.FP32);
                case "fp16" -> set.add(Precision.FP16);
                case "int8-dynamic" -> set.add(Precision.INT8_WEIGHTS_ONLY);
                case "int8" -> set.add(Precision.INT8);
                default -> throw ApiException.badRequest("option 'precisions': unknown precision '" + s
                        + "' (known: fp32, fp16, int8-dynamic, int8)");
            }
        }
        return set;
    }

    private static List<String> strings(JsonNode v, String key) {
        if (!(v instanceof ArrayNode a) || a.isEmpty()) {
            throw ApiException.badRequest("option '" + key + "' must be a non-empty array of strings, got " + v);
        }
        List<String> out = new java.util.ArrayList<>();
        for (JsonNode e : a) {
            if (!e.isTextual()) {
                throw ApiException.badRequest("option '" + key + "' must hold strings, got " + e);
            }
            out.add(e.asText());
        }
        return out;
    }

    private static boolean bool(JsonNode root, String key) {
        JsonNode v = root.get(key);
        if (!v.isBoolean()) {
            throw ApiException.badRequest("option '" + key + "' must be true or false, got " + v);
        }
        return v.asBoolean();
    }

    private static int integer(JsonNode root, String key, int min, int max) {
        JsonNode v = root.get(key);
        if (!v.isIntegralNumber() || v.asLong() < min || v.asLong() > max) {
            throw ApiException.badRequest("option '" + key + "' must be a whole number in [" + min + ", " + max
                    + "], got " + v);
        }
        return v.asInt();
    }
}
