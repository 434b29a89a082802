package dev.kiln.pipeline;

import dev.kiln.KilnArgumentException;
import dev.kiln.calib.CalibrationTable;
import dev.kiln.data.RepresentativeData;
import dev.kiln.graph.Graph;
import dev.kiln.onnx.ExportResult;
import dev.kiln.onnx.Int8Target;
import dev.kiln.onnx.OnnxExporter;
import dev.kiln.onnx.OnnxRunner;
import dev.kiln.onnx.Precision;
import dev.kiln.passes.PassResult;
import dev.kiln.passes.Passes;
import dev.kiln.tensorflow.ImportOptions;
import dev.kiln.tensorflow.TfExporter;
import dev.kiln.tensorflow.TfImporter;
import dev.kiln.tensorflow.TfRunner;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * The Java facade: one model, step by step, each step returning a new immutable stage.
 *
 * <pre>{@code
 * Kiln.Model m = Kiln.load(Path.of("saved_model")).optimize().quantize(Precision.INT8, data);
 * m.export(Kiln.Format.ONNX, Path.of("model_int8.onnx"));              // ONNX Runtime layout (7-bit weights)
 * m.export(Kiln.Format.ONNX, Path.of("model_trt.onnx"), Int8Target.TENSORRT);
 * Evaluation e = m.evaluate(heldOut, labels);                           // TF on the original vs ONNX Runtime
 * }</pre>
 *
 * The full job with reports is {@link OptimizeJob}; calibration alone is {@link CalibrateJob}.
 */
public final class Kiln {
    private Kiln() {
    }

    /** What {@link Model#export} writes. */
    public enum Format {
        /** ONNX: FP32, FP16, dynamic-range INT8 or QDQ INT8 (per target). */
        ONNX,
        /** A SavedModel: FP32, or for INT8 the fake-quantized SavedModel that TensorFlow runs to simulate INT8. */
        SAVEDMODEL,
        /** A frozen GraphDef (.pb), FP32. */
        FROZEN
    }

    /** Imports a SavedModel directory or frozen .pb with the default tags and signature. */
    public static Model load(Path model) {
        return load(model, ImportOptions.defaults());
    }

    public static Model load(Path model, ImportOptions options) {
        Objects.requireNonNull(model, "model");
        return new Model(model, options, TfImporter.load(model, options), List.of(), Precision.FP32, Map.of());
    }

    /** One stage of a model. Never changes; every step returns a new stage. */
    public static final class Model {
        private final Path source;
        private final ImportOptions options;
        private final Graph graph;
        private final List<PassResult> passes;
        private final Precision precision;
        private final Map<Int8Target, CalibrationTable> tables;

        private Model(Path source, ImportOptions options, Graph graph, List<PassResult> passes, Precision precision,
                      Map<Int8Target, CalibrationTable> tables) {
            this.source = source;
            this.options = options;
            this.graph = graph;
            this.passes = passes;
            this.precision = precision;
            this.tables = tables;
        }

        /** optimize_for_inference: prune, strip training ops, fold constants and BatchNorm, fuse bias+activation. */
        public Model optimize() {
            Graph g = graph.copy();
            List<PassResult> r = new ArrayList<>(passes);
            r.addAll(Passes.optimizeForInference().run(g));
            return new Model(source, options, g, List.copyOf(r), precision, tables);
        }

        /** FP16 or dynamic-range INT8 (weights only): no data needed. */
        public Model quantize(Precision p) {
            KilnArgumentException.check(p != Precision.INT8, "full INT8 needs representative data: "
                    + "quantize(Precision.INT8, data)");
            return new Model(source, options, graph, passes, p, Map.of());
        }

        /** Full INT8: calibrates on {@code data} for both INT8 layouts (default method: mse). */
        public Model quantize(Precision p, RepresentativeData data) {
            KilnArgumentException.check(p == Precision.INT8, "quantize(precision, data) is for Precision.INT8; "
                    + p + " needs no data");
            CalibrateJob.Result r = CalibrateJob.builder(source).importOptions(options).data(data)
                    .targets(EnumSet.allOf(Int8Target.class)).build()
                    .calibrate(graph, ModelFingerprint.of(source));
            return new Model(source, options, graph, passes, p, new EnumMap<>(r.tables()));
        }

