package dev.kiln.pipeline;

import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;
import dev.kiln.eval.ModelRunner;
import dev.kiln.eval.RandomInputs;
import dev.kiln.eval.TensorComparison;
import dev.kiln.graph.Graph;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.Tensor;
import dev.kiln.onnx.OnnxExporter;
import dev.kiln.onnx.OnnxRunner;
import dev.kiln.onnx.Precision;
import dev.kiln.passes.PassResult;
import dev.kiln.passes.Passes;
import dev.kiln.tensorflow.ImportOptions;
import dev.kiln.tensorflow.TfExporter;
import dev.kiln.tensorflow.TfImporter;
import dev.kiln.tensorflow.TfRunner;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Kiln's main job as a Java API: import → optimize_for_inference → export (SavedModel, ONNX FP32, ONNX FP16) →
 * verify every output against TensorFlow running the original model → a report.
 *
 * <pre>{@code
 * OptimizeReport r = OptimizeJob.builder(Path.of("my_saved_model")).output(Path.of("out"))
 *         .formats(EnumSet.of(Format.SAVEDMODEL, Format.ONNX)).precisions(EnumSet.of(Precision.FP32, Precision.FP16))
 *         .build().run();
 * }</pre>
 */
public final class OptimizeJob {

    /** Output formats of the optimize job. */
    public enum Format { SAVEDMODEL, FROZEN, ONNX }

    /** Tolerances on max relative error against TensorFlow on the original (issue 3 and 4 targets). */
    static final double FP32_TOLERANCE = 1e-4;
    static final double FP16_TOLERANCE = 1e-2;

    private final Path model;
    private final String modelNote;
    private final Path output;
    private final Set<Format> formats;
    private final Set<Precision> precisions;
    private final ImportOptions importOptions;
    private final int opset;
    private final int samples;
    private final int batch;
    private final long seed;
    private final int threads;
    private final Consumer<String> log;

    private OptimizeJob(Builder b) {
        this.model = b.model;
        this.modelNote = b.modelNote;
        this.output = b.output;
        this.formats = EnumSet.copyOf(b.formats);
        this.precisions = EnumSet.copyOf(b.precisions);
        this.importOptions = b.importOptions;
        this.opset = b.opset;
        this.samples = b.samples;
        this.batch = b.batch;
        this.seed = b.seed;
        this.threads = b.threads;
        this.log = b.log;
    }

    public static Builder builder(Path model) {
        return new Builder(model);
    }

    /** Runs the job; throws a {@link KilnException} that says what went wrong and where. */
    public OptimizeReport run() {
        Map<String, Long> timings = new LinkedHashMap<>();
        long t0 = System.nanoTime();
        log.accept("import     " + model);
        Graph original = TfImporter.load(model, importOptions);
        timings.put("import", millisSince(t0));

        long t1 = System.nanoTime();
        Graph optimized = original.copy();
        List<PassResult> passResults = Passes.optimizeForInference().run(optimized);
        timings.put("optimize", millisSince(t1));
        log.accept(String.format("optimize   %d -> %d nodes (%d passes)", original.size(), optimized.size(),
                passResults.size()));

        createOutputDir();
        List<OptimizeReport.Artifact> artifacts = new ArrayList<>();
        long t2 = System.nanoTime();
        if (formats.contains(Format.SAVEDMODEL)) {
            Path dir = output.resolve("saved_model");
            TfExporter.writeSavedModel(optimized, dir);
            artifacts.add(new OptimizeReport.Artifact("savedmodel", "fp32", dir.toString(), sizeOf(dir)));
        }
        if (formats.contains(Format.FROZEN)) {
            Path pb = output.resolve("frozen_graph.pb");
            TfExporter.writeFrozenGraph(optimized, pb);
            artifacts.add(new OptimizeReport.Artifact("frozen", "fp32", pb.toString(), sizeOf(pb)));
        }
        if (formats.contains(Format.ONNX)) {
            for (Precision p : precisions) {
                Path onnx = output.resolve(p == Precision.FP32 ? "model.onnx"
                        : "model_" + p.name().toLowerCase() + ".onnx");
                OnnxExporter.builder().opset(opset).precision(p).build().export(optimized, onnx);
                artifacts.add(new OptimizeReport.Artifact("onnx", p.name().toLowerCase(), onnx.toString(),
                        sizeOf(onnx)));
            }
        }
        timings.put("export", millisSince(t2));
        for (OptimizeReport.Artifact a : artifacts) {
            log.accept(String.format("export     %-10s %-5s %s (%s)", a.format(), a.precision(), a.path(),
                    Reports.humanBytes(a.bytes())));
        }

        long t3 = System.nanoTime();
        List<OptimizeReport.Verification> verifications = verify(original, artifacts);
        timings.put("verify", millisSince(t3));

        return new OptimizeReport(Versions.kiln(), Environments.current(), model.toString(), modelNote,
                output.toString(), summarize(original), summarize(optimized), passResults, artifacts, verifications,
                timings);
    }

