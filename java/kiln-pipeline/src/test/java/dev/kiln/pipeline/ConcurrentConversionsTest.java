package dev.kiln.pipeline;

import dev.kiln.KilnTemporaries;
import dev.kiln.onnx.Precision;
import dev.kiln.tensorflow.ExampleModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

/**
 * Many optimize jobs at once in one JVM, on several models (the shared real models when ../shared is present),
 * each compared file by file (SHA-256) with a serial run of the same model; then several jobs writing the same
 * model into the same output directory at once, which must end with one complete output and no temporary left.
 * Default 4 threads x 2 jobs; {@code -Dkiln.stress.threads=8 -Dkiln.stress.jobs=20} is the full size.
 */
class ConcurrentConversionsTest {
    @TempDir
    static Path tmp;

    @Test
    void concurrentJobsWriteWhatASerialRunWrites() throws Exception {
        int threads = Integer.getInteger("kiln.stress.threads", 4);
        int jobsPerThread = Integer.getInteger("kiln.stress.jobs", 2);
        Map<String, Path> models = models();

        Map<String, List<OptimizeReport.OutputFile>> serial = new LinkedHashMap<>();
        for (Map.Entry<String, Path> m : models.entrySet()) {
            serial.put(m.getKey(), run(m.getValue(), tmp.resolve("serial").resolve(m.getKey())).files());
        }
        List<String> names = new ArrayList<>(models.keySet());
        long t0 = System.nanoTime();
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<List<OptimizeReport.OutputFile>>> futures = new ArrayList<>();
            for (int i = 0; i < threads * jobsPerThread; i++) {
                String name = names.get(i % names.size());
                Path out = tmp.resolve("concurrent").resolve(i + "-" + name);
                futures.add(pool.submit(() -> run(models.get(name), out).files()));
            }
            for (int i = 0; i < futures.size(); i++) {
                String name = names.get(i % names.size());
                assertEquals(serial.get(name), futures.get(i).get(), "job " + i + " (" + name + ") wrote other bytes "
                        + "than the serial run");
            }

            // several jobs, one output directory: the last writer wins, every file whole, no temporary left
            String first = names.get(0);
            Path shared = tmp.resolve("one-output-dir");
            List<Future<OptimizeReport>> same = new ArrayList<>();
            for (int i = 0; i < threads; i++) {
                same.add(pool.submit(() -> run(models.get(first), shared)));
            }
            for (Future<OptimizeReport> f : same) {
                f.get();
            }
            for (OptimizeReport.OutputFile f : serial.get(first)) {
                assertEquals(f.sha256(), OutputDigests.sha256(shared.resolve(f.path())), f.path());
            }
            try (Stream<Path> s = Files.walk(shared)) {
                assertFalse(s.anyMatch(p -> KilnTemporaries.isTemporaryName(p.getFileName().toString())),
                        "a temporary was left in " + shared);
            }
        } finally {
            pool.shutdownNow();
        }
        System.out.printf("ConcurrentConversionsTest: %d threads x %d jobs on %d models in %.1f s, all identical to "
                + "the serial run%n", threads, jobsPerThread, models.size(), (System.nanoTime() - t0) / 1e9);
    }

    private static OptimizeReport run(Path model, Path out) {
        return OptimizeJob.builder(model).output(out).log(s -> { })
                .formats(EnumSet.of(OptimizeJob.Format.SAVEDMODEL, OptimizeJob.Format.ONNX))
                .precisions(EnumSet.of(Precision.FP32, Precision.FP16)).build().run();
    }

    /** Kiln's example models, and two real models of ../shared/models when present. */
    private static Map<String, Path> models() {
        Map<String, Path> m = new LinkedHashMap<>();
        m.put("example_cnn", ExampleModels.exampleCnn(tmp.resolve("models/example_cnn")));
        m.put("residual_add", ExampleModels.residualAdd(tmp.resolve("models/residual_add")));
        Path shared = Path.of(System.getProperty("kiln.repo.root", "../.."), "..", "shared", "models").normalize();
        for (String name : List.of("tfrust_keras_single_input_saved_model", "mlnet_mnist_conv_model")) {
            if (Files.isDirectory(shared.resolve(name))) {
                m.put(name, shared.resolve(name));
            } else {
                System.out.println("ConcurrentConversionsTest: ../shared/models/" + name + " is absent: skipped");
            }
        }
        return m;
    }
}
