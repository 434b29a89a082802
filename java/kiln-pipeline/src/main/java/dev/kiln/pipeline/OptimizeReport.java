package dev.kiln.pipeline;

import dev.kiln.passes.PassResult;

import java.util.List;
import java.util.Map;

/**
 * What {@code kiln optimize} did, for machines (report.json) and people (report.html and the console summary).
 * Every number comes from this run.
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
        Map<String, Long> timingsMillis) {

    /** The runtimes and machine this run used. */
    public record Environment(String java, String os, String cpu, int cores, String tensorflow, String onnxRuntime,
                              String kernelBackend) { }

    /** Node count, op histogram and weight sizes of one graph. */
    public record ModelSummary(int nodes, long parameters, long constantBytes, Map<String, Integer> ops,
                               List<String> inputs, List<String> outputs) { }

    /** One file Kiln wrote. */
    public record Artifact(String format, String precision, String path, long bytes) { }

    /** One comparison of an artifact run on a runtime against TensorFlow on the original model. */
    public record Verification(String artifact, String runtime, int samples, double maxAbsError, double maxRelError,
                               double tolerance, boolean passed, double medianLatencyMillis) { }

    public boolean allPassed() {
        return verifications.stream().allMatch(Verification::passed);
    }
}
