package dev.kiln.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.sparse.PackedWeights;
import dev.kiln.tensorflow.ExampleModels;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;

import static dev.kiln.cli.CliTest.kiln;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** kiln inspect --sparsity before and after kiln prune --pattern 2:4, and the packed weights prune writes. */
class InspectSparsityCliTest {
    @TempDir
    static Path tmp;
    static Path model;

    @BeforeAll
    static void build() {
        model = ExampleModels.exampleCnn(tmp.resolve("cnn"));
    }

    @Test
    void prunedTwoFourLayersAreSatisfiedAndTheOriginalIsNot() throws Exception {
        Path out = tmp.resolve("24");
        CliTest.Run p = kiln("prune", model.toString(), "--pattern", "2:4", "--include-first-and-last",
                "--skip-indivisible", "-o", out.toString());
        assertEquals(0, p.status(), p.err());
        ObjectMapper json = new ObjectMapper();
        JsonNode rep = json.readTree(out.resolve("sparsity_report.json").toFile());
        Set<String> pruned = new HashSet<>();
        rep.get("layers").forEach(l -> pruned.add(l.get("name").asText()));
        assertFalse(pruned.isEmpty(), rep.toString());
        assertTrue(rep.get("packed_bytes").asLong() < rep.get("dense_bytes").asLong(), rep.toString());
        assertEquals(pruned.size(), PackedWeights.read(out.resolve("weights.kpack")).size());

        CliTest.Run after = kiln("inspect", "--sparsity", "--json", out.resolve("saved_model").toString());
        assertEquals(0, after.status(), after.err());
        int satisfied = 0;
        for (JsonNode l : json.readTree(after.out()).get("layers")) {
            if (pruned.contains(l.get("layer").asText())) {
                assertTrue(l.get("satisfiesNM").asBoolean(), l.toString());
                assertEquals(0.5, l.get("sparsity").asDouble(), 1e-9, l.toString());
                satisfied++;
            }
        }
        assertEquals(pruned.size(), satisfied, after.out());

        CliTest.Run before = kiln("inspect", "--sparsity", "--json", model.toString());
        assertEquals(0, before.status(), before.err());
        for (JsonNode l : json.readTree(before.out()).get("layers")) {
            if (pruned.contains(l.get("layer").asText())) {
                assertFalse(l.get("satisfiesNM").asBoolean(), l.toString());
            }
        }

        // the pruned ONNX: the same layers satisfy 2:4 along ONNX's input-channel axis
        CliTest.Run onnx = kiln("inspect", "--sparsity", "--json", out.resolve("model.onnx").toString());
        assertEquals(0, onnx.status(), onnx.err());
        Set<String> onnxSatisfied = new HashSet<>();
        for (JsonNode l : json.readTree(onnx.out()).get("layers")) {
            if (l.get("satisfiesNM").asBoolean()) {
                onnxSatisfied.add(l.get("layer").asText());
            }
        }
        assertEquals(pruned, onnxSatisfied, onnx.out());

        CliTest.Run text = kiln("inspect", "--sparsity", out.resolve("saved_model").toString());
        assertEquals(0, text.status(), text.err());
        assertTrue(text.out().contains("satisfied"), text.out());
    }
}
