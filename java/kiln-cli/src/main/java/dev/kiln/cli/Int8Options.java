package dev.kiln.cli;

import dev.kiln.KilnArgumentException;
import dev.kiln.calib.CalibrationTable;
import dev.kiln.calib.TensorRtCalibrationCache;
import dev.kiln.calib.ThresholdMethod;
import dev.kiln.data.ArrayData;
import dev.kiln.data.DataSources;
import dev.kiln.data.FloatConversion;
import dev.kiln.data.NpyFile;
import dev.kiln.data.RepresentativeData;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.onnx.Int8Target;
import dev.kiln.onnx.Int8WeightRange;

import java.nio.file.Path;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

import picocli.CommandLine.Option;

/**
 * The options of INT8 calibration and evaluation shared by {@code optimize}, {@code calibrate} and {@code export}:
 * representative data and its split into calibration and held-out evaluation samples, labels, methods, targets,
 * weight range and method, and mixed precision.
 */
final class Int8Options {
    @Option(names = "--data", paramLabel = "SPEC", description = "representative data: FILE.npy, FILE.npz, an image "
            + "folder, or name=FILE,... for several inputs")
    String data;

    @Option(names = "--data-scale", paramLabel = "S", description = "multiply the data by S (e.g. 1/255 for uint8 "
            + "images); default 1")
    String dataScale = "1";

    @Option(names = "--data-offset", paramLabel = "O", description = "then add O; default 0")
    String dataOffset = "0";

    @Option(names = "--calib-range", paramLabel = "START:COUNT", description = "samples of --data to calibrate on "
            + "(default: the first min(1000, half))")
    String calibRange;

    @Option(names = "--eval-data", paramLabel = "SPEC", description = "held-out evaluation data (default: the "
            + "samples of --data after the calibration range)")
    String evalData;

    @Option(names = "--eval-range", paramLabel = "START:COUNT", description = "samples of the evaluation data")
    String evalRange;

    @Option(names = "--labels", paramLabel = "FILE.npy", description = "class labels, one per sample of the "
            + "evaluation data file (indexed like it): top-1 is reported")
    Path labels;

    @Option(names = "--calib-random", description = "calibrate on random inputs: a smoke run only, flagged in every "
            + "report")
    boolean calibRandom;

    @Option(names = "--calib-samples", paramLabel = "N", description = "with --calib-random: samples (default 64)")
    int calibSamples = 64;

    @Option(names = "--calib-method", split = ",", paramLabel = "METHOD|TENSOR=METHOD", description = "mse "
            + "(default), entropy (TensorRT's KL), minmax, percentile[:P]; per tensor or node as name=method")
    List<String> calibMethod = List.of();

    @Option(names = "--calib-batch", paramLabel = "N", description = "calibration batch size (default: the model's "
            + "fixed batch, else 32); Kiln's statistics do not depend on it, but TensorFlow's activations can differ in "
            + "the last bit between batch sizes, which can move a threshold by a bin")
    int calibBatch = -1;

    @Option(names = "--table", paramLabel = "FILE", description = "a calibration table (Kiln's table.json, or a "
            + "TensorRT calibration cache) instead of calibrating")
    Path table;

    @Option(names = "--int8-target", split = ",", paramLabel = "TARGET", description = "tensorrt, onnxruntime or "
            + "all: the INT8 ONNX layouts (optimize/calibrate default: all; export: tensorrt)")
    List<String> int8Target;

    @Option(names = "--int8-weights", paramLabel = "RANGE", description = "int8 weight codes: reduced (7-bit, exact "
            + "on ONNX Runtime's stock kernels on every x86 CPU) or full (TensorRT, VNNI/AMX CPUs). Default: reduced "
            + "for onnxruntime, full for tensorrt")
    String int8Weights;

    @Option(names = "--weight-method", paramLabel = "METHOD", description = "how each output channel's int8 weight "
            + "range is chosen: max (default), mse, percentile[:P] or entropy (the last three clip outlying weights)")
    String weightMethod;

    @Option(names = "--keep-float", split = ",", paramLabel = "NODE_OR_OP", description = "node names or op types "
            + "kept in float (mixed precision)")
    Set<String> keepFloat = Set.of();

