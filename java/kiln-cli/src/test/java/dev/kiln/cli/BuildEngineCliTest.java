package dev.kiln.cli;

import dev.kiln.tensorflow.ExampleModels;
import dev.kiln.tensorrt.EngineManifest;
import dev.kiln.tensorrt.TensorRtProbe;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static dev.kiln.cli.CliTest.kiln;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code kiln build-engine}, {@code --format tensorrt} and the TensorRT part of {@code kiln doctor}: with TensorRT
 * and a GPU an engine, elsewhere its manifest and a trtexec script; the assertions follow whichever this machine is.
 */
class BuildEngineCliTest {
    @TempDir
    static Path tmp;
    static Path example;
    static final boolean GPU = TensorRtProbe.probe().available();
    static final String[] PROFILE = {"--min-shapes", "input:1x32x32x3", "--opt-shapes", "input:8x32x32x3",
            "--max-shapes", "input:32x32x32x3"};

    @BeforeAll
    static void buildExample() {
        example = ExampleModels.exampleCnn(tmp.resolve("example_cnn"));
    }

    private static String[] args(String... head) {
        String[] a = new String[head.length + PROFILE.length];
        System.arraycopy(head, 0, a, 0, head.length);
        System.arraycopy(PROFILE, 0, a, head.length, PROFILE.length);
        return a;
    }

    @Test
    void doctorSaysWhatTensorRtNeeds() {
        CliTest.Run r = kiln("doctor");
        assertEquals(0, r.status(), r.err());
        // one "native libraries" section: Kiln's kernels and TensorRT, probed the same way
        String natives = r.out().substring(r.out().indexOf("native libraries"));
        assertTrue(natives.contains("engines through the JavaCPP presets: TensorRT 10.15.1, CUDA 13.1"), r.out());
        assertTrue(natives.matches("(?s).*\\n  tensorrt  " + (GPU ? "available    TensorRT" : "unavailable  ") + ".*"),
                r.out());
        assertTrue(natives.contains("libnvinfer.so.10"), r.out());
        assertTrue(natives.matches("(?s).*\\n  cpu       (available|unavailable) .*"), r.out());
        assertTrue(natives.contains("\n  cuda      "), r.out());
    }

    @Test
    void buildEngineFromASavedModelAndThenFromItsOnnx() throws Exception {
        Path out = tmp.resolve("fp16");
        Path engine = out.resolve("cnn.engine");
        CliTest.Run r = kiln(args("build-engine", example.toString(), "--precision", "fp16", "--workspace", "512M",
                "--timing-cache", out.resolve("timing.cache").toString(), "-o", engine.toString()));
        assertEquals(0, r.status(), r.err());
        assertTrue(Files.isRegularFile(out.resolve("cnn.onnx")));
        EngineManifest m = EngineManifest.read(EngineManifest.pathFor(engine));
        assertEquals("fp16", m.options().precision());
        assertEquals(512L << 20, m.options().workspaceBytes());
        if (GPU) {
            assertTrue(r.out().contains("engine    " + engine), r.out());
        } else {
            assertTrue(r.out().contains("no engine built: TensorRT is not usable here: "), r.out());
            assertTrue(r.out().contains("trtexec   trtexec --onnx=" + out.resolve("cnn.onnx")), r.out());
            String script = Files.readString(out.resolve("build_cnn.sh"));
            assertTrue(script.contains("--memPoolSize=workspace:512M") && script.contains("--stronglyTyped")
                    && script.contains("--timingCacheFile=timing.cache"), script);
        }
        // the ONNX Kiln wrote is itself a valid build-engine input
        Path again = out.resolve("again.engine");
        CliTest.Run r2 = kiln(args("build-engine", out.resolve("cnn.onnx").toString(), "--precision", "fp16", "-o",
                again.toString()));
        assertEquals(0, r2.status(), r2.err());
        assertTrue(Files.isRegularFile(EngineManifest.pathFor(again)));
    }

    @Test
    void badInputIsOneClearLineWithExitStatus2() throws Exception {
        Path onnxOut = tmp.resolve("fp32");
        assertEquals(0, kiln(args("build-engine", example.toString(), "-o", onnxOut.resolve("m.engine").toString()))
                .status());
        Path onnx = onnxOut.resolve("m.onnx");

        CliTest.Run int8 = kiln(args("build-engine", onnx.toString(), "--precision", "int8", "-o",
                onnxOut.resolve("x.engine").toString()));
        assertEquals(2, int8.status());
        assertTrue(int8.err().contains("has no QuantizeLinear/DequantizeLinear"), int8.err());

        CliTest.Run order = kiln("build-engine", onnx.toString(), "--min-shapes", "input:8x32x32x3", "--opt-shapes",
                "input:4x32x32x3", "--max-shapes", "input:16x32x32x3", "-o", onnxOut.resolve("y.engine").toString());
        assertEquals(2, order.status());
        assertTrue(order.err().contains("input 'input': min > opt in dimension 0"), order.err());

        CliTest.Run none = kiln("build-engine", onnx.toString(), "-o", onnxOut.resolve("z.engine").toString());
        assertEquals(2, none.status());
        assertTrue(none.err().contains("dynamic inputs [input (?x32x32x3)]"), none.err());

        CliTest.Run legacy = kiln(args("build-engine", onnx.toString(), "--precision", "int8-legacy", "-o",
                onnxOut.resolve("w.engine").toString()));
        assertEquals(2, legacy.status());
        assertTrue(legacy.err().contains("int8-legacy needs a TensorRT calibration cache"), legacy.err());

        CliTest.Run level = kiln(args("build-engine", onnx.toString(), "--builder-optimization-level", "7", "-o",
                onnxOut.resolve("v.engine").toString()));
        assertEquals(2, level.status());
        assertTrue(level.err().contains("0 to 5"), level.err());
        for (String f : new String[] {"x.engine", "y.engine", "z.engine", "w.engine", "v.engine"}) {
            assertTrue(!Files.exists(onnxOut.resolve(f)) && !Files.exists(onnxOut.resolve(f + ".manifest.json")), f);
        }
    }

    @Test
    void optimizeAcceptsFormatTensorrt() throws Exception {
        Path out = tmp.resolve("opt");
        CliTest.Run r = kiln(args("optimize", example.toString(), "-o", out.toString(), "--format", "tensorrt",
                "--precision", "fp32"));
        assertEquals(0, r.status(), r.err());
        assertTrue(Files.isRegularFile(out.resolve("model.onnx")));
        assertTrue(Files.isRegularFile(out.resolve("model.engine.manifest.json")));
        if (!GPU) {
            assertTrue(r.err().contains("no TensorRT engine built"), r.err());
            assertTrue(Files.isExecutable(out.resolve("build_model.sh")));
        }
        CliTest.Run bad = kiln("optimize", example.toString(), "-o", tmp.resolve("bad").toString(), "--format", "tflight");
        assertEquals(2, bad.status());
        assertTrue(bad.err().contains("tensorrt"), bad.err());
    }
}
