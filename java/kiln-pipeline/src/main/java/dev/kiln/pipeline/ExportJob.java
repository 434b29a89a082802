package dev.kiln.pipeline;

import dev.kiln.ErrorCode;
import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;
import dev.kiln.calib.CalibrationTable;
import dev.kiln.calib.ThresholdMethod;
import dev.kiln.data.RepresentativeData;
import dev.kiln.eval.ModelRunner;
import dev.kiln.eval.RandomInputs;
import dev.kiln.eval.TensorComparison;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.onnx.ExportResult;
import dev.kiln.onnx.Int8Placement;
import dev.kiln.onnx.Int8Target;
import dev.kiln.onnx.Int8WeightRange;
import dev.kiln.onnx.OnnxExporter;
import dev.kiln.onnx.OnnxRunner;
import dev.kiln.onnx.Precision;
import dev.kiln.passes.PassResult;
import dev.kiln.passes.Passes;
import dev.kiln.tensorflow.ImportOptions;
import dev.kiln.tensorflow.TfExporter;
import dev.kiln.tensorflow.TfImporter;
import dev.kiln.tensorflow.TfRunner;
import dev.kiln.tflite.TfliteExportResult;
import dev.kiln.tflite.TfliteInt8Placement;
import dev.kiln.tflite.TfliteRunner;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.function.Consumer;

/**
 * One model, one format, one precision, written atomically, optionally verified against TensorFlow on the original:
 * what {@code kiln export} runs. INT8 takes its activation ranges from a calibration table, representative data, or
 * random data when asked — never silently.
 *
 * <pre>{@code
 * ExportJob.Result r = ExportJob.builder(Path.of("model"), Path.of("model_int8.onnx")).precision(Precision.INT8)
 *         .int8Target(Int8Target.ONNXRUNTIME).calibrationData(data).build().run();
 * }</pre>
 */
public final class ExportJob {
    /** What an export writes. */
    public enum Format { ONNX, SAVEDMODEL, FROZEN, TFLITE, TENSORRT }

    /**
     * What was written: the file, the ONNX details (null for other formats), the calibration summary when this
     * job calibrated, one verification row per output when asked, the TFLite details (null for other formats), and
     * for TensorRT the engine or its plan (else null).
     */
    public record Result(Path output, ExportResult onnx, CalibrateJob.Summary calibration,
                         List<Verified> verification, TfliteExportResult tflite, TensorRtEngines.Outcome tensorRt) {
        public Result(Path output, ExportResult onnx, CalibrateJob.Summary calibration, List<Verified> verification) {
            this(output, onnx, calibration, verification, null, null);
        }
    }

    /** One output of the written model against TensorFlow on the original, on random inputs. */
    public record Verified(String output, double maxAbsError, double maxRelError) {
    }

    private final Path model;
    private final Path output;
    private final Format format;
    private final Precision precision;
    private final ImportOptions importOptions;
    private final boolean optimize;
    private final int opset;
    private final Int8Target target;
    private final Int8WeightRange weightRange;
    private final ThresholdMethod weightMethod;
    private final Set<String> keepFloat;
    private final boolean halfIO;
    private final boolean int8IO;
    private final boolean externalData;
    private final CalibrationTable table;
    private final RepresentativeData data;
    private final ThresholdMethod method;
    private final Map<String, ThresholdMethod> methods;
    private final boolean verify;
    private final Consumer<String> log;
    private final dev.kiln.tensorrt.EngineOptions engineOptions;

