package dev.kiln.cli;

import dev.kiln.KilnArgumentException;
import dev.kiln.pipeline.BenchJob;
import dev.kiln.pipeline.BenchReports;
import dev.kiln.pipeline.BenchRuntime;
import dev.kiln.pipeline.Reports;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code kiln bench MODEL...}: latency and throughput on every runtime present, side by side. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Time models on TensorFlow, ONNX Runtime, the TFLite interpreter and TensorRT side by side "
                + "(round-robin), with latency "
                + "percentiles, throughput and Kiln's own overhead; lists runtimes that are not available here.")
final class BenchCommand implements Callable<Integer> {

    @Parameters(arity = "1..*", paramLabel = "MODEL", description = "SavedModel directory, frozen .pb, .onnx, .tflite or TensorRT .engine (with Kiln's manifest)")
    List<Path> models;

    @Option(names = "--runtime", paramLabel = "NAME", defaultValue = "all",
            description = "tensorflow, onnxruntime, tflite, tensorrt or all (default: all)")
    String runtime;

    @Option(names = "--batch", paramLabel = "N", defaultValue = "1", description = "batch size (default: 1)")
    int batch;

    @Option(names = "--threads", paramLabel = "N", defaultValue = "0",
            description = "ONNX Runtime intra-op threads (default: 0, its default)")
    int threads;

    @Option(names = "--warmup", paramLabel = "SECONDS", description = "warm-up per pair (default: 1)")
    Double warmup;

    @Option(names = "--duration", paramLabel = "SECONDS", description = "measured time per pair (default: 5)")
    Double duration;

    @Option(names = "--iterations", paramLabel = "N", description = "measured iterations per pair, instead of a time")
    Integer iterations;

    @Option(names = "--json", description = "print the results as JSON")
    boolean json;

    @Option(names = {"-o", "--output"}, paramLabel = "DIR", description = "write bench.json and bench.html here")
    Path output;

    @Mixin
    ModelOptions modelOptions;

    @Override
    public Integer call() {
        KilnArgumentException.check(duration == null || iterations == null,
                "--duration and --iterations contradict each other: give one");
        KilnArgumentException.check(batch >= 1, "--batch must be >= 1, got " + batch);
        KilnArgumentException.check(output == null || !Files.isRegularFile(output),
                "-o must be a directory, but " + output + " is a file");
        KilnArgumentException.check(output == null || writable(output), "-o " + output + " is not writable");
        BenchJob.Builder b = BenchJob.builder(models).runtimes(BenchRuntime.parse(runtime)).batch(batch)
                .threads(threads).importOptions(modelOptions.importOptions())
                .log(json ? s -> { } : s -> System.err.println("kiln: " + s));
        if (warmup != null) {
            b.warmupSeconds(warmup);
        }
        if (duration != null) {
            b.durationSeconds(duration);
        }
        if (iterations != null) {
            b.iterations(iterations);
        }
        BenchJob.Result r = b.build().run();
        List<Path> written = output == null ? List.of() : BenchReports.write(r, output);
        if (json) {
            System.out.println(Reports.toJson(r));
        } else {
            BenchReports.printTable(r, System.out);
            written.forEach(p -> System.out.println("wrote " + p));
        }
        return 0;
    }

    /** Whether a directory can be made or written at {@code dir}: the nearest existing ancestor is writable. */
    static boolean writable(Path dir) {
        Path p = dir.toAbsolutePath();
        while (p != null && !Files.exists(p)) {
            p = p.getParent();
        }
        return p != null && Files.isDirectory(p) && Files.isWritable(p);
    }
}
