package dev.kiln.pipeline;

import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;
import dev.kiln.calib.CalibrationStatistics;
import dev.kiln.calib.CalibrationTable;
import dev.kiln.calib.Calibrator;
import dev.kiln.calib.OnnxRuntimeCalibrationTable;
import dev.kiln.calib.TensorRtCalibrationCache;
import dev.kiln.calib.ThresholdMethod;
import dev.kiln.data.RepresentativeData;
import dev.kiln.graph.Graph;
import dev.kiln.graph.TensorRef;
import dev.kiln.onnx.Int8Placement;
import dev.kiln.onnx.Int8Target;
import dev.kiln.passes.Passes;
import dev.kiln.tensorflow.ImportOptions;
import dev.kiln.tensorflow.TfRunner;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Consumer;

/**
 * INT8 calibration as a job: import and optimize the model, run it in TensorFlow over representative data while the
 * kernels' streaming histograms take every activation the INT8 export quantizes (one pass, memory independent of the
 * sample count), then compute one calibration table per INT8 target (symmetric int8 for TensorRT, asymmetric uint8
 * for ONNX Runtime) with a threshold method per tensor (default: mse, see {@link #DEFAULT_METHOD}).
 *
 * <pre>{@code
 * CalibrateJob.Result r = CalibrateJob.builder(Path.of("model")).data(data).build().run();
 * r.write(Path.of("out/calibration"));   // table_<target>.json, TensorRT cache, ONNX Runtime calibration.json
 * }</pre>
 */
public final class CalibrateJob {
    /**
     * The default activation method: mse (the threshold that minimizes the expected squared quantization error of
     * the histogram). Measured on the trained MNIST CNNs (README): TensorRT's entropy (KL) clips ReLU activations with
     * spikes from constant image backgrounds far too tightly there (top-1 -12 and -28 points), while mse, percentile
     * and minmax stay within 1 point; entropy remains available per tensor or as the default by option.
     */
    public static final ThresholdMethod DEFAULT_METHOD = ThresholdMethod.mse();

    private final Path model;
    private final ImportOptions importOptions;
    private final RepresentativeData data;
    private final Set<Int8Target> targets;
    private final ThresholdMethod method;
    private final Map<String, ThresholdMethod> methods;
    private final int bins;
    private final boolean withOutputs;
    private final Consumer<String> log;

    private CalibrateJob(Builder b) {
        this.model = b.model;
        this.importOptions = b.importOptions;
        this.data = Objects.requireNonNull(b.data, "data: calibration needs representative data (or random data, "
                + "flagged as such)");
        this.targets = EnumSet.copyOf(b.targets);
        this.method = b.method;
        this.methods = Map.copyOf(b.methods);
        this.bins = b.bins;
        this.withOutputs = b.withOutputs;
        this.log = b.log;
    }

    public static Builder builder(Path model) {
        return new Builder(model);
    }

    /**
     * A run's summary for reports.
     *
     * @param data              what the data was (files, slices, reshapes, or RANDOM)
     * @param random            random data: a smoke run, not a calibration
     * @param samples           samples seen
     * @param batches           batches run
     * @param method            the default method for activations
     * @param overrides         per-tensor methods that differ from it
     * @param tensors           tensors calibrated
     * @param seconds           wall time of the collection
     * @param samplesPerSecond  throughput
     * @param activationGBps    activation bytes through the histograms per second of histogram time
     * @param kilnShare         share of the collection time in Kiln's kernels (the rest: TensorFlow's forward pass)
     * @param nanCount          NaN values seen (excluded from the ranges)
     * @param infCount          ±Inf values seen (excluded from the ranges)
     * @param notes             reshapes and other adaptations of the data
     */
    public record Summary(String data, boolean random, long samples, int batches, String method,
                         Map<String, String> overrides, int tensors, double seconds, double samplesPerSecond,
                         double activationGBps, double kilnShare, long nanCount, long infCount, List<String> notes) {
    }