    /** Runs TF on the original and every artifact on its runtime with the same random inputs, and compares. */
    private List<OptimizeReport.Verification> verify(Graph original, List<OptimizeReport.Artifact> artifacts) {
        List<Map<String, Tensor>> inputs = new ArrayList<>();
        for (int i = 0; i < samples; i++) {
            inputs.add(RandomInputs.forSignature(original.inputs(), seed + i, batch));
        }
        List<Map<String, Tensor>> expected = new ArrayList<>();
        List<Double> referenceTimes = new ArrayList<>();
        try (TfRunner tf = TfRunner.open(model, importOptions)) {
            for (Map<String, Tensor> in : inputs) {
                long t = System.nanoTime();
                expected.add(tf.run(in));
                referenceTimes.add((System.nanoTime() - t) / 1e6);
            }
        }
        List<OptimizeReport.Verification> out = new ArrayList<>();
        out.add(new OptimizeReport.Verification("original", "tensorflow", samples, 0, 0, 0, true,
                median(referenceTimes)));
        try (Progress progress = Progress.start("verify", (long) artifacts.size() * samples)) {
            for (OptimizeReport.Artifact a : artifacts) {
                Path path = Path.of(a.path());
                double tolerance = a.precision().equals("fp16") ? FP16_TOLERANCE : FP32_TOLERANCE;
                double maxAbs = 0;
                double maxRel = 0;
                List<Double> times = new ArrayList<>();
                String runtime = a.format().equals("onnx") ? "onnxruntime" : "tensorflow";
                try (ModelRunner r = openRunner(a, path)) {
                    for (int i = 0; i < samples; i++) {
                        long t = System.nanoTime();
                        Map<String, Tensor> got = r.run(inputs.get(i));
                        times.add((System.nanoTime() - t) / 1e6);
                        for (Map.Entry<String, Tensor> e : expected.get(i).entrySet()) {
                            Tensor actual = got.get(e.getKey());
                            if (actual == null) {
                                throw new KilnException(dev.kiln.ErrorCode.VERIFICATION_FAILED, a.path()
                                        + " has no output '" + e.getKey() + "' (outputs: " + got.keySet() + ")");
                            }
                            TensorComparison c = TensorComparison.compare(e.getValue(), actual);
                            maxAbs = Math.max(maxAbs, c.maxAbsError());
                            maxRel = Math.max(maxRel, c.maxRelError());
                        }
                        progress.step();
                    }
                }
                out.add(new OptimizeReport.Verification(a.path(), runtime, samples, maxAbs, maxRel, tolerance,
                        maxRel <= tolerance, median(times)));
            }
        }
        return out;
    }

