package dev.kiln.pipeline;

import dev.kiln.calib.CalibrationTable;
import dev.kiln.data.DataSources;
import dev.kiln.data.FloatConversion;
import dev.kiln.data.NpyFile;
import dev.kiln.data.RepresentativeData;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Tensor;
import dev.kiln.onnx.CpuFeatures;
import dev.kiln.onnx.Int8Target;
import dev.kiln.onnx.Int8WeightRange;
import dev.kiln.onnx.OnnxRunner;
import dev.kiln.onnx.Precision;
import dev.kiln.passes.Passes;
import dev.kiln.tensorflow.TfImporter;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The proof on real models: the trained MNIST models of ../shared/models, calibrated on images 0-999 of the real
 * MNIST test set and evaluated on the held-out images 5000-9999. Full INT8 (both ONNX layouts on ONNX Runtime, and the
 * fake-quantized SavedModel in TensorFlow) within 1 point of FP32 top-1, dynamic range within 0.5, FP16 within 0.1.
 * Also the weight-range table of the AVX2 issue: 7-bit and full-range weights, ONNX Runtime's stock kernels and the
 * exact ones. Prints the README's tables.
 */
class MnistAccuracyTest {
    static final List<String> ROWS = new ArrayList<>();
    static final List<String> RANGE_ROWS = new ArrayList<>();

    @TempDir
    static Path dir;

    @TestFactory
    Stream<DynamicTest> int8OnRealMnistModelsStaysWithinOnePointOfFp32() {
        Path models = SharedMnist.shared().resolve("models");
        Path mnist = SharedMnist.shared().resolve("data/mnist");
        assumeTrue(Files.isDirectory(models) && Files.isDirectory(mnist),
                "skipped: ../shared (models and MNIST data) is absent");
        return SharedMnist.MODELS.stream().map(name -> DynamicTest.dynamicTest(name,
                () -> check(models.resolve(name), name,
                mnist)));
    }

    /** mlperf_tiny_kws_dscnn has no data here: random calibration and evaluation, flagged as such. */
    @org.junit.jupiter.api.Test
    void kwsWithRandomCalibrationReportsCosineAndSqnrFlaggedRandom() {
        Path model = SharedMnist.shared().resolve("models/mlperf_tiny_kws_dscnn");
        assumeTrue(Files.isDirectory(model), "skipped: ../shared/models/mlperf_tiny_kws_dscnn is absent");
        Graph g = TfImporter.load(model);
        OptimizeReport r = OptimizeJob.builder(model).output(dir.resolve("kws"))
                .formats(EnumSet.of(OptimizeJob.Format.SAVEDMODEL, OptimizeJob.Format.ONNX))
                .precisions(EnumSet.of(Precision.FP32, Precision.FP16, Precision.INT8_WEIGHTS_ONLY, Precision.INT8))
                .calibrationData(RepresentativeData.random(g.inputs(), 1, 256).withBatchSize(32))
                .evaluationData(RepresentativeData.random(g.inputs(), 2, 256).withBatchSize(32)).build().run();
        assertTrue(r.calibration().random());
        assertTrue(r.warnings().stream().filter(w -> w.contains("RANDOM")).count() >= 2, r.warnings().toString());
        StringBuilder row = new StringBuilder("| mlperf_tiny_kws_dscnn (RANDOM calibration and inputs) |");
        for (Evaluation.Result c : r.evaluation().candidates()) {
            System.out.printf(Locale.ROOT, "kws %-36s cosine %.6f, SQNR %.1f dB%n", c.name(), c.minCosine(),
                    c.minSqnrDb());
            if (c.name().startsWith("onnx")) {
                row.append(String.format(Locale.ROOT, " %.5f / %.1f dB |", c.minCosine(), c.minSqnrDb()));
            }
            assertTrue(c.minCosine() > 0.9, c.name() + ": cosine " + c.minCosine());
        }
        System.out.println("| model | ONNX FP32 | ONNX FP16 | ONNX dynamic INT8 | ONNX INT8 TensorRT layout "
                + "| ONNX INT8 ORT layout | (cosine / SQNR against TF FP32) |");
        System.out.println(row);
    }

