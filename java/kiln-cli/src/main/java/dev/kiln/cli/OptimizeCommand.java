package dev.kiln.cli;

import dev.kiln.pipeline.*;
import dev.kiln.ErrorCode;
import dev.kiln.KilnArgumentException;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.onnx.Int8Target;
import dev.kiln.onnx.Precision;
import dev.kiln.tensorflow.ExampleData;
import dev.kiln.tensorflow.TfImporter;
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
            description = "output formats: savedmodel, frozen, onnx, tflite, tensorrt (an engine per precision from "
                    + "Kiln's ONNX; without TensorRT and a GPU its manifest and a trtexec script) (default: savedmodel,onnx)")
    List<String> formats = List.of("savedmodel", "onnx");

    @Option(names = "--precision", split = ",", paramLabel = "PRECISION",
            description = "precisions: fp32, fp16, int8-dynamic (int8 weights, float activations), int8 (calibrated "
                    + "full INT8: a QDQ ONNX per --int8-target and a fake-quantized SavedModel). Default: fp32; "
                    + "with no MODEL: all")
    List<String> precisions;

    @Mixin
    Int8Options int8 = new Int8Options();

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

    @Option(names = "--prune", paramLabel = "SPEC", description = "one-shot pruning before export: S (unstructured "
            + "share, e.g. 0.5), global:S, N:M (e.g. 2:4) or KxK:S (blocks); first and last layer kept")
    String prune;

    @Option(names = "--low-rank", paramLabel = "ENERGY", description = "low-rank factorization before export, keeping "
            + "this share of each layer's squared singular values (e.g. 0.95)")
    Double lowRank;

    @Option(names = "--force", description = "write into an output directory that exists and holds files other "
            + "than an earlier Kiln run's")
    boolean force;

    @Mixin
    ModelOptions modelOptions;

    @Mixin
    EngineOptionsMixin engine = new EngineOptionsMixin();

    @Override
    public Integer call() {
        String note = "";
        Path source = model;
        boolean example = source == null;
        if (example) {
            source = buildExample();
            note = "bundled example: a CNN (Conv2D, BatchNorm, depthwise convolution, pooling, dense) trained with TF "
                    + "Java on MNIST images 1000-4999 shipped in examples/mnist; calibrated on images 0-999, "
                    + "evaluated on the held-out images 5000-5999";
            System.err.println("kiln: no MODEL given: using the bundled example MNIST CNN at " + source);
        }
        Path out = output != null ? output
                : Path.of("kiln-out").resolve(source.getFileName().toString().replaceAll("\\.pb$", ""));
        OutputDirs.checkWritable(out, force);
        List<SignatureTensor> inputs = TfImporter.load(source, modelOptions.importOptions().toBuilder()
                .loadWeights(false).build()).inputs();
        Set<Precision> precs = parsePrecisions(example);
        OptimizeJob.Builder b = OptimizeJob.builder(source).modelNote(note).output(out).formats(parseFormats())
                .precisions(precs).importOptions(modelOptions.importOptions()).opset(opset)
                .samples(samples).batch(batch).seed(seed).threads(threads)
                .int8Targets(int8.targets(EnumSet.allOf(Int8Target.class))).int8WeightRange(int8.weightRange())
                .int8WeightMethod(int8.weightMethod())
                .calibrationMethod(int8.defaultMethod(), int8.perTensorMethods()).keepFloat(int8.keepFloat)
                .engineOptions(engine.toOptions(dev.kiln.tensorrt.EnginePrecision.FP32))
                .log(json ? s -> { } : s -> System.err.println("kiln: " + s));
        if (example && int8.data == null && !int8.calibRandom && int8.table == null) {
            b.calibrationData(ExampleData.data(ExampleData.CALIBRATION, inputs.get(0).name(), 64))
                    .evaluationData(ExampleData.data(ExampleData.EVALUATION, inputs.get(0).name(), 64))
                    .labels(ExampleData.labelsAsLongs(ExampleData.EVALUATION));
        } else {
            b.calibrationData(int8.calibrationData(inputs)).calibrationTable(int8.table())
                    .evaluationData(int8.evaluationData(inputs)).labels(int8.labels(inputs));
        }
        if (prune != null) {
            b.prune(dev.kiln.sparse.PruningPlan.of(pruningPattern(prune)));
        }
        if (lowRank != null) {
            b.lowRank(dev.kiln.lowrank.LowRankFactorization.energy(lowRank));
        }
        KilnArgumentException.check(int8.maxAccuracyDrop == null || int8.minCosine == null,
                "--max-accuracy-drop and --min-cosine contradict each other: give one");
        if (int8.maxAccuracyDrop != null) {
            b.maxAccuracyDrop(int8.maxAccuracyDrop);
        }
        if (int8.minCosine != null) {
            b.minCosine(int8.minCosine);
        }
        OptimizeReport report = b.build().run();
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
        return OptimizeJob.formats(formats);
    }

    private Set<Precision> parsePrecisions(boolean example) {
        List<String> given = precisions != null ? precisions : example
                ? List.of("fp32", "fp16", "int8-dynamic", "int8") : List.of("fp32");
        return OptimizeJob.precisions(given);
    }

    /** --prune SPEC: S, global:S, N:M or KxK:S. */
    static dev.kiln.sparse.PruningPattern pruningPattern(String spec) {
        try {
            return dev.kiln.sparse.PruningPattern.parse(spec);
        } catch (KilnArgumentException e) {
            throw new KilnArgumentException("--prune: " + e.getMessage());
        }
    }
}
