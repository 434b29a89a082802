package dev.kiln.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;
import dev.kiln.onnx.OnnxExporter;
import dev.kiln.tensorflow.ExampleModels;
import dev.kiln.tensorflow.TfImporter;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BenchJobTest {
    @TempDir
    static Path tmp;
    static Path savedModel;
    static Path onnx;

    @BeforeAll
    static void models() {
        savedModel = ExampleModels.exampleCnn(tmp.resolve("cnn"));
        onnx = tmp.resolve("cnn.onnx");
        OnnxExporter.fp32().export(TfImporter.load(savedModel), onnx);
    }

    @Test
    void benchesSavedModelAndOnnxSideBySideWithConsistentStatistics() throws Exception {
        BenchJob.Result r = BenchJob.builder(List.of(savedModel, onnx)).batch(2).warmupIterations(1).iterations(5)
                .build().run();
        assertEquals(2, r.entries().size());
        assertEquals("tensorflow", r.entries().get(0).runtime());
        assertEquals("onnxruntime", r.entries().get(1).runtime());
        for (BenchJob.Entry e : r.entries()) {
            BenchStats s = e.stats();
            assertEquals(5, s.iterations());
            assertTrue(s.minMs() <= s.medianMs() && s.medianMs() <= s.p90Ms() && s.p90Ms() <= s.p95Ms()
                    && s.p95Ms() <= s.p99Ms() && s.p99Ms() <= s.maxMs(), s.toString());
            assertTrue(s.minMs() <= s.meanMs() && s.meanMs() <= s.maxMs());
            assertEquals(2 * 1000 / s.meanMs(), s.samplesPerSecond(), 1e-6 * s.samplesPerSecond());
            assertTrue(e.warnings().stream().anyMatch(w -> w.contains("only 5 iterations")), e.warnings().toString());
        }
        assertNull(r.entries().get(0).kilnOverheadPercent());
        assertNotNull(r.entries().get(1).nativeStats());
        assertNotNull(r.entries().get(1).kilnOverheadPercent());
        // TFLite and TensorRT are listed with a reason for both models (TensorRT: build an engine first); each
        // model's other format too
        assertTrue(r.unavailable().stream().anyMatch(u -> u.runtime().equals("tflite")));
        assertTrue(r.unavailable().stream().anyMatch(u -> u.runtime().equals("tensorrt")));
        assertTrue(r.unavailable().stream().allMatch(u -> !u.reason().isBlank()));
        assertTrue(r.unavailable().stream().filter(u -> u.runtime().equals("tensorrt"))
                .allMatch(u -> u.reason().contains("kiln build-engine")), r.unavailable().toString());
        assertEquals(6, r.unavailable().size());

        List<Path> written = BenchReports.write(r, tmp.resolve("report"));
        JsonNode json = new ObjectMapper().readTree(Files.readString(written.get(0)));
        assertEquals(2, json.get("entries").size());
        String html = Files.readString(written.get(1));
        assertTrue(html.contains("<svg") && html.contains("median latency") && html.contains("not available")
                || html.contains("Not available"));
    }

    /**
     * An .engine is TensorRT's to run: without TensorRT and a GPU every runtime is listed unavailable with its reason
     * (TensorRT's says what is missing) and nothing is timed; with them, an engine without Kiln's manifest is refused.
     */
    @Test
    void anEngineIsBenchedOnTensorRtOnlyAndWithoutAGpuSaysWhy() throws Exception {
        Path engine = tmp.resolve("cnn.engine");
        Files.write(engine, new byte[] {1, 2, 3, 4});
        BenchJob job = BenchJob.builder(List.of(engine)).batch(2).warmupIterations(1).iterations(2).build();
        if (dev.kiln.tensorrt.TensorRtProbe.probe().available()) {
            KilnException e = assertThrows(KilnException.class, job::run);
            assertTrue(e.getMessage().contains("manifest"), e.getMessage());
            return;
        }
        BenchJob.Result r = job.run();
        assertTrue(r.entries().isEmpty());
        assertEquals(4, r.unavailable().size(), r.unavailable().toString());
        BenchJob.Unavailable trt = r.unavailable().stream().filter(u -> u.runtime().equals("tensorrt")).findFirst()
                .orElseThrow();
        assertTrue(trt.reason().startsWith("TensorRT is not usable here: "), trt.reason());
        assertTrue(trt.reason().contains(dev.kiln.tensorrt.TensorRtProbe.probe().reason()), trt.reason());
        assertTrue(r.unavailable().stream().anyMatch(u -> u.reason().equals(
                "TensorFlow cannot run a TensorRT engine (Kiln imports SavedModels and frozen graphs only)")),
                r.unavailable().toString());
    }

    @Test
    void statisticsOfKnownLatencies() {
        long[] ns = new long[100];
        for (int i = 0; i < 100; i++) {
            ns[i] = (i + 1) * 1_000_000L; // 1..100 ms
        }
        BenchStats s = BenchStats.of(ns, 4);
        assertEquals(1, s.minMs(), 1e-9);
        assertEquals(50.5, s.medianMs(), 1e-9);
        assertEquals(90, s.p90Ms(), 1e-9);
        assertEquals(99, s.p99Ms(), 1e-9);
        assertEquals(100, s.maxMs(), 1e-9);
        assertEquals(4 * 1000 / 50.5, s.samplesPerSecond(), 1e-9);
        assertTrue(BenchJob.warnings(s).stream().anyMatch(w -> w.startsWith("noisy")));
    }

    @Test
    void badArgumentsFailClearly() {
        assertThrows(KilnArgumentException.class, () -> BenchRuntime.parse("tensorflowlite"));
        assertThrows(KilnArgumentException.class, () -> BenchJob.builder(List.of(onnx)).batch(0));
        KilnException e = assertThrows(KilnException.class,
                () -> BenchJob.builder(List.of(tmp.resolve("nope.onnx"))).build());
        assertTrue(e.getMessage().contains("does not exist"));
        assertEquals(Set.of(BenchRuntime.values()).size(), BenchRuntime.parse("all").size());
    }
}
