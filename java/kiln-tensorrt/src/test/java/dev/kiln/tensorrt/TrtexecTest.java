package dev.kiln.tensorrt;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TrtexecTest {
    @TempDir
    Path dir;

    private static EngineOptions everything() {
        return EngineOptions.builder().precision(EnginePrecision.INT8)
                .profile(OptimizationProfile.parse("x:1x4", "x:8x4", "x:16x4"))
                .profile(OptimizationProfile.parse("x:32x4", "x:48x4", "x:64x4"))
                .workspaceBytes(1L << 30).tacticSharedMemoryBytes(48 << 10).optimizationLevel(5)
                .timingCache(Path.of("timing.cache")).sparseWeights(true).device(1).versionCompatible(true)
                .hardwareCompatibility(HardwareCompatibility.AMPERE_PLUS).build();
    }

    @Test
    void everyOptionBecomesItsTrtexecFlag() {
        List<String> a = Trtexec.arguments(Path.of("m.onnx"), Path.of("m.engine"), everything());
        assertEquals(List.of("trtexec", "--onnx=m.onnx", "--saveEngine=m.engine", "--stronglyTyped",
                "--minShapes=x:1x4", "--optShapes=x:8x4", "--maxShapes=x:16x4",
                "--minShapes=x:32x4", "--optShapes=x:48x4", "--maxShapes=x:64x4",
                "--memPoolSize=workspace:1G,tacticSharedMem:48K", "--builderOptimizationLevel=5",
                "--timingCacheFile=timing.cache", "--sparsity=enable", "--device=1", "--versionCompatible",
                "--hardwareCompatibilityLevel=ampere+"), a);
    }

    @Test
    void sizesUseTheLargestExactUnit() {
        assertEquals("1G", Trtexec.size(1L << 30));
        assertEquals("1536M", Trtexec.size(3L << 29));
        assertEquals("48K", Trtexec.size(48 << 10));
        assertEquals("1000B", Trtexec.size(1000));
    }

    @Test
    void defaultsAndLegacyInt8() {
        assertEquals(List.of("trtexec", "--onnx=m.onnx", "--saveEngine=m.engine", "--noTF32",
                "--builderOptimizationLevel=3", "--device=0"), Trtexec.arguments(Path.of("m.onnx"), Path.of("m.engine"), EngineOptions.defaults()));
        List<String> legacy = Trtexec.arguments(Path.of("m.onnx"), Path.of("m.engine"), EngineOptions.builder()
                .precision(EnginePrecision.INT8_LEGACY).calibrationCache(Path.of("calibration_tensorrt.cache"))
                .build());
        assertTrue(legacy.contains("--int8") && legacy.contains("--calib=calibration_tensorrt.cache"), legacy::toString);
        assertTrue(!legacy.contains("--stronglyTyped"));
    }

    @Test
    void namesWithColonsAreQuotedForTrtexecAndTheShell() {
        EngineOptions o = EngineOptions.builder().profile(OptimizationProfile.parse("in:0:1x4", "in:0:2x4",
                "in:0:4x4")).build();
        String line = Trtexec.commandLine(Path.of("my model.onnx"), Path.of("m.engine"), o);
        assertTrue(line.contains("'--onnx=my model.onnx'"), line);
        assertTrue(line.contains("'--minShapes='\\''in:0'\\'':1x4'"), line);
    }

    /** Runs the script with a fake trtexec that records its arguments: they are exactly {@link Trtexec#arguments}. */
    @Test
    void theScriptRunsTrtexecWithTheSameFlags() throws Exception {
        Path bin = Files.createDirectories(dir.resolve("bin"));
        Path fake = bin.resolve("trtexec");
        Files.writeString(fake, "#!/bin/sh\nfor a in \"$@\"; do printf '%s\\n' \"$a\"; done > \"$(pwd)/args.txt\"\n");
        fake.toFile().setExecutable(true);
        Path out = Files.createDirectories(dir.resolve("out"));
        Path script = out.resolve("build_engine.sh");
        EngineOptions o = EngineOptions.builder().profile(OptimizationProfile.parse("in:0:1x4", "in:0:2x4",
                "in:0:4x4")).timingCache(Path.of("timing.cache")).build();
        Files.writeString(script, Trtexec.script(Path.of("m.onnx"), Path.of("m.engine"), o, "test"));
        ProcessBuilder pb = new ProcessBuilder("/bin/sh", script.toString()).directory(dir.toFile())
                .redirectErrorStream(true);
        pb.environment().put("PATH", bin + ":/usr/bin:/bin");
        Process p = pb.start();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
        // ran from the script's directory, so relative paths resolve beside it
        List<String> got = Files.readAllLines(out.resolve("args.txt"));
        List<String> expected = Trtexec.arguments(Path.of("m.onnx"), Path.of("m.engine"), o);
        assertEquals(expected.subList(1, expected.size()), got);
    }

    @Test
    void theScriptSaysWhatIsMissingWithoutTrtexec() throws Exception {
        Path script = dir.resolve("build_engine.sh");
        Files.writeString(script, Trtexec.script(Path.of("m.onnx"), Path.of("m.engine"), EngineOptions.defaults(),
                "test"));
        ProcessBuilder pb = new ProcessBuilder("/bin/sh", script.toString()).redirectErrorStream(true);
        pb.environment().put("PATH", "/nonexistent");
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(127, p.exitValue());
        assertTrue(out.contains("trtexec not found") && out.contains(TensorRtProbe.PRESET_TENSORRT_VERSION), out);
    }
}
