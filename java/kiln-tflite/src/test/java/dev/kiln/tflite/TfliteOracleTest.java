package dev.kiln.tflite;

import dev.kiln.KilnException;
import dev.kiln.eval.RandomInputs;
import dev.kiln.eval.TensorComparison;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Tensor;
import dev.kiln.passes.Passes;
import dev.kiln.tensorflow.ExampleModels;
import dev.kiln.tensorflow.ImportOptions;
import dev.kiln.tensorflow.TfImporter;
import dev.kiln.tensorflow.TfRunner;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 10's FP32/FP16 acceptance: TensorFlow (TF Java) runs the original model, the TFLite interpreter runs Kiln's
 * .tflite of it on the same random inputs (batch 2, so dynamic batch dimensions are resized): FP32 (of the optimized
 * graph and of the un-optimized import) within 1e-4 relative, FP16 within 1e-2. Every file passes the interpreter's
 * AllocateTensors and Invoke. The table goes to target/tflite-verification.md.
 */
class TfliteOracleTest {
    @TempDir
    static Path dir;

    private static final List<String> ROWS = new ArrayList<>();

    @TestFactory
    Stream<DynamicTest> exampleModels() {
        List<DynamicTest> tests = new ArrayList<>();
        for (Map.Entry<String, Function<Path, Path>> e : ExampleModels.all().entrySet()) {
            tests.add(DynamicTest.dynamicTest(e.getKey(), () -> {
                Path model = e.getValue().apply(Files.createDirectories(dir.resolve(e.getKey())));
                verify(e.getKey(), model, ImportOptions.defaults());
            }));
        }
        return tests.stream();
    }

    @TestFactory
    Stream<DynamicTest> sharedModels() {
        Path root = SharedModels.models();
        if (!Files.isDirectory(root)) {
            System.out.println("skipped: " + root + " is absent (the shared real models)");
            return Stream.empty();
        }
        List<DynamicTest> tests = new ArrayList<>();
        for (String name : SharedModels.RUNNABLE) {
            Path p = root.resolve(name);
            tests.add(DynamicTest.dynamicTest(name, () -> {
                Assumptions.assumeTrue(Files.exists(p), "skipped: " + p + " is absent");
                verify(name, p, SharedModels.importOptions(name));
            }));
        }
        return tests.stream();
    }

    static double worst(Map<String, Tensor> expected, Map<String, Tensor> actual, String what) {
        double worst = 0;
        for (Map.Entry<String, Tensor> e : expected.entrySet()) {
            Tensor a = actual.get(e.getKey());
            assertTrue(a != null, what + ": output " + e.getKey() + " missing; got " + actual.keySet());
            TensorComparison c = TensorComparison.compare(e.getValue(), a);
            assertTrue(c.shapeAndTypeMatch(), what + " " + e.getKey() + ": " + c);
            worst = Math.max(worst, c.maxRelError());
        }
        return worst;
    }

    private static Map<String, Tensor> run(Path tflite, Map<String, Tensor> in) {
        try (TfliteRunner r = TfliteRunner.open(tflite, 1)) {
            return r.run(in);
        }
    }

    static void verify(String name, Path model, ImportOptions opts) throws Exception {
        Graph original;
        Map<String, Tensor> in;
        Map<String, Tensor> tf;
        try {
            original = TfImporter.load(model, opts);
            in = RandomInputs.forSignature(original.inputs(), 42, 2);
            try (TfRunner r = TfRunner.open(model, opts)) {
                tf = r.run(in);
            }
        } catch (KilnException e) {
            Assumptions.abort("TF cannot import/run " + name + ": " + e.getMessage().lines().findFirst().orElse(""));
            return;
        }
        Graph optimized = original.copy();
        Passes.optimizeForInference().run(optimized);
        Path work = Files.createDirectories(dir.resolve("tflite-" + name.replace('/', '_')));

        TfliteExportResult raw = TfliteExporter.fp32().export(original, work.resolve("unoptimized.tflite"));
        double errRaw = worst(tf, run(raw.path(), in), name + " FP32 un-optimized");
        TfliteExportResult r32 = TfliteExporter.fp32().export(optimized, work.resolve("fp32.tflite"));
        double err32 = worst(tf, run(r32.path(), in), name + " FP32");
        TfliteExportResult r16 = TfliteExporter.builder().precision(TflitePrecision.FP16).build()
                .export(optimized, work.resolve("fp16.tflite"));
        double err16 = worst(tf, run(r16.path(), in), name + " FP16");
        String row = String.format(Locale.ROOT, "| %s | %d | %.2e | %.2e | %.2e | %d → %d bytes | %s |", name,
                r32.operators(), errRaw, err32, err16, r32.bytes(), r16.bytes(), r32.tfliteOps());
        System.out.println(row);
        synchronized (ROWS) {
            ROWS.add(row);
        }
        assertTrue(errRaw <= 1e-4, name + " FP32 un-optimized rel error " + errRaw);
        assertTrue(err32 <= 1e-4, name + " FP32 rel error " + err32);
        assertTrue(err16 <= 1e-2, name + " FP16 rel error " + err16);
        assertTrue(r32.operators() > 0 || original.outputs().stream().allMatch(o -> original.inputs().stream()
                .anyMatch(i -> i.tensor().equals(o.tensor()))), name + ": no operators written");
    }

    @AfterAll
    static void writeTable() throws Exception {
        List<String> lines = new ArrayList<>();
        lines.add("| model | TFLite operators (FP32) | FP32 un-optimized rel err | FP32 rel err | FP16 rel err "
                + "| size FP32 → FP16 | operators |");
        lines.add("|---|---|---|---|---|---|---|");
        lines.addAll(ROWS);
        Path out = Path.of("target", "tflite-verification.md");
        Files.createDirectories(out.getParent());
        Files.write(out, lines);
    }
}
