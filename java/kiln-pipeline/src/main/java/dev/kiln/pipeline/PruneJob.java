package dev.kiln.pipeline;

import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;
import dev.kiln.data.RepresentativeData;
import dev.kiln.graph.Graph;
import dev.kiln.onnx.OnnxExporter;
import dev.kiln.passes.Passes;
import dev.kiln.kernels.KernelBackends;
import dev.kiln.sparse.PackedWeights;
import dev.kiln.sparse.Pruner;
import dev.kiln.sparse.PruningPlan;
import dev.kiln.sparse.PruningReport;
import dev.kiln.tensorflow.ImportOptions;
import dev.kiln.tensorflow.TfExporter;
import dev.kiln.tensorflow.TfImporter;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * One-shot pruning of a model into an output directory: imports it, runs {@code optimize_for_inference} (so that
 * BatchNorm is folded into the weights before they are pruned), prunes by the plan, and writes
 * {@code saved_model/}, {@code model.onnx} (FP32), {@code weights.kpack} (the pruned layers packed, see
 * {@link PackedWeights}) and {@code sparsity_report.json} ({@link PruningReport#toJson()}, with packed and dense sizes).
 * With {@link Builder#evaluate evaluation data}, the report also carries the pruned model's accuracy against the
 * unpruned one.
 *
 * <pre>{@code
 * PruningReport r = PruneJob.builder(Path.of("model"), Path.of("out"))
 *         .plan(PruningPlan.of(PruningPattern.twoFour())).build().run();
 * }</pre>
 */
public final class PruneJob {
    /** The files written under the output directory. */
    public static final String SAVED_MODEL = "saved_model";
    public static final String ONNX = "model.onnx";
    public static final String REPORT = "sparsity_report.json";
    public static final String PACKED = PackedWeights.FILE_NAME;

    private final Path model;
    private final Path output;
    private final PruningPlan plan;
    private final ImportOptions importOptions;
    private final RepresentativeData evalData;
    private final long[] evalLabels;

    private PruneJob(Builder b) {
        KilnArgumentException.check(b.plan != null, "a pruning plan is required (builder.plan(...))");
        this.model = b.model;
        this.output = b.output;
        this.plan = b.plan;
        this.importOptions = b.importOptions;
        this.evalData = b.evalData;
        this.evalLabels = b.evalLabels;
    }

    public static Builder builder(Path model, Path outputDir) {
        return new Builder(model, outputDir);
    }

    /** Prunes and writes; returns what was pruned. */
    public PruningReport run() {
        Graph g = TfImporter.load(model, importOptions);
        Passes.optimizeForInference().run(g);
        Graph original = evalData == null ? null : g.copy(); // after the passes: only pruning is measured
        PruningReport report = Pruner.of(plan).prune(g);
        if (original != null) {
            report = report.withAccuracy(AgainstOriginal.measure(original, g, evalData, evalLabels));
        }
        try {
            Files.createDirectories(output);
        } catch (IOException e) {
            throw KilnException.io("cannot create " + output + ": " + e.getMessage(), e);
        }
        TfExporter.writeSavedModel(g, output.resolve(SAVED_MODEL));
        OnnxExporter.fp32().export(g, output.resolve(ONNX));
        List<PackedWeights.Layer> packed = PackedWeights.fromGraph(g, report, KernelBackends.get());
        PackedWeights.write(output.resolve(PACKED), packed);
        report = report.withPacked(packed);
        Reports.writeAtomically(output.resolve(REPORT), report.toJson());
        return report;
    }

    /** Options of a {@link PruneJob}. */
    public static final class Builder {
        private final Path model;
        private final Path output;
        private PruningPlan plan;
        private ImportOptions importOptions = ImportOptions.defaults();
        private RepresentativeData evalData;
        private long[] evalLabels;

        private Builder(Path model, Path output) {
            KilnArgumentException.check(model != null, "model must not be null");
            KilnArgumentException.check(output != null, "output directory must not be null");
            this.model = model;
            this.output = output;
        }

        /** What to prune and how (required). */
        public Builder plan(PruningPlan p) {
            KilnArgumentException.check(p != null, "plan must not be null");
            this.plan = p;
            return this;
        }

        /** Tags and signature of the SavedModel to import (default: serve, serving_default). */
        public Builder importOptions(ImportOptions options) {
            KilnArgumentException.check(options != null, "importOptions must not be null");
            this.importOptions = options;
            return this;
        }

        /**
         * Evaluates the result against the original (both in TensorFlow) on {@code data}; with {@code labels} (one
         * class per sample, in order; may be null) top-1 too. The report then carries the accuracy.
         */
        public Builder evaluate(RepresentativeData data, long[] labels) {
            KilnArgumentException.check(data != null, "evaluation data must not be null");
            this.evalData = data;
            this.evalLabels = labels == null ? null : labels.clone();
            return this;
        }

        public PruneJob build() {
            return new PruneJob(this);
        }
    }
}