    private ExportJob(Builder b) {
        this.model = b.model;
        this.output = b.output;
        this.format = b.format;
        this.precision = b.precision;
        this.importOptions = b.importOptions;
        this.optimize = b.optimize;
        this.opset = b.opset;
        this.target = b.target;
        this.weightRange = b.weightRange;
        this.weightMethod = b.weightMethod;
        this.keepFloat = Set.copyOf(b.keepFloat);
        this.halfIO = b.halfIO;
        this.int8IO = b.int8IO;
        this.externalData = b.externalData;
        this.table = b.table;
        this.data = b.data;
        this.method = b.method;
        this.methods = Map.copyOf(b.methods);
        this.verify = b.verify;
        this.log = b.log;
        this.engineOptions = b.engineOptions;
        boolean quantizable = format == Format.ONNX || format == Format.TFLITE;
        KilnArgumentException.check(quantizable || format == Format.TENSORRT || precision == Precision.FP32, "a "
                + format + " is written in FP32; " + precision + " is for ONNX, TFLite and TensorRT");
        KilnArgumentException.check(format != Format.TENSORRT || precision != Precision.INT8_WEIGHTS_ONLY,
                "TensorRT builds INT8 from Q/DQ on weights and activations: use --precision int8 (calibrated), not "
                        + "int8-weights");
        KilnArgumentException.check(format != Format.TENSORRT || precision != Precision.INT8
                || target == Int8Target.TENSORRT, "a TensorRT engine is built from the TensorRT INT8 layout: "
                + "--int8-target tensorrt, not " + target.name().toLowerCase());
        KilnArgumentException.check(format != Format.TENSORRT || !int8IO, "--int8-io is for ONNX and TFLite; a "
                + "TensorRT engine takes float inputs");
        KilnArgumentException.check(engineOptions.precision() != dev.kiln.tensorrt.EnginePrecision.INT8_LEGACY
                || format == Format.TENSORRT && precision == Precision.INT8, "int8-legacy is a TensorRT INT8 mode: "
                + "it needs --format tensorrt and INT8 activation ranges");
        KilnArgumentException.check(!int8IO || precision == Precision.INT8 && quantizable,
                "--int8-io needs --precision int8 (ONNX or TFLite), got --precision "
                        + precision.name().toLowerCase() + (quantizable ? "" : " --format "
                        + format.name().toLowerCase()));
        KilnArgumentException.check(!(int8IO && verify), "--verify feeds float inputs, an --int8-io model takes "
                + "integer ones: drop --verify (or verify the same export without --int8-io)");
        KilnArgumentException.check(precision != Precision.INT8 || table != null || data != null,
                "--precision int8 needs activation ranges: give a calibration table (--table table.json, from kiln "
                        + "calibrate), representative data (--data), or --calib-random for a smoke run whose ranges "
                        + "come from random inputs");
    }

    /** This job for one signature of the model, written to {@code out}: what {@code --signature all} runs. */
    private ExportJob(ExportJob base, String signature, Path out) {
        this.model = base.model;
        this.output = out;
        this.format = base.format;
        this.precision = base.precision;
        this.importOptions = base.importOptions.toBuilder().signature(signature).build();
        this.optimize = base.optimize;
        this.opset = base.opset;
        this.target = base.target;
        this.weightRange = base.weightRange;
        this.weightMethod = base.weightMethod;
        this.keepFloat = base.keepFloat;
        this.halfIO = base.halfIO;
        this.int8IO = base.int8IO;
        this.externalData = base.externalData;
        this.table = base.table;
        this.data = base.data;
        this.method = base.method;
        this.methods = base.methods;
        this.verify = base.verify;
        this.log = base.log;
        this.engineOptions = base.engineOptions;
    }

    public static Builder builder(Path model, Path output) {
        return new Builder(model, output);
    }

    /** Whether this job asks for every signature ({@code --signature all}): run it with {@link #runEverySignature}. */
    public boolean everySignature() {
        return ImportOptions.ALL_SIGNATURES.equals(importOptions.signature());
    }

    /**
     * Exports every callable signature of the model: one ONNX or TFLite file per signature
     * ({@code <output>_<signature>.onnx}), or one SavedModel holding all of them; one result per signature, in
     * signature order.
     */
    public List<Result> runEverySignature() {
        KilnArgumentException.check(format != Format.FROZEN, "--signature all writes ONNX or TFLite (one file per "
                + "signature) or a SavedModel (all signatures in one); a frozen graph has none");
        List<String> keys = TfImporter.callableSignatures(model, importOptions.tags());
        log.accept("signature  all: " + String.join(", ", keys));
        List<Result> results = new ArrayList<>();
        if (format != Format.SAVEDMODEL) {
            for (String key : keys) {
                results.add(new ExportJob(this, key, perSignatureFile(output, key)).run());
            }
            return results;
        }
        List<Graph> graphs = new ArrayList<>();
        List<ExportJob> jobs = new ArrayList<>();
        for (String key : keys) {
            ExportJob job = new ExportJob(this, key, output);
            jobs.add(job);
            graphs.add(job.prepare());
        }
        TfExporter.writeSavedModel(graphs, output);
        log.accept("wrote SavedModel " + output + " with signatures " + keys);
        for (int i = 0; i < keys.size(); i++) {
            results.add(new Result(output, null, null, verify ? jobs.get(i).verify(graphs.get(i), null) : List.of()));
        }
        return results;
    }

