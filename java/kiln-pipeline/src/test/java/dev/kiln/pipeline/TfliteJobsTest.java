package dev.kiln.pipeline;

import dev.kiln.KilnArgumentException;
import dev.kiln.data.RepresentativeData;
import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.onnx.Precision;
import dev.kiln.tensorflow.ExampleModels;
import dev.kiln.tensorflow.TfImporter;
import dev.kiln.tflite.TfliteRunner;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * TFLite in the jobs: {@code kiln export --format tflite} (verified against TensorFlow, INT8 calibrated, int8 I/O),
 * {@code kiln optimize --format tflite} (artifacts verified like ONNX and evaluated on the interpreter) and
 * {@code kiln bench} on a .tflite file.
 */
class TfliteJobsTest {
    @TempDir
    static Path tmp;
    static Path model;

    @BeforeAll
    static void setUp() {
        model = ExampleModels.exampleCnn(tmp.resolve("example_cnn"));
    }

    @Test
    void exportWritesVerifiedTfliteInEveryPrecision() {
        ExportJob.Result fp32 = ExportJob.builder(model, tmp.resolve("m.tflite")).format(ExportJob.Format.TFLITE)
                .verify(true).build().run();
        assertTrue(fp32.tflite() != null && fp32.onnx() == null);
        assertFalse(fp32.verification().isEmpty());
        fp32.verification().forEach(v -> assertTrue(v.maxRelError() <= 1e-4, v.toString()));

        ExportJob.Result fp16 = ExportJob.builder(model, tmp.resolve("m16.tflite")).format(ExportJob.Format.TFLITE)
                .precision(Precision.FP16).verify(true).build().run();
        fp16.verification().forEach(v -> assertTrue(v.maxRelError() <= 1e-2, v.toString()));
        assertTrue(fp16.tflite().bytes() < fp32.tflite().bytes(), fp16.tflite() + " vs " + fp32.tflite());

        ExportJob.Result dyn = ExportJob.builder(model, tmp.resolve("md.tflite")).format(ExportJob.Format.TFLITE)
                .precision(Precision.INT8_WEIGHTS_ONLY).build().run();
        assertTrue(dyn.tflite().bytes() < fp32.tflite().bytes());

        Graph g = TfImporter.load(model);
        Path int8 = tmp.resolve("m8.tflite");
        ExportJob.Result q = ExportJob.builder(model, int8).format(ExportJob.Format.TFLITE).precision(Precision.INT8)
                .int8IO(true).calibrationData(RepresentativeData.random(g.inputs(), 1, 64).withBatchSize(16))
                .build().run();
        assertTrue(q.tflite().tfliteOps().containsKey("CONV_2D"), q.tflite().toString());
        try (TfliteRunner r = TfliteRunner.open(int8, 1)) {
            r.inputNames().forEach(n -> assertEquals(DType.INT8, r.inputType(n)));
        }
    }

    @Test
    void int8WithoutRangesOrWithAnotherFormatIsAnArgumentError() {
        assertThrows(KilnArgumentException.class, () -> ExportJob.builder(model, tmp.resolve("x.tflite"))
                .format(ExportJob.Format.TFLITE).precision(Precision.INT8).build());
        assertThrows(KilnArgumentException.class, () -> ExportJob.builder(model, tmp.resolve("x.pb"))
                .format(ExportJob.Format.FROZEN).precision(Precision.FP16).build());
        assertFalse(Files.exists(tmp.resolve("x.tflite")));
    }

    @Test
    void optimizeWritesVerifiesAndEvaluatesTfliteArtifacts() {
        Graph g = TfImporter.load(model);
        OptimizeReport r = OptimizeJob.builder(model).output(tmp.resolve("optimized"))
                .formats(EnumSet.of(OptimizeJob.Format.TFLITE))
                .precisions(EnumSet.of(Precision.FP32, Precision.FP16, Precision.INT8_WEIGHTS_ONLY, Precision.INT8))
                .calibrationData(RepresentativeData.random(g.inputs(), 1, 64).withBatchSize(16))
                .evaluationData(RepresentativeData.random(g.inputs(), 2, 64).withBatchSize(16)).build().run();
        List<OptimizeReport.Artifact> tflite = r.artifacts().stream().filter(a -> a.format().equals("tflite"))
                .toList();
        assertEquals(List.of("fp32", "fp16", "int8-dynamic", "int8"), tflite.stream()
                .map(OptimizeReport.Artifact::precision).toList(), r.artifacts().toString());
        tflite.forEach(a -> assertTrue(Files.isRegularFile(Path.of(a.path())), a.path()));
        assertTrue(Files.isRegularFile(tmp.resolve("optimized/calibration/table_tflite.json")));
        List<OptimizeReport.Verification> checked = r.verifications().stream()
                .filter(v -> v.runtime().equals("tflite")).toList();
        assertEquals(2, checked.size(), "fp32 and fp16 verified exactly: " + r.verifications());
        checked.forEach(v -> assertTrue(v.passed(), v.toString()));
        long onInterpreter = r.evaluation().candidates().stream().filter(c -> c.runtime().equals("tflite")).count();
        assertEquals(4, onInterpreter, r.evaluation().candidates().toString());
        r.evaluation().candidates().stream().filter(c -> c.runtime().equals("tflite"))
                .forEach(c -> assertTrue(c.minCosine() > 0.98, c.name() + " cosine " + c.minCosine()));
    }

    @Test
    void benchTimesATfliteFileOnTheInterpreter() {
        Path file = tmp.resolve("bench.tflite");
        ExportJob.builder(model, file).format(ExportJob.Format.TFLITE).build().run();
        BenchJob.Result r = BenchJob.builder(List.of(file)).batch(2).warmupIterations(1).iterations(5).build().run();
        assertEquals(1, r.entries().size(), r.entries().toString());
        assertEquals("tflite", r.entries().get(0).runtime());
        assertTrue(r.entries().get(0).stats().medianMs() > 0);
        assertTrue(r.unavailable().stream().anyMatch(u -> u.runtime().equals("tensorflow")
                && u.reason().contains("TFLite")), r.unavailable().toString());
    }
}
