package dev.kiln.cli;

import dev.kiln.pipeline.*;
import dev.kiln.ErrorCode;
import dev.kiln.onnx.Precision;
import dev.kiln.tensorflow.ExampleModels;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code kiln optimize}: the main job. */
@Command(name = "optimize", mixinStandardHelpOptions = true,
        description = {"Import a SavedModel or frozen graph, optimize it for inference, export it and verify every "
                + "output against TensorFlow on the original.",
                "With no MODEL, runs on a bundled example: a CNN that Kiln trains with TF Java on the MNIST digits in "
                + "examples/mnist (at first use, then cached)."})
final class OptimizeCommand implements Callable<Integer> {

    @Parameters(index = "0", arity = "0..1", paramLabel = "MODEL",
            description = "SavedModel directory or frozen GraphDef .pb (default: the bundled example CNN)")
    Path model;

    @Option(names = {"-o", "--output"}, paramLabel = "DIR", description = "output directory (default: kiln-out/<model>)")
    Path output;

    @Option(names = "--format", split = ",", paramLabel = "FORMAT",
            description = "output formats: savedmodel, frozen, onnx (default: savedmodel,onnx)")
    List<String> formats = List.of("savedmodel", "onnx");

    @Option(names = "--precision", split = ",", paramLabel = "PRECISION",
            description = "ONNX precisions: fp32, fp16 (default: fp32)")
    List<String> precisions = List.of("fp32");

    @Option(names = "--opset", description = "ONNX opset (default: ${DEFAULT-VALUE})")
    int opset = 17;

    @Option(names = "--samples", description = "random input samples for verification (default: ${DEFAULT-VALUE})")
    int samples = 4;

    @Option(names = "--batch", description = "batch size used for unknown batch dimensions (default: ${DEFAULT-VALUE})")
    int batch = 2;

    @Option(names = "--seed", description = "seed of the random inputs (default: ${DEFAULT-VALUE})")
    long seed = 42;

    @Option(names = "--threads", description = "intra-op threads for ONNX Runtime (default: ${DEFAULT-VALUE})")
    int threads = 1;

    @Option(names = "--json", description = "print report.json to stdout instead of the summary")
    boolean json;

    @Mixin
    ModelOptions modelOptions;

    @Override
    public Integer call() {
        String note = "";
        Path source = model;
        if (source == null) {
            source = buildExample();
            note = "bundled example: a CNN (Conv2D, BatchNorm, depthwise convolution, pooling, dense) trained with TF "
                    + "Java on MNIST images 1000-4999 shipped in examples/mnist; images 5000-5999 are held out";
            System.err.println("kiln: no MODEL given: using the bundled example MNIST CNN at " + source);
        }
        Path out = output != null ? output
                : Path.of("kiln-out").resolve(source.getFileName().toString().replaceAll("\\.pb$", ""));
        OptimizeJob job = OptimizeJob.builder(source).modelNote(note).output(out).formats(parseFormats())
                .precisions(parsePrecisions()).importOptions(modelOptions.importOptions()).opset(opset)
                .samples(samples).batch(batch).seed(seed).threads(threads)
                .log(json ? s -> { } : s -> System.err.println("kiln: " + s)).build();
        OptimizeReport report = job.run();
        Reports.writeAtomically(out.resolve("report.json"), Reports.toJson(report));
        Reports.writeAtomically(out.resolve("report.html"), Reports.toHtml(report));
        if (json) {
            System.out.println(Reports.toJson(report));
        } else {
            Reports.printSummary(report, System.out);
        }
        if (!report.allPassed()) {
            System.err.println("kiln: verification FAILED for at least one output (see the table above)");
            return ErrorCode.VERIFICATION_FAILED.exitStatus();
        }
        return 0;
    }

    /** The trained example, built at first use into the cache ($KILN_CACHE_DIR, else $XDG_CACHE_HOME/kiln). */
    private static Path buildExample() {
        String env = System.getenv("KILN_CACHE_DIR");
        String xdg = System.getenv("XDG_CACHE_HOME");
        Path cache = env != null && !env.isBlank() ? Path.of(env)
                : xdg != null && !xdg.isBlank() ? Path.of(xdg, "kiln")
                : Path.of(System.getProperty("user.home"), ".cache", "kiln");
        // the version in the path changes whenever the example's architecture or training changes
        Path dir = cache.resolve("examples").resolve("v1").resolve("mnist_cnn");
        if (!Files.isDirectory(dir)) {
            System.err.println("kiln: training the bundled example MNIST CNN (first use) ...");
        }
        return ExampleModels.trainedMnistCnn(dir, s -> System.err.println("kiln: example: " + s));
    }

    private Set<OptimizeJob.Format> parseFormats() {
        Set<OptimizeJob.Format> set = EnumSet.noneOf(OptimizeJob.Format.class);
        for (String f : formats) {
            switch (f.trim().toLowerCase()) {
                case "savedmodel" -> set.add(OptimizeJob.Format.SAVEDMODEL);
                case "frozen", "pb" -> set.add(OptimizeJob.Format.FROZEN);
                case "onnx" -> set.add(OptimizeJob.Format.ONNX);
                default -> throw new dev.kiln.KilnArgumentException("--format: unknown format '" + f
                        + "' (known: savedmodel, frozen, onnx)");
            }
        }
        return set;
    }

    private Set<Precision> parsePrecisions() {
        Set<Precision> set = EnumSet.noneOf(Precision.class);
        for (String p : precisions) {
            switch (p.trim().toLowerCase()) {
                case "fp32" -> set.add(Precision.FP32);
                case "fp16" -> set.add(Precision.FP16);
                default -> throw new dev.kiln.KilnArgumentException("--precision: '" + p
                        + "' is not available in optimize (fp32, fp16; INT8 comes with calibration: kiln export "
                        + "--precision int8-weights)");
            }
        }
        return set;
    }
}
