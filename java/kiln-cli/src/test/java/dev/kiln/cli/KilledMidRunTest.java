package dev.kiln.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.KilnTemporaries;
import dev.kiln.tensorflow.ExampleModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code kiln optimize} in a child JVM, SIGKILLed (destroyForcibly) at random points: every final path holds a
 * complete file (byte-identical to an uninterrupted run's) or nothing, and the next run of the same command, into
 * the same directory, succeeds, removes the killed runs' temporaries, and writes files with a plain write's
 * permissions. {@code -Dkiln.kill.rounds=N} kills more often (default 3); {@code -Dkiln.kill.seed} repeats a run.
 */
class KilledMidRunTest {
    @TempDir
    Path tmp;

    /** Files the command below writes, relative to its output directory. */
    private static final List<String> FILES = List.of("saved_model/saved_model.pb", "frozen_graph.pb", "model.onnx",
            "model_fp16.onnx");

    @Test
    void aKilledRunLeavesCompleteFilesOrNoneAndTheNextRunCleansUp() throws Exception {
        Path model = ExampleModels.largeModel(tmp.resolve("large"), 8L << 20);
        long seed = Long.getLong("kiln.kill.seed", System.nanoTime());
        int rounds = Integer.getInteger("kiln.kill.rounds", 3);
        Random random = new Random(seed);

        Path reference = tmp.resolve("reference");
        Child ref = Child.start(model, reference);
        assertEquals(0, ref.waitFor(), "the uninterrupted run fails: " + ref.stderr());
        long window = Math.max(200, ref.millisUntil("export ") - ref.millisUntil("optimize"));

        Path out = tmp.resolve("killed");
        int leftTemporaries = 0;
        for (int round = 0; round < rounds; round++) {
            Child c = Child.start(model, out);
            // half the kills land anywhere in the run, half in the window where the outputs are written
            long delay = round % 2 == 0 ? (long) (random.nextDouble() * ref.millis())
                    : c.millisUntilSeen("optimize") + (long) (random.nextDouble() * window * 1.2);
            c.killAt(delay);
            String at = "round " + round + " (seed " + seed + ", killed at " + delay + " ms)";
            for (String f : FILES) {
                Path p = out.resolve(f);
                if (Files.exists(p)) {
                    assertArrayEquals(Files.readAllBytes(reference.resolve(f)), Files.readAllBytes(p),
                            f + " is complete: identical to the uninterrupted run's, " + at);
                }
            }
            if (Files.isDirectory(out.resolve("saved_model"))) {
                assertTrue(Files.isDirectory(out.resolve("saved_model/variables")), at);
                assertTrue(Files.isRegularFile(out.resolve("saved_model/saved_model.pb")), at);
            }
            if (Files.exists(out.resolve("report.json"))) {
                new ObjectMapper().readTree(out.resolve("report.json").toFile());
            }
            List<String> names = names(out);
            for (String n : names) {
                assertTrue(OutputDirs.isKilnOutput(n), "only Kiln's outputs and temporaries are left: " + names);
            }
            if (names.stream().anyMatch(KilnTemporaries::isTemporaryName)) {
                leftTemporaries++;
            }
        }
        System.out.printf("KilledMidRunTest: %d kills (seed %d), %d left a temporary%n", rounds, seed,
                leftTemporaries);

        Child next = Child.start(model, out);
        assertEquals(0, next.waitFor(), "the next run of the same command succeeds: " + next.stderr());
        assertFalse(names(out).stream().anyMatch(KilnTemporaries::isTemporaryName), "stale temporaries removed: "
                + names(out));
        Path plain = Files.write(tmp.resolve("plain"), new byte[1]);
        for (String f : FILES) {
            assertArrayEquals(Files.readAllBytes(reference.resolve(f)), Files.readAllBytes(out.resolve(f)), f);
            if (plain.getFileSystem().supportedFileAttributeViews().contains("posix")) {
                assertEquals(Files.getPosixFilePermissions(plain), Files.getPosixFilePermissions(out.resolve(f)),
                        f + " has a plain write's permissions");
            }
        }
    }

    private static List<String> names(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }

    /** {@code kiln optimize} in a child JVM on this test's class path, its stderr lines timed. */
    private static final class Child {
        private final Process process;
        private final long start = System.nanoTime();
        private final List<String> lines = new ArrayList<>();
        private final List<Long> times = new ArrayList<>();
        private final Thread reader;
        private long ended;

        private Child(Process process) {
            this.process = process;
            this.reader = new Thread(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getErrorStream(),
                        StandardCharsets.UTF_8))) {
                    for (String l; (l = r.readLine()) != null; ) {
                        synchronized (lines) {
                            lines.add(l);
                            times.add((System.nanoTime() - start) / 1_000_000);
                            lines.notifyAll();
                        }
                    }
                } catch (IOException ignored) {
                    // the child was killed
                }
            });
            reader.setDaemon(true);
            reader.start();
        }

        static Child start(Path model, Path out) throws IOException {
            List<String> cmd = new ArrayList<>(Arrays.asList(Path.of(System.getProperty("java.home"), "bin", "java")
                    .toString(), "-Xmx2g", "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                    "optimize", model.toString(), "-o", out.toString(), "--format", "savedmodel,frozen,onnx",
                    "--precision", "fp32,fp16", "--samples", "1"));
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD);
            return new Child(pb.start());
        }

        int waitFor() throws InterruptedException {
            if (!process.waitFor(300, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new AssertionError("kiln optimize did not finish in 300 s");
            }
            ended = (System.nanoTime() - start) / 1_000_000;
            reader.join(10_000);
            return process.exitValue();
        }

        /** SIGKILLs the child {@code millis} after its start (at once if that has passed) and waits for it. */
        void killAt(long millis) throws InterruptedException {
            long left = millis - (System.nanoTime() - start) / 1_000_000;
            if (left > 0) {
                process.waitFor(left, TimeUnit.MILLISECONDS);
            }
            process.destroyForcibly();
            process.waitFor(60, TimeUnit.SECONDS);
        }

        /** How long the finished child ran. */
        long millis() {
            return ended;
        }

        /** When the first stderr line containing {@code "kiln: " + what} appeared (the run has finished). */
        long millisUntil(String what) {
            synchronized (lines) {
                for (int i = 0; i < lines.size(); i++) {
                    if (lines.get(i).startsWith("kiln: " + what)) {
                        return times.get(i);
                    }
                }
            }
            throw new AssertionError("no line 'kiln: " + what + "' in " + stderr());
        }

        /** Waits until the child prints that line (or ends), returning when it did. */
        long millisUntilSeen(String what) throws InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            synchronized (lines) {
                while (System.nanoTime() < deadline) {
                    for (int i = 0; i < lines.size(); i++) {
                        if (lines.get(i).startsWith("kiln: " + what)) {
                            return times.get(i);
                        }
                    }
                    if (!process.isAlive()) {
                        return (System.nanoTime() - start) / 1_000_000;
                    }
                    lines.wait(50);
                }
            }
            return (System.nanoTime() - start) / 1_000_000;
        }

        String stderr() {
            synchronized (lines) {
                return String.join("\n", lines);
            }
        }
    }
}