    /** The tables (one per target), the merged statistics they came from, and the summary. */
    public record Result(Map<Int8Target, CalibrationTable> tables, CalibrationStatistics statistics, Summary summary) {
        /**
         * Writes every table into {@code dir}: {@code table_<target>.json} (Kiln's table), for TensorRT its
         * calibration cache {@code calibration_tensorrt.cache}, for ONNX Runtime {@code calibration.json} and
         * {@code calibration.cache}, and the statistics {@code statistics.json} (mergeable with other runs).
         */
        public List<Path> write(Path dir) {
            try {
                Files.createDirectories(dir);
            } catch (IOException e) {
                throw KilnException.io("cannot create " + dir + ": " + e.getMessage(), e);
            }
            List<Path> written = new ArrayList<>();
            for (Map.Entry<Int8Target, CalibrationTable> e : tables.entrySet()) {
                String t = e.getKey().name().toLowerCase(java.util.Locale.ROOT);
                Path json = dir.resolve("table_" + t + ".json");
                e.getValue().save(json);
                written.add(json);
                if (e.getKey() == Int8Target.TENSORRT) {
                    Path cache = dir.resolve("calibration_tensorrt.cache");
                    TensorRtCalibrationCache.of(e.getValue()).write(cache);
                    written.add(cache);
                } else {
                    Path ort = dir.resolve("calibration.json");
                    OnnxRuntimeCalibrationTable.writeJson(e.getValue(), ort);
                    Path cache = dir.resolve("calibration.cache");
                    OnnxRuntimeCalibrationTable.writeCache(e.getValue(), cache);
                    written.add(ort);
                    written.add(cache);
                }
            }
            Path stats = dir.resolve("statistics.json");
            statistics.save(stats);
            written.add(stats);
            return written;
        }
    }

    /** Imports and optimizes the model, then calibrates it. */
    public Result run() {
        log.accept("import     " + model);
        Graph g = ModelFiles.load(model, importOptions, log);
        Passes.optimizeForInference().run(g);
        return calibrate(g, ModelFingerprint.of(model));
    }

    /**
     * The tensors this job calibrates in {@code optimized}: those the INT8 exports of its targets quantize (and the
     * outputs, where asked). Fails when a per-tensor method names a tensor outside them.
     */
    public Set<TensorRef> tensorsToCalibrate(Graph optimized) {
        Set<TensorRef> tensors = new LinkedHashSet<>();
        for (Int8Target t : targets) {
            tensors.addAll(withOutputs ? Int8Placement.quantizableWithOutputs(optimized, t)
                    : Int8Placement.quantizable(optimized, t));
        }
        for (String name : methods.keySet()) {
            boolean known = tensors.stream().anyMatch(r -> r.toString().equals(name) || r.node().equals(name));
            KilnArgumentException.check(known, "--calib-method: tensor '" + name + "' is not among the tensors the "
                    + "INT8 export quantizes");
        }
        return tensors;
    }

    /** Whether the statistics need signed histograms (an asymmetric target is among the targets). */
    public boolean signedHistograms() {
        return targets.stream().anyMatch(Int8Placement::asymmetric);
    }

    /** The calibrator this job collects with (its bins and histogram sides). */
    public Calibrator calibrator() {
        return Calibrator.builder().bins(bins).signed(signedHistograms()).build();
    }

    /**
     * One table per target from (merged) statistics: a pure function of the statistics, the job's methods and
     * data, and the model's {@code fingerprint}; statistics merged from several processes give the same bytes.
     */
    public Map<Int8Target, CalibrationTable> tables(CalibrationStatistics statistics, String fingerprint) {
        Map<Int8Target, CalibrationTable> tables = new EnumMap<>(Int8Target.class);
        for (Int8Target t : targets) {
            tables.put(t, CalibrationTable.compute(statistics, this::methodFor, !Int8Placement.asymmetric(t),
                    CalibrationTable.Metadata.of(fingerprint, data.content(), data.isRandom())));
        }
        return tables;
    }

