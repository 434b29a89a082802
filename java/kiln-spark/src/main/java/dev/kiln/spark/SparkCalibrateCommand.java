package dev.kiln.spark;

import dev.kiln.KilnArgumentException;
import dev.kiln.calib.CalibrationTable;
import dev.kiln.calib.TensorRtCalibrationCache;
import dev.kiln.calib.ThresholdMethod;
import dev.kiln.data.FloatConversion;
import dev.kiln.onnx.Int8Target;
import dev.kiln.pipeline.CalibrateJob;
import dev.kiln.pipeline.Reports;

import org.apache.spark.sql.SparkSession;

import java.nio.file.Path;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code kiln spark calibrate MODEL --data PATH --master local[2] -o table.json}: {@code kiln calibrate} on Spark, with
 * its options and its output files (the same bytes). MODEL and --data may be Hadoop-compatible URIs; --data may be
 * a glob of shard files.
 */
@Command(name = "calibrate", mixinStandardHelpOptions = true,
        description = "Run the model over representative data on Spark's executors and write INT8 calibration "
                + "tables, as kiln calibrate does.")
final class SparkCalibrateCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "MODEL", description = "SavedModel directory or frozen GraphDef .pb "
            + "(a path or a URI: hdfs://, s3a://, file://, ...)")
    String model;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "TABLE.json",
            description = "the calibration table to write (on the driver); the other formats go beside it")
    Path output;

    @Option(names = "--data", required = true, paramLabel = "SPEC", description = "representative data: FILE.npy, "
            + "FILE.npz, an image folder, name=FILE,... for several inputs, or a glob of shards (DIR/part-*.npy); "
            + "paths or URIs")
    String data;

    @Option(names = "--data-scale", paramLabel = "S", description = "multiply the data by S; default 1")
    String dataScale = "1";

    @Option(names = "--data-offset", paramLabel = "O", description = "then add O; default 0")
    String dataOffset = "0";

    @Option(names = "--calib-range", paramLabel = "START:COUNT", description = "samples of --data to calibrate on "
            + "(default: the first min(1000, half)); not with a glob of shards")
    String calibRange;

    @Option(names = "--calib-method", split = ",", paramLabel = "METHOD|TENSOR=METHOD", description = "mse "
            + "(default), entropy, minmax, percentile[:P]; per tensor or node as name=method")
    List<String> calibMethod = List.of();

    @Option(names = "--calib-batch", paramLabel = "N", description = "batch size (default: the model's fixed batch, "
            + "else 32); the table does not depend on it")
    int calibBatch;

    @Option(names = "--int8-target", split = ",", paramLabel = "TARGET", description = "tensorrt, onnxruntime or all "
            + "(default all)")
    List<String> int8Target = List.of();

    @Option(names = "--trt-cache-version", paramLabel = "MAJOR.MINOR.PATCH", description = "TensorRT version in the "
            + "calibration cache header (default 10.9.0)")
    String trtVersion;

    @Option(names = "--json", description = "print the calibration summary as JSON")
    boolean json;

    @Option(names = "--tags", split = ",", paramLabel = "TAG", description = "SavedModel tag set (default: serve)")
    List<String> tags = List.of("serve");

    @Option(names = "--signature", paramLabel = "NAME", description = "signature (default: serving_default)")
    String signature;

    @Option(names = "--inputs", split = ",(?![^\\[]*\\])", paramLabel = "NAME[SHAPE]", description = "frozen .pb: "
            + "input tensors")
    List<String> inputs = List.of();

    @Option(names = "--input-shapes", split = ",(?![^\\[]*\\])", paramLabel = "NAME[SHAPE]", description = "frozen "
            + ".pb: shapes of inputs")
    List<String> inputShapes = List.of();

    @Option(names = "--outputs", split = ",", paramLabel = "NAME", description = "frozen .pb: output tensors")
    List<String> outputs = List.of();

    @Option(names = "--rnn", paramLabel = "MODE", description = "loops and Keras LSTM/GRU layers: auto, unroll, keep "
            + "or loop (as kiln calibrate --rnn)")
    String rnn = "auto";

    @Mixin
    SparkOptions sparkOptions = new SparkOptions();

    @Override
    public Integer call() {
        KilnArgumentException.check(output.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".json"),
                "-o must name a .json table, got " + output);
        Set<Int8Target> targets = targets();
        CalibrationSpec spec = new CalibrationSpec(model, tags, signature, inputs, outputs, inputShapes,
                dev.kiln.tensorflow.RecurrentLayers.parse(rnn), targets, true, dev.kiln.calib.Histogram.DEFAULT_BINS);
        DataSpec d = DataSpec.of(data).scaled(FloatConversion.parseNumber(dataScale),
                FloatConversion.parseNumber(dataOffset)).batched(calibBatch);
        SparkSession spark = sparkOptions.session("kiln spark calibrate");
        SparkCalibration.Builder b = SparkCalibration.builder(spec).data(d).method(defaultMethod())
                .methods(perTensorMethods()).partitions(sparkOptions.partitions(spark))
                .log(json ? s -> { } : s -> System.err.println("kiln: " + s));
        if (calibRange != null) {
            long[] w = range(calibRange);
            b.range(w[0], w[1]);
        }
        SparkCalibration.Result r = b.build().run(spark);
        Path dir = output.toAbsolutePath().getParent();
        List<Path> written = r.calibration().write(dir);
        CalibrationTable trt = r.calibration().tables().get(Int8Target.TENSORRT);
        if (trt != null && trtVersion != null) {
            TensorRtCalibrationCache.of(trt, version(trtVersion), TensorRtCalibrationCache.DEFAULT_ALGORITHM)
                    .write(dir.resolve("calibration_tensorrt.cache"));
        }
        CalibrationTable first = r.calibration().tables().get(targets.iterator().next());
        first.save(output);
        if (json) {
            Map<String, Object> out = new LinkedHashMap<>();
            out.put("summary", r.calibration().summary());
            out.put("partitions", r.totals().partitions());
            out.put("modelLoadSeconds", r.totals().loadNanos() / 1e9);
            out.put("serializeSeconds", r.totals().serializeNanos() / 1e9);
            out.put("files", written.stream().map(Path::toString).toList());
            out.put("table", output.toString());
            System.out.println(Reports.toJson(out));
            return 0;
        }
        System.out.println("table      " + output + " (" + (first.symmetric() ? "symmetric int8, TensorRT"
                : "asymmetric uint8, ONNX Runtime") + ", " + first.entries().size() + " tensors)");
        written.forEach(p -> System.out.println("wrote      " + p));
        return 0;
    }

    private Set<Int8Target> targets() {
        if (int8Target.isEmpty()) {
            return EnumSet.allOf(Int8Target.class);
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

    private static boolean perTensor(String item) {
        return item.contains("=") && !item.trim().toLowerCase(Locale.ROOT).startsWith("percentile=");
    }

    private ThresholdMethod defaultMethod() {
        return calibMethod.stream().filter(m -> !perTensor(m)).findFirst().map(ThresholdMethod::parse)
                .orElse(CalibrateJob.DEFAULT_METHOD);
    }

    private Map<String, ThresholdMethod> perTensorMethods() {
        Map<String, ThresholdMethod> m = new LinkedHashMap<>();
        for (String s : calibMethod) {
            if (perTensor(s)) {
                int eq = s.indexOf('=');
                m.put(s.substring(0, eq).trim(), ThresholdMethod.parse(s.substring(eq + 1)));
            }
        }
        return m;
    }

    private static long[] range(String spec) {
        String[] p = spec.split(":");
        try {
            KilnArgumentException.check(p.length == 2, "--calib-range must be START:COUNT, got '" + spec + "'");
            return new long[] {Long.parseLong(p[0].trim()), Long.parseLong(p[1].trim())};
        } catch (NumberFormatException e) {
            throw new KilnArgumentException("--calib-range must be START:COUNT with whole numbers, got '" + spec + "'");
        }
    }

    private static int version(String v) {
        String[] p = v.split("\\.");
        try {
            KilnArgumentException.check(p.length == 3, "--trt-cache-version must be MAJOR.MINOR.PATCH, got '" + v + "'");
            return TensorRtCalibrationCache.version(Integer.parseInt(p[0]), Integer.parseInt(p[1]),
                    Integer.parseInt(p[2]));
        } catch (NumberFormatException e) {
            throw new KilnArgumentException("--trt-cache-version must be MAJOR.MINOR.PATCH, got '" + v + "'");
        }
    }
}
