package dev.kiln.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.KilnTemporaries;
import dev.kiln.tensorflow.ExampleModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Several {@code kiln} processes (child JVMs) writing into one output directory at once: two exports to the same file
 * name with different contents (FP32 and FP16 ONNX) and an {@code optimize} writing names of its own (model.onnx,
 * report.json). Each command is first run alone into a directory of its own; after the
 * concurrent run every file in the shared directory is byte-identical to one of the files that name got in the
 * runs alone (whole, and not a mix of two writers: no crossed outputs), the files only one process writes are that
 * process's, and no temporary is left. {@code -Dkiln.processes.rounds=N} repeats the concurrent run (default 1).
 */
class ConcurrentProcessesTest {
    @TempDir
    Path tmp;

    /** The commands, each writing into {@code DIR} (replaced by the output directory of the run). */
    private static final Map<String, List<String>> COMMANDS = new LinkedHashMap<>();

    static {
        COMMANDS.put("export-fp32", List.of("export", "MODEL", "--format", "onnx", "-o", "DIR/model_exported.onnx"));
        COMMANDS.put("export-fp16", List.of("export", "MODEL", "--format", "onnx", "--precision", "fp16", "-o",
                "DIR/model_exported.onnx"));
        // optimize reads its outputs back to verify them, so no other process writes its names (see the README)
        COMMANDS.put("optimize", List.of("optimize", "MODEL", "-o", "DIR", "--format", "onnx", "--precision", "fp32",
                "--samples", "1"));
    }

    @Test
    void processesWritingIntoOneDirectoryLeaveWholeFilesFromOneWriterEach() throws Exception {
        Path model = ExampleModels.largeModel(tmp.resolve("large"), 3L << 20); // writes long enough to overlap
        // alone: each command into a directory of its own (these may run at the same time: nothing is shared)
        Map<String, Path> alone = new LinkedHashMap<>();
        List<Child> refs = new ArrayList<>();
        for (String name : COMMANDS.keySet()) {
            Path dir = Files.createDirectories(tmp.resolve("alone-" + name));
            alone.put(name, dir);
            refs.add(Child.start(name, model, dir));
        }
        for (Child c : refs) {
            c.assertSucceeded();
        }
        // what each file name may hold: the bytes some command gave it when it ran alone
        Map<String, List<byte[]>> allowed = new LinkedHashMap<>();
        for (Path dir : alone.values()) {
            for (String f : names(dir)) {
                allowed.computeIfAbsent(f, k -> new ArrayList<>()).add(Files.readAllBytes(dir.resolve(f)));
            }
        }
        List<byte[]> exported = allowed.get("model_exported.onnx");
        assertTrue(exported.size() == 2 && !Arrays.equals(exported.get(0), exported.get(1)),
                "two commands write model_exported.onnx, FP32 and FP16: different bytes");

        int rounds = Integer.getInteger("kiln.processes.rounds", 1);
        for (int round = 0; round < rounds; round++) {
            Path shared = Files.createDirectories(tmp.resolve("shared-" + round));
            List<Child> all = new ArrayList<>();
            for (String name : COMMANDS.keySet()) {
                all.add(Child.start(name, model, shared));
            }
            for (Child c : all) {
                c.assertSucceeded();
            }
            List<String> left = names(shared);
            assertFalse(left.stream().anyMatch(KilnTemporaries::isTemporaryName), "no temporary left: " + left);
            assertEquals(new java.util.TreeSet<>(allowed.keySet()), new java.util.TreeSet<>(left),
                    "every file name the commands write, and nothing else");
            StringBuilder from = new StringBuilder();
            for (String f : left) {
                byte[] got = Files.readAllBytes(shared.resolve(f));
                if (f.startsWith("report.")) { // optimize's report: timings differ from run to run, so only whole
                    assertTrue(f.endsWith(".json") ? new ObjectMapper().readTree(got).isObject()
                            : new String(got, java.nio.charset.StandardCharsets.UTF_8).strip().endsWith("</html>"),
                            f + " is whole");
                    continue;
                }
                int match = -1;
                for (int i = 0; i < allowed.get(f).size() && match < 0; i++) {
                    match = Arrays.equals(allowed.get(f).get(i), got) ? i : -1;
                }
                assertTrue(match >= 0, f + " (" + got.length + " bytes) is whole and from one writer: identical to "
                        + "one of the " + allowed.get(f).size() + " files it got from a command run alone");
                from.append(f).append(" <- writer ").append(match).append("; ");
            }
            System.out.println("ConcurrentProcessesTest round " + round + ": " + COMMANDS.size() + " processes, "
                    + from);
        }
    }

    private static List<String> names(Path dir) throws IOException {
        List<String> out = new ArrayList<>();
        try (Stream<Path> s = Files.walk(dir)) {
            s.filter(p -> !p.equals(dir)).forEach(p -> out.add(dir.relativize(p).toString()));
        }
        out.removeIf(n -> Files.isDirectory(dir.resolve(n)));
        out.sort(null);
        return out;
    }

    /** A {@code kiln} command in a child JVM on this test's class path. */
    private record Child(String name, Process process, Path stderr) {
        static Child start(String name, Path model, Path dir) throws IOException {
            List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java")
                    .toString(), "-Xmx1g", "-cp", System.getProperty("java.class.path"), Main.class.getName()));
            for (String a : COMMANDS.get(name)) {
                cmd.add(a.replace("MODEL", model.toString()).replace("DIR", dir.toString()));
            }
            Path err = Files.createTempFile(dir.getParent(), name, ".stderr");
            return new Child(name, new ProcessBuilder(cmd).redirectOutput(ProcessBuilder.Redirect.DISCARD)
                    .redirectError(err.toFile()).start(), err);
        }

        void assertSucceeded() throws Exception {
            if (!process.waitFor(300, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                throw new AssertionError(name + " did not finish in 300 s");
            }
            assertEquals(0, process.exitValue(), name + " failed: " + Files.readString(stderr));
        }
    }
}
