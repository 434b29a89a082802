package dev.kiln.pipeline;

import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;
import dev.kiln.data.RepresentativeData;
import dev.kiln.graph.Graph;
import dev.kiln.lowrank.LowRankFactorization;
import dev.kiln.lowrank.LowRankReport;
import dev.kiln.onnx.OnnxExporter;
import dev.kiln.passes.Passes;
import dev.kiln.tensorflow.ImportOptions;
import dev.kiln.tensorflow.TfExporter;
import dev.kiln.tensorflow.TfImporter;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;

/**
 * Low-rank factorization of one model, end to end: import, optimize for inference, factorize
 * ({@link LowRankFactorization}), then write {@code saved_model/}, {@code model.onnx} (FP32) and
 * {@code lowrank_report.json} into the output directory. With {@link Builder#evaluate evaluation data}, the report
 * also carries the factorized model's accuracy against the original.
 *
 * <pre>{@code
 * FactorizeJob.Result r = FactorizeJob.builder(Path.of("model"), Path.of("out")).energy(0.95).build().run();
 * }</pre>
 */
public final class FactorizeJob {
    /** The report and where each file went. */
    public record Result(LowRankReport report, Path savedModel, Path onnx, Path reportJson) {
    }

    private final Path model;
    private final Path output;
    private final ImportOptions importOptions;
    private final RepresentativeData evalData;
    private final long[] evalLabels;
    private final LowRankFactorization factorization;

    private FactorizeJob(Builder b) {
        this.model = b.model;
        this.output = b.output;
        this.importOptions = b.importOptions;
        this.evalData = b.evalData;
        this.evalLabels = b.evalLabels;
        this.factorization = b.pass.build();
    }

    public static Builder builder(Path model, Path output) {
        return new Builder(model, output);
    }

    public LowRankFactorization factorization() {
        return factorization;
    }

    public Result run() {
        Graph g = TfImporter.load(model, importOptions);
        Passes.optimizeForInference().run(g);
        Graph original = evalData == null ? null : g.copy(); // after the passes: only factorization is measured
        LowRankReport report = factorization.factorize(g);
        if (original != null) {
            report = report.withAccuracy(AgainstOriginal.measure(original, g, evalData, evalLabels));
        }
        try {
            Files.createDirectories(output);
        } catch (IOException e) {
            throw KilnException.io("cannot create " + output + ": " + e.getMessage(), e);
        }
        Path savedModel = output.resolve("saved_model");
        Path onnx = output.resolve("model.onnx");
        Path json = output.resolve("lowrank_report.json");
        TfExporter.writeSavedModel(g, savedModel);
        OnnxExporter.fp32().export(g, onnx);
        Reports.writeAtomically(json, Reports.toJson(report));
        return new Result(report, savedModel, onnx, json);
    }

    /** Options of {@link FactorizeJob}; the rank options are {@link LowRankFactorization.Builder}'s. */
    public static final class Builder {
        private final Path model;
        private final Path output;
        private ImportOptions importOptions = ImportOptions.defaults();
        private RepresentativeData evalData;
        private long[] evalLabels;
        private final LowRankFactorization.Builder pass = LowRankFactorization.builder();

        private Builder(Path model, Path output) {
            KilnArgumentException.check(model != null, "model must not be null");
            KilnArgumentException.check(output != null, "output directory must not be null");
            this.model = model;
            this.output = output;
        }

        public Builder importOptions(ImportOptions options) {
            this.importOptions = Objects.requireNonNull(options, "importOptions");
            return this;
        }

        /** Rank per layer by kept energy, in (0, 1] (default 0.95). */
        public Builder energy(double energy) {
            pass.energy(energy);
            return this;
        }

        /** Rank per layer by parameter reduction, in [0, 1). */
        public Builder reduction(double reduction) {
            pass.reduction(reduction);
            return this;
        }

        /** One rank for every layer. */
        public Builder rank(int rank) {
            pass.rank(rank);
            return this;
        }

        /** Only these layers (node names). */
        public Builder layers(java.util.Set<String> names) {
            pass.layers(names);
            return this;
        }

        public Builder minParameters(long min) {
            pass.minParameters(min);
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

        public FactorizeJob build() {
            return new FactorizeJob(this);
        }
    }
}
