package dev.kiln.pipeline;

import dev.kiln.KilnArgumentException;
import dev.kiln.data.RepresentativeData;
import dev.kiln.onnx.OnnxReader;
import dev.kiln.onnx.Precision;
import dev.kiln.onnx.proto.Onnx.ModelProto;
import dev.kiln.onnx.proto.Onnx.NodeProto;
import dev.kiln.tensorflow.ExampleData;
import dev.kiln.tensorflow.ExampleModels;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The optimize job's INT8 path on the trained example CNN with the MNIST slice shipped in examples/: calibration on
 * images 0-999, evaluation on the held-out 5000-5999 with labels, both layouts, the fake-quantized SavedModel, per-layer
 * error, mixed precision (asked and searched) and the random-data smoke run.
 */
class OptimizeJobInt8Test {
    @TempDir
    static Path dir;
    static Path model;

    @BeforeAll
    static void train() {
        model = ExampleModels.trainedMnistCnn(dir.resolve("mnist_cnn"));
    }

    private static RepresentativeData calib() {
        return ExampleData.data(ExampleData.CALIBRATION, "image", 100);
    }

    private static RepresentativeData eval(int count) {
        return ExampleData.data(new ExampleData.Range(ExampleData.EVALUATION.start(), count), "image", 100);
    }

    private static long[] labels(int count) {
        return ExampleData.labelsAsLongs(new ExampleData.Range(ExampleData.EVALUATION.start(), count));
    }

    @Test
    void fullInt8IsCalibratedEvaluatedAndReported() throws Exception {
        Path out = dir.resolve("full");
        OptimizeReport r = OptimizeJob.builder(model).output(out)
                .precisions(EnumSet.of(Precision.FP32, Precision.FP16, Precision.INT8_WEIGHTS_ONLY, Precision.INT8))
                .calibrationData(calib()).evaluationData(eval(1000)).labels(labels(1000)).build().run();
        assertFalse(r.calibration().random());
        assertEquals(1000, r.calibration().samples());
        Evaluation e = r.evaluation();
        assertTrue(e.labelled());
        assertEquals(1000, e.samples());
        assertTrue(e.reference().top1() > 0.95, "the trained example: " + e.reference().top1());
        for (Evaluation.Result c : e.candidates()) {
            assertTrue(e.reference().top1() - c.top1() <= 0.01, c.name() + ": " + c.top1());
            assertTrue(c.minCosine() > 0.99, c.name() + ": cosine " + c.minCosine());
        }
        assertTrue(r.artifacts().stream().anyMatch(a -> a.precision().equals("int8-onnxruntime")
                && a.saturation().contains("yes")), r.artifacts().toString());
        assertTrue(r.artifacts().stream().anyMatch(a -> a.precision().equals("int8-tensorrt")
                && a.saturation().contains("no")), "TensorRT layout keeps full-range weights");
        assertFalse(r.layers().isEmpty());
        assertTrue(r.layers().stream().allMatch(l -> l.sqnrDb() > 15), r.layers().toString());
        for (String f : new String[] {"calibration/table_tensorrt.json", "calibration/table_onnxruntime.json",
                "calibration/calibration_tensorrt.cache", "calibration/calibration.json", "model_int8_tensorrt.onnx",
                "model_int8_onnxruntime.onnx", "model_int8_dynamic.onnx", "saved_model_int8_fakequant/saved_model.pb"}) {
            assertTrue(Files.isRegularFile(out.resolve(f)), f);
        }
        String html = Reports.toHtml(r);
        assertTrue(html.contains("Accuracy on held-out data") && html.contains("Per-layer quantization error")
                && html.contains("Calibration"), "report.html sections");
        String json = Reports.toJson(r);
        assertTrue(json.contains("\"evaluation\"") && json.contains("\"calibration\""));
    }

    @Test
    void keepFloatLeavesTheNamedLayerWithoutQdq() {
        Path out = dir.resolve("keep");
        OptimizeReport r = OptimizeJob.builder(model).output(out).formats(EnumSet.of(OptimizeJob.Format.ONNX))
                .precisions(EnumSet.of(Precision.INT8)).calibrationData(calib()).evaluationData(eval(200))
                .labels(labels(200)).keepFloat(Set.of("logits/MatMul")).build().run();
        assertEquals("asked (--keep-float)", r.mixedPrecision().reason());
        for (String f : new String[] {"model_int8_tensorrt.onnx", "model_int8_onnxruntime.onnx"}) {
            ModelProto m = OnnxReader.read(out.resolve(f));
            Map<String, NodeProto> producer = new HashMap<>();
            m.getGraph().getNodeList().forEach(n -> n.getOutputList().forEach(o -> producer.put(o, n)));
            NodeProto mm = m.getGraph().getNodeList().stream().filter(n -> n.getName().equals("logits/MatMul"))
                    .findFirst().orElseThrow();
            NodeProto w = producer.get(mm.getInput(1));
            assertTrue(w == null || !w.getOpType().equals("DequantizeLinear"), f + ": float weights");
            NodeProto conv = m.getGraph().getNodeList().stream().filter(n -> n.getOpType().equals("Conv"))
                    .findFirst().orElseThrow();
            assertEquals("DequantizeLinear", producer.get(conv.getInput(1)).getOpType(), f + ": conv still INT8");
        }
    }

