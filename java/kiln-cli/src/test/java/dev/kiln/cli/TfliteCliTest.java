package dev.kiln.cli;

import dev.kiln.graph.DType;
import dev.kiln.tensorflow.ExampleModels;
import dev.kiln.tflite.TfliteRunner;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static dev.kiln.cli.CliTest.kiln;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code kiln export --format tflite}, {@code kiln optimize --format tflite} and {@code kiln bench} on .tflite. */
class TfliteCliTest {
    @TempDir
    static Path tmp;
    static Path model;

    @BeforeAll
    static void setUp() {
        model = ExampleModels.exampleCnn(tmp.resolve("example_cnn"));
    }

    @Test
    void exportWritesTfliteInEachPrecision() {
        for (String p : new String[] {"fp32", "fp16", "dynamic"}) {
            Path out = tmp.resolve("m_" + p + ".tflite");
            CliTest.Run r = kiln("export", model.toString(), "--format", "tflite", "--precision", p, "-o",
                    out.toString(), "--verify");
            assertEquals(0, r.status(), r.err());
            assertTrue(out.toFile().length() > 0, out.toString());
            assertTrue(r.out().contains("TFLite " + out.toAbsolutePath()), r.out());
            assertTrue(r.out().contains("verify"), r.out());
        }
    }

    @Test
    void exportInt8WithInt8InputsAndOutputs() {
        Path out = tmp.resolve("m_int8.tflite");
        CliTest.Run r = kiln("export", model.toString(), "--format", "tflite", "--precision", "int8", "--int8-io",
                "--calib-random", "-o", out.toString());
        assertEquals(0, r.status(), r.err());
        try (TfliteRunner t = TfliteRunner.open(out, 1)) {
            t.inputNames().forEach(n -> assertEquals(DType.INT8, t.inputType(n)));
        }
    }

    @Test
    void inspectSaysWhichOpsTfliteExports() {
        CliTest.Run r = kiln("inspect", model.toString(), "--json");
        assertEquals(0, r.status(), r.err());
        assertTrue(r.out().contains("\"tflite\" : true"), r.out());
        assertFalse(r.out().contains("\"tflite\" : false"), "every op of the example CNN maps: " + r.out());
    }

    @Test
    void int8WithoutRangesIsAOneLineErrorAndWritesNothing() {
        Path out = tmp.resolve("none.tflite");
        CliTest.Run r = kiln("export", model.toString(), "--format", "tflite", "--precision", "int8", "-o",
                out.toString());
        assertEquals(2, r.status(), r.err());
        assertFalse(Files.exists(out));
    }

    @Test
    void optimizeWritesTfliteArtifactsAndBenchTimesThem() {
        Path out = tmp.resolve("optimized");
        CliTest.Run r = kiln("optimize", model.toString(), "--format", "tflite", "--precision", "fp32,fp16", "-o",
                out.toString());
        assertEquals(0, r.status(), r.err());
        assertTrue(Files.isRegularFile(out.resolve("model.tflite")) && Files.isRegularFile(
                out.resolve("model_fp16.tflite")), r.err());
        CliTest.Run b = kiln("bench", out.resolve("model.tflite").toString(), "--iterations", "5", "--warmup", "0.2");
        assertEquals(0, b.status(), b.err());
        assertTrue(b.out().contains("tflite"), b.out());
    }
}