    /** The runtime that runs one artifact: ONNX Runtime for ONNX, TensorFlow for the rest. */
    private ModelRunner openRunner(OptimizeReport.Artifact a, Path path) {
        return a.format().equals("onnx") ? OnnxRunner.open(path, threads)
                : TfRunner.open(path, ImportOptions.defaults());
    }

    public static OptimizeReport.ModelSummary summarize(Graph g) {
        long constBytes = g.constantBytesByType().values().stream().mapToLong(Long::longValue).sum();
        return new OptimizeReport.ModelSummary(g.size(), g.parameterCount(), constBytes, g.opHistogram(),
                g.inputs().stream().map(OptimizeJob::describe).toList(),
                g.outputs().stream().map(OptimizeJob::describe).toList());
    }

    private static String describe(SignatureTensor s) {
        return s.name() + ": " + s.type();
    }

    private void createOutputDir() {
        try {
            Files.createDirectories(output);
        } catch (IOException e) {
            throw KilnException.io("cannot create output directory " + output + ": " + e.getMessage(), e);
        }
        if (!Files.isWritable(output)) {
            throw KilnException.io("output directory " + output + " is not writable", null);
        }
    }

    public static long sizeOf(Path p) {
        try (var s = Files.walk(p)) {
            return s.filter(Files::isRegularFile).mapToLong(f -> f.toFile().length()).sum();
        } catch (IOException e) {
            return -1;
        }
    }

    private static long millisSince(long t0) {
        return (System.nanoTime() - t0) / 1_000_000;
    }

    private static double median(List<Double> xs) {
        if (xs.isEmpty()) {
            return 0;
        }
        double[] a = xs.stream().mapToDouble(Double::doubleValue).toArray();
        Arrays.sort(a);
        return a[a.length / 2];
    }

    /** Options of the optimize job. */
    public static final class Builder {
        private final Path model;
        private String modelNote = "";
        private Path output;
        private Set<Format> formats = EnumSet.of(Format.SAVEDMODEL, Format.ONNX);
        private Set<Precision> precisions = EnumSet.of(Precision.FP32);
        private ImportOptions importOptions = ImportOptions.defaults();
        private int opset = 17;
        private int samples = 4;
        private int batch = 2;
        private long seed = 42;
        private int threads = 1;
        private Consumer<String> log = s -> { };

        private Builder(Path model) {
            this.model = Objects.requireNonNull(model, "model");
            this.output = Path.of("kiln-out").resolve(model.getFileName().toString().replaceAll("\\.pb$", ""));
        }

        public Builder modelNote(String note) {
            this.modelNote = note;
            return this;
        }

        public Builder output(Path dir) {
            this.output = Objects.requireNonNull(dir, "output");
            return this;
        }

        public Builder formats(Set<Format> f) {
            KilnArgumentException.check(!f.isEmpty(), "formats: at least one output format is needed");
            this.formats = f;
            return this;
        }

        public Builder precisions(Set<Precision> p) {
            KilnArgumentException.check(!p.isEmpty(), "precisions: at least one precision is needed");
            this.precisions = p;
            return this;
        }

        public Builder importOptions(ImportOptions o) {
            this.importOptions = o;
            return this;
        }

        public Builder opset(int o) {
            this.opset = o;
            return this;
        }

        public Builder samples(int n) {
            KilnArgumentException.check(n >= 1, "samples must be >= 1, got " + n);
            this.samples = n;
            return this;
        }

        public Builder batch(int n) {
            KilnArgumentException.check(n >= 1, "batch must be >= 1, got " + n);
            this.batch = n;
            return this;
        }

        public Builder seed(long s) {
            this.seed = s;
            return this;
        }

        public Builder threads(int t) {
            KilnArgumentException.check(t >= 1, "threads must be >= 1, got " + t);
            this.threads = t;
            return this;
        }

        public Builder log(Consumer<String> l) {
            this.log = l;
            return this;
        }

        public OptimizeJob build() {
            return new OptimizeJob(this);
        }
    }
}