        /** Full INT8 from a calibration table computed earlier (kiln calibrate, or a TensorRT cache). */
        public Model quantize(Precision p, CalibrationTable table) {
            KilnArgumentException.check(p == Precision.INT8, "a calibration table is for Precision.INT8");
            Map<Int8Target, CalibrationTable> t = new EnumMap<>(Int8Target.class);
            t.put(table.symmetric() ? Int8Target.TENSORRT : Int8Target.ONNXRUNTIME, table);
            return new Model(source, options, graph, passes, p, t);
        }

        /** Writes the model; INT8 ONNX gets ONNX Runtime's layout if calibrated for it, else TensorRT's. */
        public Path export(Format format, Path out) {
            Int8Target t = tables.containsKey(Int8Target.ONNXRUNTIME) ? Int8Target.ONNXRUNTIME : Int8Target.TENSORRT;
            return export(format, out, t);
        }

        /** Writes the model; for INT8, in the layout of {@code target}. */
        public Path export(Format format, Path out, Int8Target target) {
            boolean int8 = precision == Precision.INT8;
            CalibrationTable table = int8 ? tables.get(target) : null;
            KilnArgumentException.check(!int8 || table != null, "this model was calibrated for " + tables.keySet()
                    + ", not for " + target);
            switch (format) {
                case ONNX -> {
                    if (int8) {
                        ExportResult r = Int8Exports.exporter(target, null, Set.of(), 17)
                                .export(Int8Exports.quantized(graph, table, target), out);
                        return r.path();
                    }
                    return OnnxExporter.builder().precision(precision).build().export(graph, out).path();
                }
                case SAVEDMODEL -> {
                    if (int8) {
                        Int8Exports.writeFakeQuantSavedModel(graph, table, target, null, null, Set.of(), out);
                    } else {
                        KilnArgumentException.check(precision == Precision.FP32, "a SavedModel is written in FP32 "
                                + "(or fake-quantized INT8), not " + precision);
                        TfExporter.writeSavedModel(graph, out);
                    }
                    return out;
                }
                case FROZEN -> {
                    KilnArgumentException.check(!int8 && precision == Precision.FP32, "a frozen graph is FP32");
                    TfExporter.writeFrozenGraph(graph, out);
                    return out;
                }
                default -> throw new IllegalStateException(format.toString());
            }
        }

        /**
         * Exports this stage to ONNX in a temporary file and evaluates it on ONNX Runtime against TensorFlow running
         * the original model on {@code data} ({@code labels} may be null).
         */
        public Evaluation evaluate(RepresentativeData data, long[] labels) {
            Path tmp;
            try {
                tmp = java.nio.file.Files.createTempFile("kiln-eval", ".onnx");
            } catch (java.io.IOException e) {
                throw dev.kiln.KilnException.io("cannot create a temporary file: " + e.getMessage(), e);
            }
            try {
                export(Format.ONNX, tmp);
                try (TfRunner ref = TfRunner.open(source, options); OnnxRunner ort = OnnxRunner.open(tmp, 1)) {
                    return Evaluation.run(ref, "original", List.of(new Evaluation.Candidate("onnx "
                            + precision.name().toLowerCase(java.util.Locale.ROOT), "onnxruntime", tmp.toString(),
                            sizeOf(tmp), ort)), data, labels, null);
                }
            } finally {
                try {
                    java.nio.file.Files.deleteIfExists(tmp);
                } catch (java.io.IOException ignored) {
                    // a temporary file
                }
            }
        }

        private static long sizeOf(Path p) {
            return p.toFile().length();
        }

        /** The graph of this stage (a copy). */
        public Graph graph() {
            return graph.copy();
        }

        public Precision precision() {
            return precision;
        }

        /** What the optimize passes did. */
        public List<PassResult> passes() {
            return passes;
        }

        /** The calibration table for {@code target}, if this stage is calibrated INT8. */
        public CalibrationTable table(Int8Target target) {
            CalibrationTable t = tables.get(target);
            KilnArgumentException.check(t != null, "no calibration table for " + target);
            return t;
        }
    }
}