    /** {@code model.onnx} → {@code model_<signature>.onnx}, the signature made safe for a file name. */
    static Path perSignatureFile(Path output, String signature) {
        String name = output.getFileName().toString();
        int dot = name.lastIndexOf('.');
        String stem = dot > 0 ? name.substring(0, dot) : name;
        String ext = dot > 0 ? name.substring(dot) : "";
        return output.resolveSibling(stem + "_" + signature.replaceAll("[^A-Za-z0-9_.-]", "_") + ext);
    }

    /** Imports and optimizes the model: the graph that is written. */
    private Graph prepare() {
        Graph graph = ModelFiles.load(model, importOptions, log);
        int before = graph.size();
        if (optimize) {
            List<PassResult> results = Passes.optimizeForInference().run(graph);
            log.accept(String.format("optimize_for_inference %d -> %d nodes (%d passes)", before, graph.size(),
                    results.size()));
        }
        return graph;
    }

    public Result run() {
        KilnArgumentException.check(!everySignature(), "--signature all: use runEverySignature()");
        Graph graph = prepare();
        ExportResult onnx = null;
        TfliteExportResult tflite = null;
        CalibrateJob.Summary calibration = null;
        TensorRtEngines.Outcome engine = null;
        switch (format) {
            case ONNX -> {
                if (precision == Precision.INT8) {
                    calibration = applyRanges(graph);
                }
                onnx = onnxExporter(precision, target, int8IO).export(graph, output);
                log.accept("wrote " + onnx);
            }
            case SAVEDMODEL -> {
                TfExporter.writeSavedModel(graph, output);
                log.accept("wrote SavedModel " + output);
            }
            case FROZEN -> {
                TfExporter.writeFrozenGraph(graph, output);
                log.accept("wrote frozen graph " + output);
            }
            case TFLITE -> {
                CalibrationTable t = null;
                if (precision == Precision.INT8) {
                    if (table != null) {
                        TfliteInt8Placement.validate(table, graph);
                        t = table;
                    } else {
                        t = TfliteExports.calibrate(graph, data, method, methods, ModelFingerprint.of(model), log);
                        if (data.isRandom()) {
                            log.accept("warning: INT8 ranges from RANDOM inputs (--calib-random): a smoke run, not "
                                    + "a calibration");
                        }
                    }
                }
                tflite = TfliteExports.exporter(precision, t, int8IO).export(graph, output);
                log.accept("wrote " + tflite);
            }
            case TENSORRT -> {
                CalibrationTable t = null;
                if (precision == Precision.INT8) {
                    calibration = applyRanges(graph);
                    t = appliedTable;
                }
                engine = writeTensorRt(graph, t);
            }
            default -> throw new IllegalStateException(format.toString());
        }
        return new Result(output, onnx, calibration, verify ? verify(graph, engine) : List.of(), tflite, engine);
    }

    /**
     * The ONNX a TensorRT engine is built from (beside the engine: {@code <name>.onnx}), for INT8 Kiln's TensorRT
     * calibration cache ({@code <name>_calibration_tensorrt.cache}), then the engine, or its plan without TensorRT.
     * int8-legacy: a float32 ONNX and the cache, which the legacy calibrator hands to TensorRT.
     */
    private TensorRtEngines.Outcome writeTensorRt(Graph graph, CalibrationTable table) {
        String stem = stem(output);
        Path onnxPath = output.resolveSibling(stem + ".onnx");
        try {
            // several files go beside the engine: its directory is made like the engine file would be
            java.nio.file.Files.createDirectories(output.toAbsolutePath().getParent());
        } catch (java.io.IOException e) {
            throw KilnException.io("cannot create the directory of " + output + ": " + e.getMessage(), e);
        }
        boolean legacy = engineOptions.precision() == dev.kiln.tensorrt.EnginePrecision.INT8_LEGACY;
        ExportResult onnx = onnxExporter(legacy ? Precision.FP32 : precision, Int8Target.TENSORRT, false)
                .export(graph, onnxPath);
        log.accept("wrote " + onnx);
        dev.kiln.tensorrt.EngineOptions.Builder eo = engineOptions.toBuilder();
        if (table != null) {
            Path cache = output.resolveSibling(stem + "_calibration_tensorrt.cache");
            dev.kiln.calib.TensorRtCalibrationCache.of(table).write(cache);
            log.accept("wrote TensorRT calibration cache " + cache);
            if (legacy) {
                eo.calibrationCache(cache);
            }
        }
        if (!legacy) {
            eo.precision(switch (precision) {
                case FP16 -> dev.kiln.tensorrt.EnginePrecision.FP16;
                case INT8 -> dev.kiln.tensorrt.EnginePrecision.INT8;
                default -> dev.kiln.tensorrt.EnginePrecision.FP32;
            });
        }
        return TensorRtEngines.buildOrPlan(model, onnxPath, output, eo.build(), log);
    }

