package dev.kiln.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.onnx.OnnxExporter;
import dev.kiln.onnx.Precision;
import dev.kiln.tensorflow.ExampleModels;
import dev.kiln.tensorflow.TfImporter;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code kiln bench} and {@code kiln compare} end to end, and their errors for bad input. */
class BenchCompareCliTest {
    @TempDir
    static Path tmp;
    static String savedModel;
    static String onnx;
    static String fp16;

    @BeforeAll
    static void models() {
        Path sm = ExampleModels.exampleCnn(tmp.resolve("cnn"));
        savedModel = sm.toString();
        onnx = tmp.resolve("cnn.onnx").toString();
        OnnxExporter.fp32().export(TfImporter.load(sm), Path.of(onnx));
        fp16 = tmp.resolve("cnn16.onnx").toString();
        OnnxExporter.builder().precision(Precision.FP16).build().export(TfImporter.load(sm), Path.of(fp16));
    }

    @Test
    void benchPrintsATableAndWritesReports() throws Exception {
        Path dir = tmp.resolve("bench-out");
        CliTest.Run r = CliTest.kiln("bench", savedModel, onnx, "--iterations", "5", "--warmup", "0", "-o", dir.toString());
        assertEquals(0, r.status(), r.err());
        assertTrue(r.out().contains("median ms") && r.out().contains("(tensorflow)")
                && r.out().contains("(onnxruntime)") && r.out().contains("kiln overhead"), r.out());
        assertTrue(r.out().contains("(tensorrt): not available") && r.out().contains("(tflite): not available"));
        assertTrue(Files.readString(dir.resolve("bench.html")).contains("<svg"));
        new ObjectMapper().readTree(dir.resolve("bench.json").toFile());
    }

    @Test
    void benchJsonParses() throws Exception {
        CliTest.Run r = CliTest.kiln("bench", onnx, "--runtime", "onnxruntime", "--iterations", "5", "--warmup", "0", "--json");
        assertEquals(0, r.status(), r.err());
        JsonNode j = new ObjectMapper().readTree(r.out());
        assertEquals(1, j.get("entries").size());
        assertEquals(5, j.get("entries").get(0).get("stats").get("iterations").asInt());
    }

    @Test
    void comparePassesAndFails() {
        CliTest.Run ok = CliTest.kiln("compare", savedModel, onnx);
        assertEquals(0, ok.status(), ok.out() + ok.err());
        assertTrue(ok.out().contains("PASSED"));
        CliTest.Run bad = CliTest.kiln("compare", onnx, fp16, "--atol", "0", "--rtol", "0");
        assertEquals(8, bad.status(), bad.out() + bad.err());
        assertTrue(bad.out().contains("FAIL"));
        CliTest.Run layers = CliTest.kiln("compare", onnx, fp16, "--per-layer", "--atol", "1e-2", "--rtol", "1e-2");
        assertTrue(layers.out().contains("per layer: matched by ONNX value names"), layers.out() + layers.err());
    }

    /** compare (per layer too: its probe copy carries the weights) and bench of an ONNX with external data. */
    @Test
    void compareReadsExternalData() throws Exception {
        Path split = Files.createDirectories(tmp.resolve("split")).resolve("cnn.onnx");
        OnnxExporter.builder().externalData(true).build().export(TfImporter.load(Path.of(savedModel)), split);
        assertTrue(Files.size(split.resolveSibling("cnn.onnx.data")) > 0);
        CliTest.Run ok = CliTest.kiln("compare", onnx, split.toString(), "--atol", "0", "--rtol", "0");
        assertEquals(0, ok.status(), ok.out() + ok.err());
        CliTest.Run layers = CliTest.kiln("compare", onnx, split.toString(), "--per-layer", "--atol", "0", "--rtol",
                "0");
        assertEquals(0, layers.status(), layers.out() + layers.err());
        assertTrue(layers.out().contains("per layer: matched by ONNX value names"), layers.out() + layers.err());
        CliTest.Run bench = CliTest.kiln("bench", split.toString(), "--runtime", "onnxruntime", "--iterations", "3",
                "--warmup", "0", "--json");
        assertEquals(0, bench.status(), bench.err());
        assertEquals(3, new ObjectMapper().readTree(bench.out()).at("/entries/0/stats/iterations").asInt());
    }

    @Test
    void badInputIsOneLine() throws Exception {
        assertBad(2, "unknown runtime 'tpu'", "bench", onnx, "--runtime", "tpu");
        assertBad(3, "does not exist", "bench", tmp.resolve("missing.onnx").toString());
        Path txt = Files.writeString(tmp.resolve("model.txt"), "not a model");
        assertBad(3, "not a model Kiln can run", "bench", txt.toString());
        assertBad(2, "--duration and --iterations", "bench", onnx, "--duration", "1", "--iterations", "5");
        assertBad(2, "--batch must be >= 1", "bench", onnx, "--batch", "0");
        assertBad(2, "batch must be >= 1", "compare", savedModel, onnx, "--batch", "-1");
        Path file = Files.writeString(tmp.resolve("a-file"), "x");
        assertBad(2, "-o must be a directory", "bench", onnx, "--iterations", "1", "-o", file.toString());
        assertBad(3, "does not exist", "compare", savedModel, tmp.resolve("nope").toString());
        Path garbage = Files.writeString(tmp.resolve("garbage.onnx"), "garbage");
        assertBad(3, "garbage.onnx", "compare", onnx, garbage.toString());
    }

    private static void assertBad(int status, String message, String... args) {
        CliTest.Run r = CliTest.kiln(args);
        assertEquals(status, r.status(), r.err());
        assertTrue(r.err().startsWith("kiln: error: ") && r.err().contains(message), r.err());
        assertEquals(1, r.err().strip().lines().count(), r.err());
        assertFalse(r.err().contains("\tat "));
    }
}