    @Option(names = "--max-accuracy-drop", paramLabel = "POINTS", description = "keep the most sensitive layers in "
            + "float until top-1 drops at most POINTS percentage points (needs --labels)")
    Double maxAccuracyDrop;

    @Option(names = "--min-cosine", paramLabel = "C", description = "keep the most sensitive layers in float until "
            + "every output's cosine to FP32 is at least C")
    Double minCosine;

    Set<Int8Target> targets(Set<Int8Target> dflt) {
        if (int8Target == null || int8Target.isEmpty()) {
            return dflt;
        }
        Set<Int8Target> s = EnumSet.noneOf(Int8Target.class);
        for (String t : int8Target) {
            switch (t.trim().toLowerCase(Locale.ROOT)) {
                case "tensorrt", "trt" -> s.add(Int8Target.TENSORRT);
                case "onnxruntime", "ort" -> s.add(Int8Target.ONNXRUNTIME);
                case "all" -> s.addAll(EnumSet.allOf(Int8Target.class));
                default -> throw new KilnArgumentException("--int8-target: unknown target '" + t
                        + "' (known: tensorrt, onnxruntime, all)");
            }
        }
        return s;
    }

    Int8WeightRange weightRange() {
        if (int8Weights == null) {
            return null;
        }
        return switch (int8Weights.toLowerCase(Locale.ROOT)) {
            case "full" -> Int8WeightRange.FULL;
            case "reduced", "7bit" -> Int8WeightRange.REDUCED;
            default -> throw new KilnArgumentException("--int8-weights: unknown range '" + int8Weights
                    + "' (known: full, reduced)");
        };
    }

    /** The --weight-method, or max |w| (minmax) when not given. */
    ThresholdMethod weightMethod() {
        if (weightMethod == null) {
            return ThresholdMethod.minmax();
        }
        try {
            return ThresholdMethod.parse(weightMethod);
        } catch (KilnArgumentException e) {
            boolean percentile = weightMethod.trim().startsWith("percentile");
            throw new KilnArgumentException("--weight-method: " + (percentile ? e.getMessage()
                    : "unknown method '" + weightMethod + "' (known: max, mse, percentile[:P], entropy)"));
        }
    }

    /** Whether a --calib-method item names a tensor ({@code name=method}) rather than the default method. */
    private static boolean perTensor(String item) {
        return item.contains("=") && !item.trim().toLowerCase(Locale.ROOT).startsWith("percentile=");
    }

    ThresholdMethod defaultMethod() {
        for (String m : calibMethod) {
            if (!perTensor(m)) {
                return ThresholdMethod.parse(m);
            }
        }
        return dev.kiln.pipeline.CalibrateJob.DEFAULT_METHOD;
    }

    Map<String, ThresholdMethod> perTensorMethods() {
        Map<String, ThresholdMethod> m = new LinkedHashMap<>();
        for (String s : calibMethod) {
            if (perTensor(s)) {
                int eq = s.indexOf('=');
                m.put(s.substring(0, eq).trim(), ThresholdMethod.parse(s.substring(eq + 1)));
            }
        }
        return m;
    }

    private FloatConversion conversion() {
        return FloatConversion.of(FloatConversion.parseNumber(dataScale), FloatConversion.parseNumber(dataOffset));
    }

    /** START:COUNT, checked; an error names the option. */
    static long[] range(String spec, String option) {
        String[] p = spec.split(":");
        try {
            KilnArgumentException.check(p.length == 2, option + " must be START:COUNT, got '" + spec + "'");
            long start = Long.parseLong(p[0].trim());
            long count = Long.parseLong(p[1].trim());
            KilnArgumentException.check(start >= 0 && count > 0, option + ": START must be >= 0 and COUNT > 0, got '"
                    + spec + "'");
            return new long[] {start, count};
        } catch (NumberFormatException e) {
            throw new KilnArgumentException(option + " must be START:COUNT with whole numbers, got '" + spec + "'");
        }
    }

    /** The samples of {@code --data} (without a range). */
    private long dataSamples(List<SignatureTensor> inputs) {
        return DataSources.parse(data, Path.of(""), inputs, conversion()).build().sampleCount();
    }

