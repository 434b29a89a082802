package dev.kiln.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.tensorflow.ExampleModels;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static dev.kiln.cli.CliTest.kiln;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** kiln prune on a SavedModel written by TF Java: files, the report, and bad arguments. */
class PruneCliTest {
    @TempDir
    static Path tmp;
    static Path model;

    @BeforeAll
    static void build() {
        model = ExampleModels.exampleCnn(tmp.resolve("cnn"));
    }

    @Test
    void prunesToTheAskedSparsityAndWritesSavedModelOnnxAndReport() throws Exception {
        Path out = tmp.resolve("half");
        CliTest.Run r = kiln("prune", model.toString(), "--sparsity", "0.5", "--include-first-and-last", "-o",
                out.toString());
        assertEquals(0, r.status(), r.err());
        assertTrue(Files.isRegularFile(out.resolve("saved_model/saved_model.pb")));
        assertTrue(Files.isRegularFile(out.resolve("model.onnx")));
        JsonNode rep = new ObjectMapper().readTree(out.resolve("sparsity_report.json").toFile());
        for (JsonNode l : rep.get("layers")) {
            assertEquals(0.5, l.get("sparsity").asDouble(), 0.01, l.toString());
        }
        assertTrue(rep.get("layers").size() >= 3, rep.toString());
        assertTrue(r.out().contains("|"), "a markdown table: " + r.out());
    }

    @Test
    void sensitivityScanPlanAndCostOnHeldOutData() throws Exception {
        float[] x = new float[64 * 32 * 32 * 3];
        java.util.Random r = new java.util.Random(9);
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        Path data = tmp.resolve("eval.npy");
        dev.kiln.data.NpyWriter.write(data, x, 64, 32, 32, 3);
        Path out = tmp.resolve("sens");
        CliTest.Run run = kiln("prune", model.toString(), "--sparsity", "0.5", "--eval-data", data.toString(),
                "--sensitivity", "--target-sparsity", "0.5", "--budget", "1", "-o", out.toString());
        assertEquals(0, run.status(), run.err());
        assertTrue(run.out().contains("90%"), "the sensitivity table: " + run.out());
        JsonNode rep = new ObjectMapper().readTree(out.resolve("sparsity_report.json").toFile());
        assertTrue(rep.has("accuracy") && !rep.get("accuracy").isNull(), rep.toString());
        assertTrue(rep.at("/accuracy/min_cosine").asDouble() < 1.0, rep.toString());
        CliTest.Run noData = kiln("prune", model.toString(), "--sparsity", "0.5", "--sensitivity", "-o",
                tmp.resolve("nd").toString());
        assertEquals(2, noData.status(), noData.err());
    }

    @Test
    void badArgumentsAreOneLineErrors() {
        CliTest.Run none = kiln("prune", model.toString(), "-o", tmp.resolve("x").toString());
        assertEquals(2, none.status());
        assertTrue(none.err().contains("--sparsity"), none.err());
        CliTest.Run range = kiln("prune", model.toString(), "--sparsity", "1.5", "-o", tmp.resolve("y").toString());
        assertEquals(2, range.status(), range.err());
        CliTest.Run nm = kiln("prune", model.toString(), "--pattern", "4:2", "-o", tmp.resolve("z").toString());
        assertEquals(2, nm.status(), nm.err());
        CliTest.Run both = kiln("prune", model.toString(), "--pattern", "2:4", "--sparsity", "0.5", "-o",
                tmp.resolve("w").toString());
        assertEquals(2, both.status(), both.err());
        assertTrue(!Files.exists(tmp.resolve("y")) && !Files.exists(tmp.resolve("z")), "nothing written");
    }
}
