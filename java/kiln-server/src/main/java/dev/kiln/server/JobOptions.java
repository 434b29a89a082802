package dev.kiln.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import dev.kiln.KilnArgumentException;
import dev.kiln.calib.ThresholdMethod;
import dev.kiln.onnx.Int8Target;
import dev.kiln.onnx.Int8WeightRange;
import dev.kiln.onnx.Precision;
import dev.kiln.pipeline.OptimizeJob;
import dev.kiln.tensorflow.RecurrentLayers;
import dev.kiln.sparse.PruningPattern;
import dev.kiln.tensorrt.EngineOptions;
import dev.kiln.tensorrt.EnginePrecision;
import dev.kiln.tensorrt.HardwareCompatibility;
import dev.kiln.tensorrt.OptimizationProfile;

import java.util.ArrayList;
import java.util.EnumSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Supplier;

/**
 * The optimize options of one job, from the {@code options} part's JSON: the {@code kiln optimize} flags in camel case
 * ({@code formats}, {@code precisions}, {@code calibRandom}, {@code calibSamples}, {@code calibMethod},
 * {@code calibBatch}, {@code dataScale}, {@code dataOffset}, {@code int8Targets}, {@code int8Weights},
 * {@code weightMethod}, {@code keepFloat}, {@code minCosine}, {@code prune}, {@code lowRank}, {@code opset},
 * {@code samples}, {@code batch}, {@code seed}, {@code rnn}) and the TensorRT build flags in a {@code tensorrt} object. Flags that
 * name files on the server (a timing cache, a calibration cache) or a GPU (the scheduler picks it) are not options.
 * Every value is checked here by the same parser the CLI uses, so a bad one is a 400 that names it before the job is
 * queued. {@link #canonicalJson} is the options with every default filled in and keys sorted, so that two
 * submissions that mean the same run have the same cache key.
 */
