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

/** kiln factorize on a SavedModel written by TF Java: fewer parameters, files, and bad arguments. */
class FactorizeCliTest {
    @TempDir
    static Path tmp;
    static Path model;

    @BeforeAll
    static void build() {
        model = ExampleModels.exampleCnn(tmp.resolve("cnn"));
    }

    @Test
    void fixedRankFactorsTheConvolutionsAndWritesEverything() throws Exception {
        Path out = tmp.resolve("r2");
        CliTest.Run r = kiln("factorize", model.toString(), "--rank", "2", "-o", out.toString());
        assertEquals(0, r.status(), r.err());
        assertTrue(r.out().contains("fewer)"), r.out());
        assertTrue(Files.isRegularFile(out.resolve("saved_model/saved_model.pb")));
        assertTrue(Files.isRegularFile(out.resolve("model.onnx")));
        JsonNode rep = new ObjectMapper().readTree(Files.readString(out.resolve("lowrank_report.json")));
        assertTrue(rep.toString().contains("\"rank\":2"), rep.toString());
    }

    @Test
    void badArgumentsAreOneLineErrors() {
        CliTest.Run none = kiln("factorize", model.toString(), "-o", tmp.resolve("x").toString());
        assertEquals(2, none.status());
        assertTrue(none.err().contains("--energy"), none.err());
        CliTest.Run energy = kiln("factorize", model.toString(), "--energy", "1.5", "-o", tmp.resolve("y").toString());
        assertEquals(2, energy.status(), energy.err());
        CliTest.Run layer = kiln("factorize", model.toString(), "--rank", "2", "--layers", "nope", "-o",
                tmp.resolve("z").toString());
        assertEquals(2, layer.status(), layer.err());
        assertTrue(layer.err().contains("nope"), layer.err());
    }
}
