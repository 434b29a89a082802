package dev.kiln.pipeline;

import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;
import dev.kiln.eval.ModelRunner;
import dev.kiln.eval.RandomInputs;
import dev.kiln.eval.TensorComparison;
import dev.kiln.graph.Graph;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.Tensor;
import dev.kiln.calib.CalibrationTable;
import dev.kiln.calib.ThresholdMethod;
import dev.kiln.data.RepresentativeData;
import dev.kiln.onnx.ExportResult;
import dev.kiln.onnx.Int8Placement;
import dev.kiln.onnx.Int8Target;
import dev.kiln.onnx.Int8WeightRange;
import dev.kiln.onnx.OnnxExporter;
import dev.kiln.onnx.OnnxRunner;
import dev.kiln.onnx.Precision;
import dev.kiln.tflite.TfliteInt8Placement;
import dev.kiln.tflite.TfliteRunner;
import dev.kiln.passes.PassResult;
import dev.kiln.passes.Passes;
import dev.kiln.quant.WeightRanges;
import dev.kiln.tensorflow.ImportOptions;
import dev.kiln.tensorflow.TfExporter;
import dev.kiln.tensorflow.TfRunner;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Kiln's main job as a Java API: import → optimize_for_inference → export (SavedModel, ONNX FP32, FP16, dynamic-range
 * INT8) → for INT8: calibrate on representative data (or take a table), optionally search mixed precision, write a
 * QDQ ONNX per target and a fake-quantized SavedModel → verify the exact outputs against TensorFlow on the original →
 * evaluate every output on held-out data (top-1 with labels, cosine, SQNR, per-layer error, latency) → a report.
 *
 * <pre>{@code
 * OptimizeReport r = OptimizeJob.builder(Path.of("my_saved_model")).output(Path.of("out"))
 *         .formats(EnumSet.of(Format.SAVEDMODEL, Format.ONNX)).precisions(EnumSet.of(Precision.FP32, Precision.FP16))
 *         .build().run();
 * }</pre>
 *
 * <p>Thread safety: a built job is immutable, and {@link #run()} may be called from several threads at once, on one
 * job or many (ConcurrentConversionsTest). Runs into the same output directory replace each other's files atomically,
 * file by file: each file is whole and from one run, the last to finish.
 */
public final class OptimizeJob {

    /** Output formats of the optimize job. */
    public enum Format { SAVEDMODEL, FROZEN, ONNX, TFLITE, TENSORRT }

    /** {@code --format} names (with the aliases pb, trt, engine), as the CLI and Spark's batch rows spell them. */
    public static Set<Format> formats(List<String> names) {
        Set<Format> set = EnumSet.noneOf(Format.class);
        for (String f : names) {
            switch (f.trim().toLowerCase(Locale.ROOT)) {
                case "savedmodel" -> set.add(Format.SAVEDMODEL);
                case "frozen", "pb" -> set.add(Format.FROZEN);
                case "onnx" -> set.add(Format.ONNX);
                case "tflite" -> set.add(Format.TFLITE);
                case "tensorrt", "trt", "engine" -> set.add(Format.TENSORRT);
                default -> throw new KilnArgumentException("--format: unknown format '" + f
                        + "' (known: savedmodel, frozen, onnx, tflite, tensorrt)");
            }
        }
        return set;
    }

    /** {@code --precision} names (with the aliases int8-weights, dynamic), as the CLI and Spark's batch rows spell them. */
    public static Set<Precision> precisions(List<String> names) {
        Set<Precision> set = EnumSet.noneOf(Precision.class);
        for (String p : names) {
            switch (p.trim().toLowerCase(Locale.ROOT)) {
                case "fp32" -> set.add(Precision.FP32);
                case "fp16" -> set.add(Precision.FP16);
                case "int8-dynamic", "int8-weights", "dynamic" -> set.add(Precision.INT8_WEIGHTS_ONLY);
                case "int8" -> set.add(Precision.INT8);
                default -> throw new KilnArgumentException("--precision: unknown precision '" + p
                        + "' (known: fp32, fp16, int8-dynamic, int8)");
            }
        }
        return set;
    }

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
    private final Set<Int8Target> int8Targets;
    private final Int8WeightRange int8WeightRange;
    private final ThresholdMethod int8WeightMethod;
    private final RepresentativeData calibrationData;
    private final RepresentativeData evaluationData;
    private final long[] labels;
    private final ThresholdMethod method;
    private final Map<String, ThresholdMethod> methods;
    private final Set<String> keepFloat;
    private final MixedPrecisionSearch.Budget budget;
    private final CalibrationTable givenTable;
    private final dev.kiln.sparse.PruningPlan prune;
    private final dev.kiln.lowrank.LowRankFactorization lowRank;
    private final dev.kiln.tensorrt.EngineOptions engineOptions;

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
        this.int8Targets = EnumSet.copyOf(b.int8Targets);
        this.int8WeightRange = b.int8WeightRange;
        this.int8WeightMethod = b.int8WeightMethod;
        this.calibrationData = b.calibrationData;
        this.evaluationData = b.evaluationData;
        this.labels = b.labels;
        this.method = b.method;
        this.methods = b.methods;
        this.keepFloat = Set.copyOf(b.keepFloat);
        this.budget = b.budget;
        this.givenTable = b.givenTable;
        this.prune = b.prune;
        this.lowRank = b.lowRank;
        this.engineOptions = b.engineOptions;
        KilnArgumentException.check(!formats.contains(Format.TENSORRT) || !precisions.contains(Precision.INT8)
                || int8Targets.contains(Int8Target.TENSORRT), "--format tensorrt with int8 builds the engine from the "
                + "TensorRT INT8 layout: add tensorrt to --int8-target");
        KilnArgumentException.check(engineOptions.precision() != dev.kiln.tensorrt.EnginePrecision.INT8_LEGACY,
                "int8-legacy engines are built by kiln export/build-engine; optimize builds int8 strongly typed");
        KilnArgumentException.check(!precisions.contains(Precision.INT8) || calibrationData != null
                || givenTable != null, "INT8 needs calibration data (--data), a calibration table (--table), or "
                + "--calib-random for a smoke run");
        KilnArgumentException.check(budget == null || precisions.contains(Precision.INT8),
                "--max-accuracy-drop / --min-cosine choose layers to keep in float in an INT8 model: add int8 to "
                + "--precision");
        KilnArgumentException.check(budget == null || evaluationData != null, "--max-accuracy-drop / --min-cosine "
                + "need held-out evaluation data");
        KilnArgumentException.check(labels == null || evaluationData != null, "--labels need evaluation data");
    }

    public static Builder builder(Path model) {
        return new Builder(model);
    }

    /** Runs the job; throws a {@link KilnException} that says what went wrong and where. */
    public OptimizeReport run() {
        Map<String, Long> timings = new LinkedHashMap<>();
        long t0 = System.nanoTime();
        log.accept("import     " + model);
        Graph original = ModelFiles.load(model, importOptions, log);
        timings.put("import", millisSince(t0));

        long t1 = System.nanoTime();
        Graph optimized = original.copy();
        List<PassResult> passResults = Passes.optimizeForInference().run(optimized);
        timings.put("optimize", millisSince(t1));
        log.accept(String.format("optimize   %d -> %d nodes (%d passes)", original.size(), optimized.size(),
                passResults.size()));
        // lossy steps: low rank, then pruning (of what the factorization left); the exports are then verified
        // against this graph, and their cost shows in the evaluation against the original
        dev.kiln.lowrank.LowRankReport lowRankReport = null;
        dev.kiln.sparse.PruningReport pruningReport = null;
        if (lowRank != null) {
            lowRankReport = lowRank.factorize(optimized);
            log.accept(String.format(Locale.ROOT, "low rank   parameters %,d -> %,d (%.1f%% fewer)",
                    lowRankReport.parametersBefore(), lowRankReport.parametersAfter(), 100 * lowRankReport.reduction()));
        }
        if (prune != null) {
            pruningReport = dev.kiln.sparse.Pruner.of(prune).prune(optimized);
            log.accept(String.format(Locale.ROOT, "prune      %d layers, global sparsity %.1f%%",
                    pruningReport.layers().size(), 100 * pruningReport.globalSparsity()));
        }
        Graph lossyReference = lowRank != null || prune != null ? optimized.copy() : null;

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
        // a TensorRT engine is built from Kiln's ONNX, so --format tensorrt writes it too
        boolean writeOnnx = formats.contains(Format.ONNX) || formats.contains(Format.TENSORRT);
        if (writeOnnx) {
            for (Precision p : precisions) {
                if (p == Precision.INT8) {
                    continue; // after calibration, below
                }
                Path onnx = output.resolve(p == Precision.FP32 ? "model.onnx" : p == Precision.INT8_WEIGHTS_ONLY
                        ? "model_int8_dynamic.onnx" : "model_" + p.name().toLowerCase(Locale.ROOT) + ".onnx");
                ExportResult r = OnnxExporter.builder().opset(opset).precision(p).build().export(optimized, onnx);
                artifacts.add(new OptimizeReport.Artifact("onnx", precisionName(p), onnx.toString(), sizeOf(onnx),
                        r.saturation().summary()));
            }
        }
        if (formats.contains(Format.TFLITE)) {
            for (Precision p : precisions) {
                if (p == Precision.INT8) {
                    continue; // after calibration, below
                }
                Path file = output.resolve(TfliteExports.fileName(p));
                TfliteExports.exporter(p, null, false).export(optimized, file);
                artifacts.add(new OptimizeReport.Artifact("tflite", precisionName(p), file.toString(), sizeOf(file)));
            }
        }
        timings.put("export", millisSince(t2));

        CalibrateJob.Summary calibration = null;
        List<Path> calibrationFiles = List.of();
        OptimizeReport.MixedPrecision mixed = null;
        Graph fakeQuant = null;
        Set<String> floatLayers = keepFloat;
        if (precisions.contains(Precision.INT8)) {
            long tc = System.nanoTime();
            Map<Int8Target, CalibrationTable> tables;
            if (givenTable != null) {
                tables = tablesFromGiven(optimized);
            } else {
                CalibrateJob.Result cr = CalibrateJob.builder(model).data(calibrationData).targets(int8Targets)
                        .method(method).methods(methods).log(log).build()
                        .calibrate(optimized, ModelFingerprint.of(model));
                calibrationFiles = cr.write(output.resolve("calibration"));
                tables = cr.tables();
                calibration = cr.summary();
            }
            timings.put("calibrate", millisSince(tc));
            if (budget != null) {
                long tm = System.nanoTime();
                Int8Target t = int8Targets.contains(Int8Target.ONNXRUNTIME) ? Int8Target.ONNXRUNTIME
                        : int8Targets.iterator().next();
                try (TfRunner ref = TfRunner.open(model, importOptions)) {
                    mixed = MixedPrecisionSearch.run(optimized, tables.get(t), t, int8WeightRange, int8WeightMethod,
                            keepFloat, opset,
                            evaluationData, labels, ref, budget, threads, log);
                }
                floatLayers = Set.copyOf(mixed.keptFloat());
                timings.put("mixed-precision", millisSince(tm));
            } else if (!keepFloat.isEmpty()) {
                mixed = new OptimizeReport.MixedPrecision(List.copyOf(keepFloat), "asked (--keep-float)", "",
                        List.of(), "");
            }
            long te = System.nanoTime();
            if (writeOnnx) {
                Map<Int8Target, ExportResult> written = Int8Exports.writeOnnx(optimized, tables, int8WeightRange,
                        int8WeightMethod, floatLayers, opset, output);
                for (Map.Entry<Int8Target, ExportResult> e : written.entrySet()) {
                    artifacts.add(new OptimizeReport.Artifact("onnx", "int8-" + e.getKey().name()
                            .toLowerCase(Locale.ROOT), output.resolve(Int8Exports.fileName(e.getKey())).toString(),
                            e.getValue().bytes(),
                            e.getValue().saturation().summary()));
                }
            }
            if (formats.contains(Format.SAVEDMODEL)) {
                Int8Target t = int8Targets.contains(Int8Target.TENSORRT) ? Int8Target.TENSORRT
                        : int8Targets.iterator().next();
                Path dir = output.resolve("saved_model_int8_fakequant");
                fakeQuant = Int8Exports.writeFakeQuantSavedModel(optimized, tables.get(t), t, int8WeightRange,
                        int8WeightMethod, floatLayers, dir);
                artifacts.add(new OptimizeReport.Artifact("savedmodel", "int8-fakequant-" + t.name()
                        .toLowerCase(Locale.ROOT), dir.toString(), sizeOf(dir)));
            }
            if (formats.contains(Format.TFLITE)) {
                // TFLite quantizes every activation: its own table over the same data (or the given one, checked)
                CalibrationTable t;
                if (givenTable != null) {
                    TfliteInt8Placement.validate(givenTable, optimized);
                    t = givenTable;
                } else {
                    t = TfliteExports.calibrate(optimized, calibrationData, method, methods, ModelFingerprint.of(model),
                            log);
                    t.save(output.resolve("calibration").resolve("table_tflite.json"));
                }
                Path file = output.resolve(TfliteExports.fileName(Precision.INT8));
                TfliteExports.exporter(Precision.INT8, t, false).export(optimized, file);
                artifacts.add(new OptimizeReport.Artifact("tflite", "int8", file.toString(), sizeOf(file)));
            }
            timings.put("export-int8", millisSince(te));
        }
        List<String> engineNotes = new ArrayList<>();
        if (formats.contains(Format.TENSORRT)) {
            long tt = System.nanoTime();
            engineNotes.addAll(writeEngines(artifacts));
            timings.put("tensorrt", millisSince(tt));
        }
        // what this job wrote, digested before anything reads it back: another process writing the same output
        // path may replace a file later, and this job must neither verify nor report that other file as its own
        List<Path> written = new ArrayList<>();
        artifacts.forEach(a -> written.add(Path.of(a.path())));
        written.addAll(calibrationFiles);
        List<OptimizeReport.OutputFile> digests = OutputDigests.of(output, written);
        for (OptimizeReport.Artifact a : artifacts) {
            log.accept(String.format("export     %-10s %-22s %s (%s)", a.format(), a.precision(), a.path(),
                    Reports.humanBytes(a.bytes())));
        }

        long t3 = System.nanoTime();
        List<OptimizeReport.Artifact> exact = artifacts.stream().filter(a -> !a.precision().startsWith("int8"))
                .toList();
        List<String> warnings = new ArrayList<>(engineNotes);
        List<OptimizeReport.Verification> verifications = verify(original, exact, lossyReference, digests, warnings);
        timings.put("verify", millisSince(t3));

        Evaluation evaluation = null;
        List<OptimizeReport.LayerError> layers = List.of();
        RepresentativeData evalData = evaluationData;
        if (evalData == null && (precisions.contains(Precision.INT8) || lossyReference != null)) {
            evalData = RepresentativeData.random(original.inputs(), seed + 1000, 64).withBatchSize(batch);
        }
        if (evalData != null) {
            long t4 = System.nanoTime();
            evaluation = evaluate(artifacts, evalData);
            if (fakeQuant != null) {
                layers = LayerErrors.measure(optimized, fakeQuant, evalData.sampleCount() > 256
                        ? evalData.slice(0, 256) : evalData);
            }
            timings.put("evaluate", millisSince(t4));
            warnings.addAll(latencyWarnings(evaluation));
            if (evalData.isRandom()) {
                warnings.add("evaluation on RANDOM inputs: accuracy against real data is not measured (give --data "
                        + "and --labels)");
            }
        }
        if (calibration != null && calibration.random()) {
            warnings.add("calibrated on RANDOM data (--calib-random): a smoke run; the INT8 ranges do not represent "
                    + "real inputs");
        }

        return new OptimizeReport(Versions.kiln(), Environments.current(), model.toString(), modelNote,
                output.toString(), summarize(original), summarize(optimized), passResults, artifacts, verifications,
                calibration, precisions.contains(Precision.INT8) ? int8WeightMethod.toString() : null, evaluation,
                layers, mixed, pruningReport, lowRankReport, warnings, timings, digests);
    }

    /**
     * One TensorRT engine per precision from the ONNX just written (fp32: model.onnx, fp16: model_fp16.onnx, int8:
     * the TensorRT layout), added to the artifacts where built; elsewhere its plan (manifest and trtexec script).
     * Returns what the report must say about engines that were not built.
     */
    private List<String> writeEngines(List<OptimizeReport.Artifact> artifacts) {
        List<String> notes = new ArrayList<>();
        for (Precision p : precisions) {
            dev.kiln.tensorrt.EnginePrecision ep;
            Path onnxFile;
            switch (p) {
                case FP32 -> {
                    ep = dev.kiln.tensorrt.EnginePrecision.FP32;
                    onnxFile = output.resolve("model.onnx");
                }
                case FP16 -> {
                    ep = dev.kiln.tensorrt.EnginePrecision.FP16;
                    onnxFile = output.resolve("model_fp16.onnx");
                }
                case INT8 -> {
                    ep = dev.kiln.tensorrt.EnginePrecision.INT8;
                    onnxFile = output.resolve(Int8Exports.fileName(Int8Target.TENSORRT));
                }
                default -> {
                    log.accept("tensorrt   no engine for " + precisionName(p) + ": TensorRT builds INT8 from "
                            + "calibrated Q/DQ (int8)");
                    continue;
                }
            }
            Path engine = output.resolve(p == Precision.FP32 ? "model.engine" : "model_" + precisionName(p)
                    + ".engine");
            TensorRtEngines.Outcome o = TensorRtEngines.buildOrPlan(model, onnxFile, engine,
                    engineOptions.toBuilder().precision(ep).build(), log);
            if (o.built()) {
                artifacts.add(new OptimizeReport.Artifact("tensorrt", precisionName(p), engine.toString(),
                        sizeOf(engine)));
            } else {
                notes.add(o.summary());
            }
        }
        return notes;
    }

    /** The runtime an artifact runs on, by its format. */
    private static String runtimeOf(OptimizeReport.Artifact a) {
        return switch (a.format()) {
            case "onnx" -> "onnxruntime";
            case "tflite" -> "tflite";
            case "tensorrt" -> "tensorrt";
            default -> "tensorflow";
        };
    }

    private static String precisionName(Precision p) {
        return switch (p) {
            case FP32 -> "fp32";
            case FP16 -> "fp16";
            case INT8 -> "int8";
            case INT8_WEIGHTS_ONLY -> "int8-dynamic";
        };
    }

    /** A given table: valid for this model and symmetric or not, it serves the targets it fits. */
    private Map<Int8Target, CalibrationTable> tablesFromGiven(Graph optimized) {
        Map<Int8Target, CalibrationTable> tables = new java.util.EnumMap<>(Int8Target.class);
        for (Int8Target t : int8Targets) {
            if (givenTable.symmetric() == !Int8Placement.asymmetric(t)) {
                Int8Placement.validate(givenTable, optimized, t, () -> ModelFingerprint.of(model));
                tables.put(t, givenTable);
            }
        }
        KilnArgumentException.check(!tables.isEmpty(), "the calibration table is " + (givenTable.symmetric()
                ? "symmetric (for TensorRT)" : "asymmetric (for ONNX Runtime)") + " but the INT8 targets are "
                + int8Targets);
        return tables;
    }

    /** Every artifact against TensorFlow on the original, on held-out data, the runners taking turns per batch. */
    private Evaluation evaluate(List<OptimizeReport.Artifact> artifacts, RepresentativeData data) {
        List<ModelRunner> open = new ArrayList<>();
        try (TfRunner ref = TfRunner.open(model, importOptions)) {
            List<Evaluation.Candidate> cands = new ArrayList<>();
            for (OptimizeReport.Artifact a : artifacts) {
                if (a.format().equals("frozen")) {
                    continue;
                }
                ModelRunner r = openRunner(a, Path.of(a.path()));
                open.add(r);
                cands.add(new Evaluation.Candidate(a.format() + " " + a.precision(), runtimeOf(a), a.path(),
                        a.bytes(), r));
            }
            log.accept("evaluate   " + cands.size() + " models against the original on " + data.description());
            return Evaluation.run(ref, "original", cands, data, labels, null);
        } finally {
            open.forEach(ModelRunner::close);
        }
    }

    /** Where an INT8 ONNX runs slower than the FP32 ONNX on ONNX Runtime, say so and name the layout that suits it. */
    private static List<String> latencyWarnings(Evaluation e) {
        List<String> w = new ArrayList<>();
        Evaluation.Result fp32 = e.candidates().stream().filter(c -> c.name().equals("onnx fp32")).findFirst()
                .orElse(null);
        if (fp32 == null) {
            return w;
        }
        for (Evaluation.Result c : e.candidates()) {
            if (c.runtime().equals("onnxruntime") && c.name().contains("int8")
                    && c.medianBatchMillis() > fp32.medianBatchMillis()) {
                String hint = c.name().contains("tensorrt") ? "this is the TensorRT layout, meant for TensorRT; on "
                        + "ONNX Runtime's CPU provider use --int8-target onnxruntime (fused QLinearConv/QGemm)"
                        : c.name().contains("dynamic") ? "dynamic-range INT8 dequantizes the weights on every call on "
                        + "ONNX Runtime's CPU provider; full INT8 with --int8-target onnxruntime runs integer kernels"
                        : "ONNX Runtime did not find integer kernels faster than float here";
                w.add(String.format(Locale.ROOT, "%s runs slower than FP32 on ONNX Runtime here (%.2f ms vs %.2f ms "
                        + "per batch): %s", c.artifact(), c.medianBatchMillis(), fp32.medianBatchMillis(), hint));
            }
        }
        return w;
    }

    /** The sizes the verification samples give an unknown non-batch dimension of a model that keeps its loops. */
    static final int[] SEQUENCE_LENGTHS = {1, 4, 9, 16};

    /**
     * Runs TF on the original and every artifact on its runtime with the same random inputs, and compares. An
     * artifact whose bytes are no longer those this job wrote ({@code digests}), before or after it was run, was
     * replaced by another writer: it is left out with a warning instead of being judged as this job's.
     */
    private List<OptimizeReport.Verification> verify(Graph original, List<OptimizeReport.Artifact> artifacts,
            Graph lossyReference, List<OptimizeReport.OutputFile> digests, List<String> warnings) {
        List<Map<String, Tensor>> inputs = new ArrayList<>();
        List<Integer> lengths = new ArrayList<>();
        boolean anyLength = original.keepsControlFlow();
        for (int i = 0; i < samples; i++) {
            int length = anyLength ? SEQUENCE_LENGTHS[i % SEQUENCE_LENGTHS.length] : 1;
            if (anyLength && !lengths.contains(length)) {
                lengths.add(length);
            }
            inputs.add(RandomInputs.forSignature(original.inputs(), seed + i, batch, length));
        }
        List<Map<String, Tensor>> expected = new ArrayList<>();
        List<Double> referenceTimes = new ArrayList<>();
        try (TfRunner tf = lossyReference != null ? TfRunner.of(lossyReference) : TfRunner.open(model, importOptions)) {
            for (Map<String, Tensor> in : inputs) {
                long t = System.nanoTime();
                expected.add(tf.run(in));
                referenceTimes.add((System.nanoTime() - t) / 1e6);
            }
        }
        List<OptimizeReport.Verification> out = new ArrayList<>();
        out.add(new OptimizeReport.Verification(lossyReference != null ? "pruned/factorized graph" : "original",
                "tensorflow", samples, lengths, 0, 0, 0, true,
                median(referenceTimes)));
        try (Progress progress = Progress.start("verify", (long) artifacts.size() * samples)) {
            for (OptimizeReport.Artifact a : artifacts) {
                Path path = Path.of(a.path());
                double tolerance = a.precision().equals("fp16") ? FP16_TOLERANCE : FP32_TOLERANCE;
                double maxAbs = 0;
                double maxRel = 0;
                List<Double> times = new ArrayList<>();
                String runtime = runtimeOf(a);
                if (OutputDigests.replaced(output, path, digests)) {
                    warnings.add(replacedWarning(path));
                    continue;
                }
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
                if (OutputDigests.replaced(output, path, digests)) {
                    warnings.add(replacedWarning(path));
                    continue;
                }
                out.add(new OptimizeReport.Verification(a.path(), runtime, samples, lengths, maxAbs, maxRel, tolerance,
                        maxRel <= tolerance, median(times)));
            }
        }
        return out;
    }

    private static String replacedWarning(Path path) {
        return path + " was replaced by another writer after this job wrote it (another process writing the same "
                + "output path?): not verified; report.json's outputs list the SHA-256 of the bytes this job wrote";
    }

    /** The runtime that runs one artifact: ONNX Runtime for ONNX, the TFLite interpreter for TFLite, TensorRT for
     * engines, TensorFlow for the rest. */
    private ModelRunner openRunner(OptimizeReport.Artifact a, Path path) {
        return switch (a.format()) {
            case "onnx" -> OnnxRunner.open(path, threads);
            case "tflite" -> TfliteRunner.open(path, Math.max(1, threads));
            case "tensorrt" -> dev.kiln.tensorrt.EngineRunner.open(path, log);
            default -> TfRunner.open(path, ImportOptions.defaults());
        };
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
        private Set<Int8Target> int8Targets = EnumSet.allOf(Int8Target.class);
        private Int8WeightRange int8WeightRange;
        private ThresholdMethod int8WeightMethod = WeightRanges.defaultMethod();
        private RepresentativeData calibrationData;
        private RepresentativeData evaluationData;
        private long[] labels;
        private ThresholdMethod method = CalibrateJob.DEFAULT_METHOD;
        private Map<String, ThresholdMethod> methods = Map.of();
        private Set<String> keepFloat = Set.of();
        private MixedPrecisionSearch.Budget budget;
        private CalibrationTable givenTable;
        private dev.kiln.sparse.PruningPlan prune;
        private dev.kiln.lowrank.LowRankFactorization lowRank;
        private dev.kiln.tensorrt.EngineOptions engineOptions = dev.kiln.tensorrt.EngineOptions.defaults();

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

        /** INT8: the layouts to write (default both: TensorRT's and ONNX Runtime's). */
        public Builder int8Targets(Set<Int8Target> t) {
            KilnArgumentException.check(!t.isEmpty(), "int8 targets: at least one is needed");
            this.int8Targets = t;
            return this;
        }

        /** INT8: the weight range (default: reduced 7-bit for ONNX Runtime, full for TensorRT). */
        public Builder int8WeightRange(Int8WeightRange r) {
            this.int8WeightRange = r;
            return this;
        }

        /**
         * INT8: how each output channel's weight range is chosen, for the ONNX models and the fake-quantized
         * SavedModel alike: {@link ThresholdMethod#minmax()} (default, max |w|), or percentile, mse or entropy over a
         * histogram of the channel's |w| ({@link WeightRanges}).
         */
        public Builder int8WeightMethod(ThresholdMethod m) {
            KilnArgumentException.check(m != null, "int8WeightMethod must not be null");
            this.int8WeightMethod = m;
            return this;
        }

        /** INT8: the representative data to calibrate on. */
        public Builder calibrationData(RepresentativeData d) {
            this.calibrationData = d;
            return this;
        }

        /** INT8: a calibration table to use instead of calibrating. */
        public Builder calibrationTable(CalibrationTable t) {
            this.givenTable = t;
            return this;
        }

        /** Held-out data to evaluate every output on (separate from the calibration data). */
        public Builder evaluationData(RepresentativeData d) {
            this.evaluationData = d;
            return this;
        }

        /** The class of every evaluation sample, in order: top-1 is reported. */
        public Builder labels(long[] l) {
            this.labels = l == null ? null : l.clone();
            return this;
        }

        /** INT8: the default calibration method ({@link CalibrateJob#DEFAULT_METHOD}) and per-tensor ones. */
        public Builder calibrationMethod(ThresholdMethod m, Map<String, ThresholdMethod> perTensor) {
            this.method = Objects.requireNonNull(m);
            this.methods = Map.copyOf(perTensor);
            return this;
        }

        /** One-shot magnitude pruning after optimize_for_inference (its cost shows in the evaluation). */
        public Builder prune(dev.kiln.sparse.PruningPlan plan) {
            this.prune = plan;
            return this;
        }

        /** Low-rank factorization after optimize_for_inference (before pruning, if both). */
        public Builder lowRank(dev.kiln.lowrank.LowRankFactorization f) {
            this.lowRank = f;
            return this;
        }

        /** INT8: node names or op types kept in float. */
        public Builder keepFloat(Set<String> k) {
            this.keepFloat = Set.copyOf(k);
            return this;
        }

        /** INT8: keep the most sensitive layers in float until the top-1 drop is at most {@code points}. */
        public Builder maxAccuracyDrop(double points) {
            this.budget = MixedPrecisionSearch.Budget.accuracyDrop(points);
            return this;
        }

        /** INT8: keep the most sensitive layers in float until every output's cosine is at least {@code c}. */
        public Builder minCosine(double c) {
            this.budget = MixedPrecisionSearch.Budget.cosine(c);
            return this;
        }

        /**
         * --format tensorrt: how the engines are built (profiles, memory, optimization level, timing cache ...); the
         * precision of each engine follows {@link #precisions}.
         */
        public Builder engineOptions(dev.kiln.tensorrt.EngineOptions o) {
            this.engineOptions = Objects.requireNonNull(o, "engineOptions");
            return this;
        }

        public OptimizeJob build() {
            return new OptimizeJob(this);
        }
    }
}