record JobOptions(Set<OptimizeJob.Format> formats, Set<Precision> precisions, boolean calibRandom, int calibSamples,
                  int opset, int samples, int batch, long seed, Double lowRank, String prune,
                  List<String> calibMethod, int calibBatch, double dataScale, double dataOffset,
                  Set<Int8Target> int8Targets, String int8Weights, String weightMethod, Set<String> keepFloat,
                  Double minCosine, Map<String, Object> tensorrt, RecurrentLayers rnn) {

    static final List<String> KEYS = List.of("formats", "precisions", "calibRandom", "calibSamples", "calibMethod",
            "calibBatch", "dataScale", "dataOffset", "int8Targets", "int8Weights", "weightMethod", "keepFloat",
            "minCosine", "prune", "lowRank", "opset", "samples", "batch", "seed", "tensorrt", "rnn");
    static final List<String> TENSORRT_KEYS = List.of("workspace", "tacticSharedMemory", "builderOptimizationLevel",
            "sparseWeights", "versionCompatible", "hardwareCompatibility", "minShapes", "optShapes", "maxShapes");
    private static final ObjectMapper MAPPER = new ObjectMapper();

    static JobOptions defaults() {
        return new JobOptions(EnumSet.of(OptimizeJob.Format.SAVEDMODEL, OptimizeJob.Format.ONNX),
                EnumSet.of(Precision.FP32), false, 64, 17, 4, 2, 42, null, null, List.of("mse"), -1, 1, 0,
                EnumSet.allOf(Int8Target.class), null, "max", Set.of(), null, Map.of(), RecurrentLayers.AUTO);
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
        checkKeys(root, KEYS, "");
        Set<OptimizeJob.Format> formats = has(root, "formats") ? formats(root.get("formats")) : d.formats;
        Set<Precision> precisions = has(root, "precisions") ? precisions(root.get("precisions")) : d.precisions;
        boolean calibRandom = has(root, "calibRandom") ? bool(root, "calibRandom") : d.calibRandom;
        int calibSamples = has(root, "calibSamples") ? integer(root, "calibSamples", 1, 100_000) : d.calibSamples;
        int opset = has(root, "opset") ? integer(root, "opset", 13, 23) : d.opset;
        int samples = has(root, "samples") ? integer(root, "samples", 1, 1000) : d.samples;
        int batch = has(root, "batch") ? integer(root, "batch", 1, 4096) : d.batch;
        long seed = has(root, "seed") ? integer(root, "seed", Integer.MIN_VALUE, Integer.MAX_VALUE) : d.seed;
        Double lowRank = has(root, "lowRank") ? fraction(root, "lowRank", "the share of squared singular values "
                + "kept") : null;
        String prune = null;
        if (has(root, "prune")) {
            prune = text(root, "prune").strip().toLowerCase(Locale.ROOT);
            String spec = prune;
            checked("prune", () -> PruningPattern.parse(spec));
        }
        List<String> calibMethod = has(root, "calibMethod") ? stringOrStrings(root.get("calibMethod"), "calibMethod")
                : d.calibMethod;
        calibMethod = calibMethod.stream().map(s -> s.strip()).toList();
        for (String m : calibMethod) {
            checked("calibMethod", () -> ThresholdMethod.parse(m.contains("=") && !m.startsWith("percentile=")
                    ? m.substring(m.indexOf('=') + 1) : m));
        }
        int calibBatch = has(root, "calibBatch") ? integer(root, "calibBatch", 1, 4096) : d.calibBatch;
        double dataScale = has(root, "dataScale") ? number(root, "dataScale") : d.dataScale;
        double dataOffset = has(root, "dataOffset") ? number(root, "dataOffset") : d.dataOffset;
        Set<Int8Target> targets = has(root, "int8Targets") ? int8Targets(root.get("int8Targets")) : d.int8Targets;
        String int8Weights = null;
        if (has(root, "int8Weights")) {
            int8Weights = text(root, "int8Weights").strip().toLowerCase(Locale.ROOT);
            if (!int8Weights.equals("full") && !int8Weights.equals("reduced")) {
                throw ApiException.badRequest("option 'int8Weights': unknown range '" + int8Weights
                        + "' (known: full, reduced)");
            }
        }
        String weightMethod = has(root, "weightMethod") ? text(root, "weightMethod").strip().toLowerCase(Locale.ROOT)
                : d.weightMethod;
        String wm = weightMethod;
        checked("weightMethod", () -> ThresholdMethod.parse(wm));
        Set<String> keepFloat = has(root, "keepFloat") ? new TreeSet<>(strings(root.get("keepFloat"), "keepFloat"))
                : d.keepFloat;
        Double minCosine = has(root, "minCosine") ? fraction(root, "minCosine", "the least cosine of every output "
                + "to FP32") : null;
        Map<String, Object> tensorrt = has(root, "tensorrt") ? tensorrt(root.get("tensorrt")) : d.tensorrt;
        RecurrentLayers rnn = d.rnn;
        if (has(root, "rnn")) {
            String mode = text(root, "rnn");
            checked("rnn", () -> RecurrentLayers.parse(mode));
            rnn = RecurrentLayers.parse(mode);
        }
        JobOptions o = new JobOptions(formats, precisions, calibRandom, calibSamples, opset, samples, batch, seed,
                lowRank, prune, calibMethod, calibBatch, dataScale, dataOffset, targets, int8Weights, weightMethod,
                keepFloat, minCosine, tensorrt, rnn);
        checked("tensorrt", o::engineOptions);
        if (formats.contains(OptimizeJob.Format.TENSORRT) && precisions.contains(Precision.INT8)
                && !targets.contains(Int8Target.TENSORRT)) {
            throw ApiException.badRequest("format 'tensorrt' with precision 'int8' builds the engine from the TensorRT "
                    + "layout: add \"tensorrt\" to 'int8Targets'");
        }
        return o;
    }

    /** Whether this job builds TensorRT engines (and so wants a GPU slot). */
    boolean buildsEngines() {
        return formats.contains(OptimizeJob.Format.TENSORRT);
    }

    /** The TensorRT build options (the precision is set per engine by the pipeline); {@code gpu} -1: device 0. */
    EngineOptions engineOptions(int gpu) {
        EngineOptions.Builder b = EngineOptions.builder().precision(EnginePrecision.FP32).device(Math.max(0, gpu));
        if (tensorrt.containsKey("workspace")) {
            b.workspaceBytes(EngineOptions.parseBytes((String) tensorrt.get("workspace"), "tensorrt.workspace"));
        }
        if (tensorrt.containsKey("tacticSharedMemory")) {
            b.tacticSharedMemoryBytes(EngineOptions.parseBytes((String) tensorrt.get("tacticSharedMemory"),
                    "tensorrt.tacticSharedMemory"));
        }
        if (tensorrt.containsKey("builderOptimizationLevel")) {
            b.optimizationLevel((Integer) tensorrt.get("builderOptimizationLevel"));
        }
        b.sparseWeights(Boolean.TRUE.equals(tensorrt.get("sparseWeights")));
        b.versionCompatible(Boolean.TRUE.equals(tensorrt.get("versionCompatible")));
        if (tensorrt.containsKey("hardwareCompatibility")) {
            b.hardwareCompatibility(HardwareCompatibility.parse((String) tensorrt.get("hardwareCompatibility")));
        }
        List<?> min = (List<?>) tensorrt.getOrDefault("minShapes", List.of());
        List<?> opt = (List<?>) tensorrt.getOrDefault("optShapes", List.of());
        List<?> max = (List<?>) tensorrt.getOrDefault("maxShapes", List.of());
        KilnArgumentException.check(min.size() == opt.size() && opt.size() == max.size(), "minShapes, optShapes and "
                + "maxShapes come together, one entry per profile; got " + min.size() + ", " + opt.size() + " and "
                + max.size());
        for (int i = 0; i < min.size(); i++) {
            b.profile(OptimizationProfile.parse((String) min.get(i), (String) opt.get(i), (String) max.get(i)));
        }
        return b.build();
    }

    private EngineOptions engineOptions() {
        return engineOptions(-1);
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
        m.put("prune", prune);
        m.put("calibMethod", calibMethod);
        m.put("calibBatch", calibBatch > 0 ? calibBatch : null); // null: the default (the model's batch, else 16)
        m.put("dataScale", dataScale);
        m.put("dataOffset", dataOffset);
        m.put("int8Targets", int8Targets.stream().map(JobOptions::targetName).sorted().toList());
        m.put("int8Weights", int8Weights);
        m.put("weightMethod", weightMethod);
        m.put("keepFloat", keepFloat.isEmpty() ? null : List.copyOf(new TreeSet<>(keepFloat)));
        m.put("minCosine", minCosine);
        m.put("tensorrt", new TreeMap<>(tensorrt));
        if (rnn != RecurrentLayers.AUTO) { // absent when default: the cache keys of earlier jobs stay valid
            m.put("rnn", rnn.name().toLowerCase(Locale.ROOT));
        }
        try {
            return MAPPER.writeValueAsString(m);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Checks what needs the model's calibration data: INT8 needs data (a {@code data} part or {@code data_path}) or
     * calibRandom (a smoke run, flagged in the report).
     */
    void checkCalibration(boolean hasData) {
        if (precisions.contains(Precision.INT8) && !hasData && !calibRandom) {
            throw ApiException.badRequest("precision 'int8' needs calibration data: a 'data' part (.npy or .npz), a "
                    + "'data_path' under an allowed root, or \"calibRandom\": true for a smoke run");
        }
        if (hasData && calibRandom) {
            throw ApiException.badRequest("calibration data and \"calibRandom\": true contradict each other: give one");
        }
        if (hasData && !precisions.contains(Precision.INT8)) {
            throw ApiException.badRequest("calibration data calibrates INT8, but 'precisions' has no 'int8'");
        }
    }

    ThresholdMethod defaultCalibMethod() {
        for (String m : calibMethod) {
            if (!perTensor(m)) {
                return ThresholdMethod.parse(m);
            }
        }
        return dev.kiln.pipeline.CalibrateJob.DEFAULT_METHOD;
    }

    Map<String, ThresholdMethod> perTensorCalibMethods() {
        Map<String, ThresholdMethod> m = new LinkedHashMap<>();
        for (String s : calibMethod) {
            if (perTensor(s)) {
                int eq = s.indexOf('=');
                m.put(s.substring(0, eq).strip(), ThresholdMethod.parse(s.substring(eq + 1)));
            }
        }
        return m;
    }

    private static boolean perTensor(String item) {
        return item.contains("=") && !item.toLowerCase(Locale.ROOT).startsWith("percentile=");
    }

    /** The int8 weight range, or null for the pipeline's default per target. */
    Int8WeightRange int8WeightRange() {
        return int8Weights == null ? null : int8Weights.equals("full") ? Int8WeightRange.FULL
                : Int8WeightRange.REDUCED;
    }

    static String precisionName(Precision p) {
        return switch (p) {
            case FP32 -> "fp32";
            case FP16 -> "fp16";
            case INT8 -> "int8";
            case INT8_WEIGHTS_ONLY -> "int8-dynamic";
        };
    }

    private static String targetName(Int8Target t) {
        return t == Int8Target.TENSORRT ? "tensorrt" : "onnxruntime";
    }

    /** A present, non-null key (null means the default). */
    private static boolean has(JsonNode root, String key) {
        return root.has(key) && !root.get(key).isNull();
    }

    private static void checkKeys(JsonNode object, List<String> known, String prefix) {
        for (Iterator<String> it = object.fieldNames(); it.hasNext(); ) {
            String k = it.next();
            if (!known.contains(k)) {
                throw ApiException.badRequest("unknown option '" + prefix + k + "' (known: " + prefix
                        + String.join(", " + prefix, known) + ")");
            }
        }
    }

    /** Runs a library parser on an option's value: its refusal becomes a 400 naming the option. */
    private static void checked(String key, Supplier<?> parse) {
        try {
            parse.get();
        } catch (KilnArgumentException | IllegalArgumentException | ClassCastException e) {
            throw ApiException.badRequest("option '" + key + "': " + e.getMessage());
        }
    }

    private static Map<String, Object> tensorrt(JsonNode v) {
        if (!v.isObject()) {
            throw ApiException.badRequest("option 'tensorrt' must be an object of TensorRT build flags ("
                    + String.join(", ", TENSORRT_KEYS) + "), got " + v);
        }
        checkKeys(v, TENSORRT_KEYS, "tensorrt.");
        Map<String, Object> m = new TreeMap<>();
        for (String k : new String[] {"workspace", "tacticSharedMemory", "hardwareCompatibility"}) {
            if (has(v, k)) {
                m.put(k, textValue(v.get(k), "tensorrt." + k));
            }
        }
        if (has(v, "builderOptimizationLevel")) {
            JsonNode n = v.get("builderOptimizationLevel");
            if (!n.isIntegralNumber() || n.asInt() < 0 || n.asInt() > 5) {
                throw ApiException.badRequest("option 'tensorrt.builderOptimizationLevel' must be a whole number in "
                        + "[0, 5], got " + n);
            }
            m.put("builderOptimizationLevel", n.asInt());
        }
        for (String k : new String[] {"sparseWeights", "versionCompatible"}) {
            if (has(v, k)) {
                if (!v.get(k).isBoolean()) {
                    throw ApiException.badRequest("option 'tensorrt." + k + "' must be true or false, got " + v.get(k));
                }
                m.put(k, v.get(k).asBoolean());
            }
        }
        for (String k : new String[] {"minShapes", "optShapes", "maxShapes"}) {
            if (has(v, k)) {
                m.put(k, stringOrStrings(v.get(k), "tensorrt." + k));
            }
        }
        return m;
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

    private static Set<Int8Target> int8Targets(JsonNode v) {
        Set<Int8Target> set = EnumSet.noneOf(Int8Target.class);
        for (String s : strings(v, "int8Targets")) {
            switch (s.toLowerCase(Locale.ROOT)) {
                case "tensorrt" -> set.add(Int8Target.TENSORRT);
                case "onnxruntime" -> set.add(Int8Target.ONNXRUNTIME);
                case "all" -> set.addAll(EnumSet.allOf(Int8Target.class));
                default -> throw ApiException.badRequest("option 'int8Targets': unknown target '" + s
                        + "' (known: tensorrt, onnxruntime, all)");
            }
        }
        return set;
    }

    /** A string or a non-empty array of strings. */
    private static List<String> stringOrStrings(JsonNode v, String key) {
        return v.isTextual() ? List.of(v.asText()) : strings(v, key);
    }

    private static List<String> strings(JsonNode v, String key) {
        if (!(v instanceof ArrayNode a) || a.isEmpty()) {
            throw ApiException.badRequest("option '" + key + "' must be a non-empty array of strings, got " + v);
        }
        List<String> out = new ArrayList<>();
        for (JsonNode e : a) {
            if (!e.isTextual()) {
                throw ApiException.badRequest("option '" + key + "' must hold strings, got " + e);
            }
            out.add(e.asText());
        }
        return out;
    }

    private static String text(JsonNode root, String key) {
        return textValue(root.get(key), key);
    }

    private static String textValue(JsonNode v, String key) {
        if (!v.isTextual()) {
            throw ApiException.badRequest("option '" + key + "' must be a string, got " + v);
        }
        return v.asText();
    }

    private static boolean bool(JsonNode root, String key) {
        JsonNode v = root.get(key);
        if (!v.isBoolean()) {
            throw ApiException.badRequest("option '" + key + "' must be true or false, got " + v);
        }
        return v.asBoolean();
    }

    private static double number(JsonNode root, String key) {
        JsonNode v = root.get(key);
        if (!v.isNumber() || !Double.isFinite(v.asDouble())) {
            throw ApiException.badRequest("option '" + key + "' must be a number, got " + v);
        }
        return v.asDouble();
    }

    private static double fraction(JsonNode root, String key, String meaning) {
        JsonNode v = root.get(key);
        if (!v.isNumber() || v.asDouble() <= 0 || v.asDouble() > 1) {
            throw ApiException.badRequest("option '" + key + "' must be a number in (0, 1] (" + meaning + "), got "
                    + v);
        }
        return v.asDouble();
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