    private void check(Path model, String name, Path mnist) {
        Graph g = TfImporter.load(model);
        Path out = dir.resolve(name);
        OptimizeReport r = OptimizeJob.builder(model).output(out)
                .formats(EnumSet.of(OptimizeJob.Format.SAVEDMODEL, OptimizeJob.Format.ONNX))
                .precisions(EnumSet.of(Precision.FP32, Precision.FP16, Precision.INT8_WEIGHTS_ONLY, Precision.INT8))
                .calibrationData(SharedMnist.images(g, 0, 1000)).evaluationData(SharedMnist.images(g, 5000, 5000))
                .labels(SharedMnist.labels(5000, 5000)).build().run();
        Evaluation e = r.evaluation();
        double fp32 = e.reference().top1();
        StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "| %s | %.2f%%", name, 100 * fp32));
        for (Evaluation.Result c : e.candidates()) {
            double drop = 100 * (fp32 - c.top1());
            double limit = c.name().contains("fp16") ? 0.1 : c.name().contains("dynamic") ? 0.5
                    : c.name().contains("int8") ? 1.0 : 1e-9;
            row.append(String.format(Locale.ROOT, " | %.2f%% (%+.2f)", 100 * c.top1(), 0.0 - drop + 0.0));
            System.out.printf(Locale.ROOT, "%s %-36s top-1 %.2f%% (FP32 %.2f%%), cosine %.6f, SQNR %.1f dB%n", name,
                    c.name(), 100 * c.top1(), 100 * fp32, c.minCosine(), c.minSqnrDb());
            assertTrue(drop <= limit, name + " " + c.name() + ": top-1 " + c.top1() + " vs FP32 " + fp32
                    + " (limit " + limit + " points)");
        }
        synchronized (ROWS) {
            ROWS.add(row.append(" |").toString());
        }
        assertEquals(7, e.candidates().size(), "SavedModel, ONNX FP32/FP16/dynamic/INT8 x2, fake-quant SavedModel");
        weightRanges(name, out, g, mnist);
    }

    /** ORT-layout INT8 with 7-bit and full-range weights, on ORT's stock and exact integer kernels. */
    private void weightRanges(String name, Path out, Graph g, Path mnist) {
        Graph optimized = g.copy();
        Passes.optimizeForInference().run(optimized);
        CalibrationTable t = CalibrationTable.load(out.resolve("calibration/table_onnxruntime.json"));
        long[] labels = SharedMnist.labels(5000, 5000);
        StringBuilder row = new StringBuilder("| " + name);
        double reducedStock = 0;
        double reducedExact = 0;
        for (Int8WeightRange range : List.of(Int8WeightRange.REDUCED, Int8WeightRange.FULL)) {
            Path onnx = out.resolve("ort-" + range + ".onnx");
            Int8Exports.exporter(Int8Target.ONNXRUNTIME, range, java.util.Set.of(), 17)
                    .export(Int8Exports.quantized(optimized, t, Int8Target.ONNXRUNTIME), onnx);
            for (OnnxRunner.IntegerKernels k : OnnxRunner.IntegerKernels.values()) {
                double top1;
                try (OnnxRunner r = OnnxRunner.open(onnx, 1, true, k)) {
                    top1 = Evaluation.top1(r, SharedMnist.images(g, 5000, 5000), labels);
                }
                row.append(String.format(Locale.ROOT, " | %.2f%%", 100 * top1));
                if (range == Int8WeightRange.REDUCED) {
                    if (k == OnnxRunner.IntegerKernels.STOCK) {
                        reducedStock = top1;
                    } else {
                        reducedExact = top1;
                    }
                }
            }
        }
        synchronized (RANGE_ROWS) {
            RANGE_ROWS.add(row.append(" |").toString());
        }
        assertEquals(reducedExact, reducedStock, "7-bit weights: ORT's stock kernels give the exact answer");
    }

    @AfterAll
    static void printTables() {
        if (ROWS.isEmpty()) {
            return;
        }
        System.out.println("| model | FP32 (TF) | SavedModel FP32 (TF) | ONNX FP32 | ONNX FP16 | ONNX dynamic INT8 "
                + "| ONNX INT8 TensorRT layout (ORT) | ONNX INT8 ORT layout | fake-quant SavedModel INT8 (TF) |");
        System.out.println("|---|---|---|---|---|---|---|---|---|");
        ROWS.forEach(System.out::println);
        System.out.println();
        System.out.println("weight ranges, ORT layout, on " + CpuFeatures.host().summary());
        System.out.println("| model | 7-bit, ORT exact kernels | 7-bit, ORT stock kernels | full range, exact kernels "
                + "| full range, stock kernels |");
        System.out.println("|---|---|---|---|---|");
        RANGE_ROWS.forEach(System.out::println); // REDUCED x (EXACT, STOCK), then FULL x (EXACT, STOCK)
    }
}
