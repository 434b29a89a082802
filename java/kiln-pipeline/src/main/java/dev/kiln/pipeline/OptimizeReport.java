package dev.kiln.pipeline;

import dev.kiln.passes.PassResult;

import java.util.List;
import java.util.Map;

/**
 * What {@code kiln optimize} did, for machines (report.json) and people (report.html and the console summary).
 * Every number comes from this run. {@code weightMethod}: how the INT8 weights' per-channel ranges were chosen
 * ({@code minmax}, {@code mse}, ...), null without an INT8 model.
 */
public record OptimizeReport(
        String kilnVersion,
        Environment environment,
        String model,
        String modelNote,
        String outputDir,
        ModelSummary original,
        ModelSummary optimized,
        List<PassResult> passes,
        List<Artifact> artifacts,
        List<Verification> verifications,
        CalibrateJob.Summary calibration,
        String weightMethod,
        Evaluation evaluation,
        List<LayerError> layers,
        MixedPrecision mixedPrecision,
        dev.kiln.sparse.PruningReport pruning,
        dev.kiln.lowrank.LowRankReport lowRank,
        List<String> warnings,
        Map<String, Long> timingsMillis,
        List<OutputFile> files) {

    /**
     * A file this run wrote (each file of the SavedModel directories, ONNX models, calibration tables and caches):
     * its path relative to the output directory, size and SHA-256 (lower-case hex). The same input and options give
     * the same digests across runs, thread counts and kernel backends. report.json and report.html are not listed.
     */
    public record OutputFile(String path, long bytes, String sha256) { }

    /** The runtimes and machine this run used. */
    public record Environment(String java, String os, String cpu, int cores, String tensorflow, String onnxRuntime,
                              String kernelBackend) { }

    /** Node count, op histogram and weight sizes of one graph. */
    public record ModelSummary(int nodes, long parameters, long constantBytes, Map<String, Integer> ops,
                               List<String> inputs, List<String> outputs) { }

    /**
     * One file Kiln wrote. {@code saturation}: for ONNX, whether its integer layers are exact on ONNX Runtime's stock
     * kernels on x86 CPUs without VNNI ({@code dev.kiln.onnx.Int8Saturation}); empty otherwise.
     */
    public record Artifact(String format, String precision, String path, long bytes, String saturation) {
        public Artifact(String format, String precision, String path, long bytes) {
            this(format, precision, path, bytes, "");
        }
    }

    /**
     * Quantization error at one quantized tensor of the fake-quantized model against the FP32 model (accumulated from
     * the input up to and including this tensor's own quantization), on evaluation data.
     */
    public record LayerError(String tensor, String consumer, double sqnrDb, double cosine) { }

    /**
     * Mixed precision: which layers stayed in float and why ({@code reason}: "asked" for --keep-float, or the
     * sensitivity search's budget), with every layer's sensitivity when it was measured.
     */
    public record MixedPrecision(List<String> keptFloat, String reason, String budget,
                                 List<Sensitivity> sensitivities, String achieved) { }

    /** One layer quantized alone: its cost (accuracy drop in points, or 1 - cosine without labels). */
    public record Sensitivity(String layer, String op, double cost, String metric) { }

    /** One comparison of an artifact run on a runtime against TensorFlow on the original model. */
    /**
     * One artifact checked against TensorFlow on {@code samples} random inputs; {@code sequenceLengths}: the sizes the
     * samples gave unknown non-batch dimensions, for a model that keeps its loops (empty: 1, as for any other model).
     */
    public record Verification(String artifact, String runtime, int samples, List<Integer> sequenceLengths,
                               double maxAbsError, double maxRelError, double tolerance, boolean passed,
                               double medianLatencyMillis) { }

    public boolean allPassed() {
        return verifications.stream().allMatch(Verification::passed);
    }
}