    private long[] calibWindow(List<SignatureTensor> inputs) {
        if (calibRange != null) {
            return range(calibRange, "--calib-range");
        }
        long n = dataSamples(inputs);
        return new long[] {0, Math.max(1, Math.min(1000, n / 2))};
    }

    /** The calibration data, or null when a table is given (or nothing at all). */
    RepresentativeData calibrationData(List<SignatureTensor> inputs) {
        KilnArgumentException.check(!(calibRandom && data != null), "--calib-random and --data contradict each "
                + "other: give one");
        KilnArgumentException.check(!(table != null && (data != null && calibRange != null || calibRandom)),
                "--table replaces calibration: drop --calib-range / --calib-random");
        if (calibRandom) {
            return RepresentativeData.random(inputs, 7, calibSamples).withBatchSize(calibBatch > 0 ? calibBatch : 16);
        }
        if (data == null || table != null) {
            return null;
        }
        long[] w = calibWindow(inputs);
        ArrayData.Builder b = DataSources.parse(data, Path.of(""), inputs, conversion()).range(w[0], w[1]);
        return (calibBatch > 0 ? b.batchSize(calibBatch) : b).build();
    }

    /** The held-out evaluation window: start and count in the evaluation file, or null when there is none. */
    private long[] evalWindow(List<SignatureTensor> inputs) {
        if (evalRange != null) {
            return range(evalRange, "--eval-range");
        }
        if (evalData != null) {
            return null; // the whole file
        }
        if (data == null) {
            return null;
        }
        long n = dataSamples(inputs);
        long[] c = table != null ? new long[] {0, 0} : calibWindow(inputs);
        long start = c[0] + c[1];
        KilnArgumentException.check(start < n, "no held-out samples left in " + data + " after the calibration "
                + "range: give --eval-data or --eval-range");
        return new long[] {start, n - start};
    }

    /** The evaluation data (never the calibration samples by default), or null. */
    RepresentativeData evaluationData(List<SignatureTensor> inputs) {
        String spec = evalData != null ? evalData : data;
        if (spec == null) {
            return null;
        }
        long[] w = evalWindow(inputs);
        if (evalData == null && evalRange != null && calibRange != null) {
            long[] c = range(calibRange, "--calib-range");
            boolean overlap = w[0] < c[0] + c[1] && c[0] < w[0] + w[1];
            KilnArgumentException.check(!overlap, "--eval-range " + evalRange + " overlaps --calib-range "
                    + calibRange + ": evaluation must be on held-out samples");
        }
        ArrayData.Builder b = DataSources.parse(spec, Path.of(""), inputs, conversion());
        if (w != null) {
            b = b.range(w[0], w[1]);
        }
        return b.batchSize(calibBatch > 0 ? calibBatch : 64).build();
    }

    /** The labels of the evaluation samples, or null. */
    long[] labels(List<SignatureTensor> inputs) {
        if (labels == null) {
            return null;
        }
        KilnArgumentException.check(data != null || evalData != null, "--labels need --data or --eval-data");
        return readLabels(labels, evalWindow(inputs));
    }

    /** The labels of {@code window} (start, count; null: all) from a .npy file, checked against its length. */
    static long[] readLabels(Path labels, long[] window) {
        try (NpyFile f = NpyFile.open(labels)) {
            long start = window == null ? 0 : window[0];
            long count = window == null ? f.sampleCount() : window[1];
            KilnArgumentException.check(start + count <= f.sampleCount(), "--labels " + labels + " has "
                    + f.sampleCount() + " labels; the evaluation needs samples " + start + ".." + (start + count - 1));
            return f.read(start, (int) count).asLongs();
        }
    }

    /** A given table: Kiln's JSON, or a TensorRT calibration cache (anything else is refused by its reader). */
    CalibrationTable table() {
        if (table == null) {
            return null;
        }
        String name = table.getFileName().toString().toLowerCase(Locale.ROOT);
        if (name.endsWith(".json")) {
            return CalibrationTable.load(table);
        }
        return TensorRtCalibrationCache.read(table).toTable("", "TensorRT calibration cache " + table);
    }
}