    /** The ONNX exporter with this job's options, for one precision, INT8 layout and I/O type. */
    private OnnxExporter onnxExporter(Precision p, Int8Target t, boolean integerIO) {
        OnnxExporter.Builder b = OnnxExporter.builder().opset(opset).precision(p).int8Target(t).keepFloat32(keepFloat)
                .halfIO(halfIO).int8IO(integerIO).int8WeightMethod(weightMethod).externalData(externalData);
        if (weightRange != null) {
            b.int8WeightRange(weightRange);
        }
        return b.build();
    }

    private static String stem(Path p) {
        String name = p.getFileName().toString();
        int dot = name.lastIndexOf('.');
        return dot > 0 ? name.substring(0, dot) : name;
    }

    /**
     * The activation ranges of an INT8 export into the graph: from the given table (checked against the model), or
     * by calibrating on the data. Returns the calibration summary when it calibrated.
     */
    private CalibrateJob.Summary applyRanges(Graph graph) {
        CalibrationTable t = table;
        CalibrateJob.Summary summary = null;
        if (t == null) {
            CalibrateJob.Result r = CalibrateJob.builder(model).data(data).targets(EnumSet.of(target)).method(method)
                    .methods(methods).withOutputs(int8IO).log(log).build()
                    .calibrate(graph, ModelFingerprint.of(model));
            t = r.tables().get(target);
            summary = r.summary();
            if (data.isRandom()) {
                log.accept("warning: INT8 ranges from RANDOM inputs (--calib-random): a smoke run, not a calibration");
            }
        } else {
            Int8Placement.validate(t, graph, target, () -> ModelFingerprint.of(model));
        }
        Set<TensorRef> tensors = Int8Placement.quantizable(graph, target);
        if (int8IO) {
            // the outputs' ranges where the table has them; the exporter names any output still without one
            for (TensorRef r : Int8Placement.quantizableWithOutputs(graph, target)) {
                if (t.entries().containsKey(r.toString())) {
                    tensors.add(r);
                }
            }
        }
        Int8Placement.apply(t, graph, target, tensors);
        appliedTable = t;
        return summary;
    }

    /** The table whose ranges {@link #applyRanges} applied: what the TensorRT calibration cache is written from. */
    private CalibrationTable appliedTable;

    /**
     * Runs the written output on its runtime and TensorFlow on the original with the same random inputs; for
     * TensorRT without an engine here, the ONNX it will be built from, on ONNX Runtime (and says so).
     */
    private List<Verified> verify(Graph graph, TensorRtEngines.Outcome engine) {
        // a model that keeps its loops takes any length: verify at 9 steps rather than 1
        Map<String, Tensor> inputs = RandomInputs.forSignature(graph.inputs(), 42, 2,
                graph.keepsControlFlow() ? OptimizeJob.SEQUENCE_LENGTHS[2] : 1);
        Map<String, Tensor> expected;
        try (TfRunner tf = TfRunner.open(model, importOptions)) {
            expected = tf.run(inputs);
        }
        Map<String, Tensor> actual;
        ModelRunner opened;
        if (format == Format.TENSORRT) {
            if (engine.built()) {
                opened = dev.kiln.tensorrt.EngineRunner.open(output, log);
            } else {
                log.accept("verify     no engine here: verifying " + engine.onnx() + " (what it is built from) on ONNX "
                        + "Runtime");
                opened = OnnxRunner.open(engine.onnx(), 1);
            }
        } else if (format == Format.ONNX) {
            opened = OnnxRunner.open(output, 1);
        } else if (format == Format.TFLITE) {
            opened = TfliteRunner.open(output, 1);
        } else {
            opened = TfRunner.open(output, ImportOptions.builder().signature(format == Format.SAVEDMODEL
                    ? graph.metadata().get("signature") : null).build());
        }
        try (ModelRunner runner = opened) {
            actual = runner.run(inputs);
        }
        List<Verified> rows = new ArrayList<>();
        for (Map.Entry<String, Tensor> e : new LinkedHashMap<>(expected).entrySet()) {
            Tensor got = actual.get(e.getKey());
            if (got == null) {
                throw new KilnException(ErrorCode.VERIFICATION_FAILED, output + " has no output '" + e.getKey()
                        + "' (it has " + actual.keySet() + ")");
            }
            TensorComparison c = TensorComparison.compare(e.getValue(), got);
            rows.add(new Verified(e.getKey(), c.maxAbsError(), c.maxRelError()));
        }
        return rows;
    }