    /** Calibrates an already optimized graph (the one the INT8 exports are made from). */
    public Result calibrate(Graph optimized, String fingerprint) {
        Set<TensorRef> tensors = tensorsToCalibrate(optimized);
        log.accept(String.format(java.util.Locale.ROOT, "calibrate  %d tensors over %s%s", tensors.size(),
                data.description(), data.isRandom() ? " (RANDOM data: a smoke run, not a calibration)" : ""));
        data.notes().forEach(n -> log.accept("           " + n));
        Calibrator.Result r;
        long t0 = System.nanoTime();
        try (Progress progress = Progress.start("calibrate", data.sampleCount(), "samples")) {
            long[] last = {0};
            r = calibrator().collect(optimized, tensors, data,
                    TfRunner::of, (done, total) -> {
                        progress.stepBy(done - last[0]);
                        last[0] = done;
                    });
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        Map<Int8Target, CalibrationTable> tables = tables(r.statistics(), fingerprint);
        long nan = 0;
        long inf = 0;
        for (String name : r.statistics().tensorNames()) {
            nan += r.statistics().get(name).nanCount();
            inf += r.statistics().get(name).infCount();
        }
        Map<String, String> overrides = new LinkedHashMap<>();
        methods.forEach((k, v) -> overrides.put(k, CalibrationTable.methodName(v)));
        Summary s = new Summary(data.description(), data.isRandom(), r.samples(), r.batches(),
                CalibrationTable.methodName(method), overrides, tensors.size(), seconds, r.samples() / seconds,
                r.histogramNanos() == 0 ? 0 : r.activationBytes() / (r.histogramNanos() / 1e9) / 1e9, r.kilnShare(),
                nan, inf, data.notes());
        log.accept(String.format(java.util.Locale.ROOT, "calibrate  %d samples in %.1f s (%.0f samples/s; Kiln's "
                + "histograms %.0f%% of the time, %.2f GB/s)%s", s.samples(), seconds, s.samplesPerSecond(),
                100 * s.kilnShare(), s.activationGBps(), nan + inf > 0 ? "; " + nan + " NaN and " + inf
                + " Inf values excluded" : ""));
        return new Result(tables, r.statistics(), s);
    }

    private ThresholdMethod methodFor(String tensor) {
        ThresholdMethod m = methods.get(tensor);
        if (m == null) {
            int colon = tensor.lastIndexOf(':');
            m = methods.get(colon < 0 ? tensor : tensor.substring(0, colon));
        }
        return m != null ? m : method;
    }

    /** Options of the calibrate job. */
    public static final class Builder {
        private final Path model;
        private ImportOptions importOptions = ImportOptions.defaults();
        private RepresentativeData data;
        private Set<Int8Target> targets = EnumSet.allOf(Int8Target.class);
        private ThresholdMethod method = DEFAULT_METHOD;
        private Map<String, ThresholdMethod> methods = Map.of();
        private int bins = dev.kiln.calib.Histogram.DEFAULT_BINS;
        private boolean withOutputs;
        private Consumer<String> log = s -> { };

        private Builder(Path model) {
            this.model = model;
        }

        public Builder importOptions(ImportOptions o) {
            this.importOptions = Objects.requireNonNull(o);
            return this;
        }

        /** The representative data (.npy/.npz/images through {@code DataSources}, API batches, or random). */
        public Builder data(RepresentativeData d) {
            this.data = Objects.requireNonNull(d, "data");
            return this;
        }

        /** Which INT8 layouts to calibrate for (default: both). */
        public Builder targets(Set<Int8Target> t) {
            KilnArgumentException.check(!t.isEmpty(), "targets: at least one INT8 target is needed");
            this.targets = t;
            return this;
        }

        /** The default threshold method for activations (default {@link #DEFAULT_METHOD}). */
        public Builder method(ThresholdMethod m) {
            this.method = Objects.requireNonNull(m);
            return this;
        }

        /** Per-tensor methods, keyed by tensor ({@code node:0}) or node name. */
        public Builder methods(Map<String, ThresholdMethod> m) {
            this.methods = Objects.requireNonNull(m);
            return this;
        }

        public Builder bins(int n) {
            this.bins = n;
            return this;
        }

        /**
         * Also calibrate the signature outputs (default false), as an INT8 export with integer outputs needs
         * ({@code OnnxExporter.Builder.int8IO}; see {@link Int8Placement#quantizableWithOutputs}).
         */
        public Builder withOutputs(boolean v) {
            this.withOutputs = v;
            return this;
        }

        public Builder log(Consumer<String> l) {
            this.log = Objects.requireNonNull(l);
            return this;
        }

        public CalibrateJob build() {
            return new CalibrateJob(this);
        }
    }
}
