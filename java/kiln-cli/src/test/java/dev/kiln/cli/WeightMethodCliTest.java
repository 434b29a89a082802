package dev.kiln.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.onnx.OnnxReader;
import dev.kiln.onnx.proto.Onnx.ModelProto;
import dev.kiln.onnx.proto.Onnx.StringStringEntryProto;
import dev.kiln.tensorflow.ExampleModels;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static dev.kiln.cli.CliTest.kiln;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** --weight-method on export and optimize: written into the ONNX metadata and the report; bad names are errors. */
class WeightMethodCliTest {
    @TempDir
    static Path tmp;
    static Path model;

    @BeforeAll
    static void setUp() {
        model = ExampleModels.exampleCnn(tmp.resolve("example_cnn"));
    }

    private static String metadata(Path onnx, String key) {
        ModelProto m = OnnxReader.read(onnx);
        return m.getMetadataPropsList().stream().filter(e -> e.getKey().equals(key))
                .map(StringStringEntryProto::getValue).findFirst().orElse(null);
    }

    @Test
    void exportWritesTheWeightMethodIntoTheMetadata() {
        Path mse = tmp.resolve("mse.onnx");
        CliTest.Run r = kiln("export", model.toString(), "--precision", "int8", "--calib-random", "--weight-method",
                "mse", "-o", mse.toString());
        assertEquals(0, r.status(), r.err());
        assertEquals("mse", metadata(mse, "kiln.int8_weight_method"));

        Path p = tmp.resolve("p.onnx");
        r = kiln("export", model.toString(), "--precision", "int8-weights", "--weight-method", "percentile:99.9", "-o",
                p.toString());
        assertEquals(0, r.status(), r.err());
        assertEquals("percentile:99.9", metadata(p, "kiln.int8_weight_method"));

        Path dflt = tmp.resolve("default.onnx");
        r = kiln("export", model.toString(), "--precision", "int8", "--calib-random", "-o", dflt.toString());
        assertEquals(0, r.status(), r.err());
        assertEquals("minmax", metadata(dflt, "kiln.int8_weight_method"));
    }

    @Test
    void aBadMethodIsAOneLineErrorWithStatus2() {
        Path out = tmp.resolve("bad.onnx");
        CliTest.Run r = kiln("export", model.toString(), "--precision", "int8", "--calib-random", "--weight-method",
                "median", "-o", out.toString());
        assertEquals(2, r.status(), r.err());
        assertTrue(r.err().contains("--weight-method: unknown method 'median'"), r.err());
        assertEquals(1, r.err().lines().filter(l -> l.startsWith("kiln: error:")).count(), r.err());
        assertTrue(r.err().lines().anyMatch(l -> l.startsWith("kiln: error: --weight-method: unknown method 'median' "
                + "(known: max, mse, percentile[:P], entropy)")), "the whole error on one line: " + r.err());
        assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
        assertFalse(Files.exists(out), "nothing written");

        CliTest.Run p = kiln("export", model.toString(), "--precision", "int8", "--calib-random", "--weight-method",
                "percentile:101", "-o", out.toString());
        assertEquals(2, p.status(), p.err());
        assertTrue(p.err().contains("--weight-method: percentile must be within"), p.err());
    }

    @Test
    void optimizeReportsTheWeightMethod() throws Exception {
        Path out = tmp.resolve("opt");
        CliTest.Run r = kiln("optimize", model.toString(), "-o", out.toString(), "--precision", "int8",
                "--calib-random", "--weight-method", "percentile:99.99", "--json");
        assertEquals(0, r.status(), r.err());
        JsonNode rep = new ObjectMapper().readTree(r.out());
        assertEquals("percentile:99.99", rep.at("/weightMethod").asText(), r.out());
        assertEquals("percentile:99.99", metadata(out.resolve("model_int8_tensorrt.onnx"),
                "kiln.int8_weight_method"));
    }
}