    /** Options of the export job; defaults: ONNX FP32, opset 17, optimized, TensorRT layout for INT8. */
    public static final class Builder {
        private final Path model;
        private final Path output;
        private Format format = Format.ONNX;
        private Precision precision = Precision.FP32;
        private ImportOptions importOptions = ImportOptions.defaults();
        private boolean optimize = true;
        private int opset = 17;
        private Int8Target target = Int8Target.TENSORRT;
        private Int8WeightRange weightRange;
        private ThresholdMethod weightMethod = ThresholdMethod.minmax();
        private Set<String> keepFloat = Set.of();
        private boolean halfIO;
        private boolean int8IO;
        private boolean externalData;
        private CalibrationTable table;
        private RepresentativeData data;
        private ThresholdMethod method = CalibrateJob.DEFAULT_METHOD;
        private Map<String, ThresholdMethod> methods = Map.of();
        private boolean verify;
        private Consumer<String> log = s -> { };
        private dev.kiln.tensorrt.EngineOptions engineOptions = dev.kiln.tensorrt.EngineOptions.defaults();

        private Builder(Path model, Path output) {
            this.model = Objects.requireNonNull(model, "model");
            this.output = Objects.requireNonNull(output, "output");
        }

        public Builder format(Format f) {
            this.format = Objects.requireNonNull(f);
            return this;
        }

        public Builder precision(Precision p) {
            this.precision = Objects.requireNonNull(p);
            return this;
        }

        public Builder importOptions(ImportOptions o) {
            this.importOptions = Objects.requireNonNull(o);
            return this;
        }

        /** false: export the imported graph without optimize_for_inference. */
        public Builder optimize(boolean v) {
            this.optimize = v;
            return this;
        }

        public Builder opset(int v) {
            this.opset = v;
            return this;
        }

        public Builder int8Target(Int8Target t) {
            this.target = Objects.requireNonNull(t);
            return this;
        }

        /** null: the target's default (reduced for ONNX Runtime, full for TensorRT). */
        public Builder int8WeightRange(Int8WeightRange r) {
            this.weightRange = r;
            return this;
        }

        public Builder int8WeightMethod(ThresholdMethod m) {
            this.weightMethod = Objects.requireNonNull(m);
            return this;
        }

        /** Node names or op types kept in float (FP16: float32; INT8: no Q/DQ). */
        public Builder keepFloat(Set<String> k) {
            this.keepFloat = Set.copyOf(k);
            return this;
        }

        public Builder halfIO(boolean v) {
            this.halfIO = v;
            return this;
        }

        public Builder int8IO(boolean v) {
            this.int8IO = v;
            return this;
        }

        /** ONNX: the weights in a side file {@code <output>.data} (ONNX external data; see OnnxExporter). */
        public Builder externalData(boolean v) {
            this.externalData = v;
            return this;
        }

        /** INT8: a calibration table instead of calibrating. */
        public Builder calibrationTable(CalibrationTable t) {
            this.table = t;
            return this;
        }

        /** INT8: representative data (or random data, flagged) to calibrate on. */
        public Builder calibrationData(RepresentativeData d) {
            this.data = d;
            return this;
        }

        public Builder calibrationMethod(ThresholdMethod m, Map<String, ThresholdMethod> perTensor) {
            this.method = Objects.requireNonNull(m);
            this.methods = Map.copyOf(perTensor);
            return this;
        }

        public Builder verify(boolean v) {
            this.verify = v;
            return this;
        }

        public Builder log(Consumer<String> l) {
            this.log = Objects.requireNonNull(l);
            return this;
        }

        /**
         * TensorRT: how the engine is built (profiles, memory, optimization level, timing cache ...). The engine's
         * precision follows {@link #precision} unless these options ask for int8-legacy.
         */
        public Builder engineOptions(dev.kiln.tensorrt.EngineOptions o) {
            this.engineOptions = Objects.requireNonNull(o);
            return this;
        }

        public ExportJob build() {
            return new ExportJob(this);
        }
    }
}