    @Test
    void mixedPrecisionSearchKeepsTheMostSensitiveLayersInFloatUntilTheBudgetIsMet() {
        Path out = dir.resolve("mixed");
        // a cosine budget tighter than full INT8 reaches, so at least one layer must stay in float
        OptimizeReport full = OptimizeJob.builder(model).output(dir.resolve("mixed-base"))
                .formats(EnumSet.of(OptimizeJob.Format.ONNX)).precisions(EnumSet.of(Precision.INT8))
                .calibrationData(calib()).evaluationData(eval(300)).build().run();
        double fullCos = full.evaluation().candidates().stream().filter(c -> c.name().contains("onnxruntime"))
                .findFirst().orElseThrow().minCosine();
        double budget = 1 - (1 - fullCos) / 4;
        OptimizeReport r = OptimizeJob.builder(model).output(out).formats(EnumSet.of(OptimizeJob.Format.ONNX))
                .precisions(EnumSet.of(Precision.INT8)).calibrationData(calib()).evaluationData(eval(300))
                .minCosine(budget).build().run();
        OptimizeReport.MixedPrecision m = r.mixedPrecision();
        assertEquals(4, m.sensitivities().size(), "conv1, dw2, conv3, logits: " + m.sensitivities());
        assertFalse(m.keptFloat().isEmpty(), "budget " + budget + " is tighter than full INT8's " + fullCos);
        double achieved = r.evaluation().candidates().stream().filter(c -> c.name().contains("onnxruntime"))
                .findFirst().orElseThrow().minCosine();
        assertTrue(achieved >= budget || m.keptFloat().size() == 4, "achieved " + achieved + " vs " + budget);
        // the layer kept first is the most sensitive one
        OptimizeReport.Sensitivity worst = m.sensitivities().stream()
                .max(java.util.Comparator.comparingDouble(OptimizeReport.Sensitivity::cost)).orElseThrow();
        assertEquals(worst.layer(), m.keptFloat().get(0));
    }

    @Test
    void randomCalibrationIsFlaggedEverywhere() {
        OptimizeReport r = OptimizeJob.builder(model).output(dir.resolve("random"))
                .formats(EnumSet.of(OptimizeJob.Format.ONNX)).precisions(EnumSet.of(Precision.INT8))
                .calibrationData(RepresentativeData.random(java.util.List.of(dev.kiln.tensorflow.TfImporter.load(model)
                        .inputs().get(0)), 1, 32).withBatchSize(16)).build().run();
        assertTrue(r.calibration().random());
        assertTrue(r.warnings().stream().anyMatch(w -> w.contains("RANDOM")), r.warnings().toString());
        assertTrue(Reports.toHtml(r).contains("RANDOM"));
    }

    @Test
    void int8WithoutDataOrTableIsRefused() {
        KilnArgumentException e = assertThrows(KilnArgumentException.class, () -> OptimizeJob.builder(model)
                .precisions(EnumSet.of(Precision.INT8)).build());
        assertTrue(e.getMessage().contains("--data") && e.getMessage().contains("--calib-random"), e.getMessage());
    }

    @Test
    void pruningAndLowRankAreVerifiedAgainstTheirGraphAndCostedAgainstTheOriginal() {
        OptimizeReport r = OptimizeJob.builder(model).output(dir.resolve("pruned"))
                .precisions(EnumSet.of(Precision.FP32)).evaluationData(eval(300)).labels(labels(300))
                .prune(dev.kiln.sparse.PruningPlan.of(dev.kiln.sparse.PruningPattern.unstructured(0.5)))
                .lowRank(dev.kiln.lowrank.LowRankFactorization.builder().rank(4).build()).build().run();
        assertTrue(r.allPassed(), "exports equal the pruned, factorized graph: " + r.verifications());
        assertEquals(0.5, r.pruning().globalSparsity(), 0.01);
        assertTrue(r.lowRank().parametersAfter() < r.lowRank().parametersBefore(), r.lowRank().toString());
        Evaluation.Result onnx = r.evaluation().candidates().stream().filter(c -> c.name().equals("onnx fp32"))
                .findFirst().orElseThrow();
        assertTrue(onnx.minCosine() < 0.9999, "pruning and factorization cost something: " + onnx.minCosine());
        assertTrue(Reports.toHtml(r).contains("Pruning") && Reports.toHtml(r).contains("Low rank"));
    }
}
