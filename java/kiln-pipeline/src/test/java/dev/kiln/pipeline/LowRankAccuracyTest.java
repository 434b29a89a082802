package dev.kiln.pipeline;

import dev.kiln.data.DataSources;
import dev.kiln.data.FloatConversion;
import dev.kiln.data.NpyFile;
import dev.kiln.data.RepresentativeData;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Tensor;
import dev.kiln.lowrank.LowRankFactorization;
import dev.kiln.lowrank.LowRankReport;
import dev.kiln.onnx.OnnxExporter;
import dev.kiln.onnx.OnnxRunner;
import dev.kiln.passes.Passes;
import dev.kiln.tensorflow.TfExporter;
import dev.kiln.tensorflow.TfImporter;
import dev.kiln.tensorflow.TfRunner;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Low-rank factorization at 0.95 energy on the real MNIST models of ../shared/models, checked by both oracles: the
 * factorized SavedModel in TensorFlow and its ONNX in ONNX Runtime agree, and the parameter count drops wherever a
 * layer was factorized. Top-1 on the held-out images 5000-9999, before and after. Prints docs/lowrank.md's table.
 */
class LowRankAccuracyTest {
    // 0.95 is the setting; 0.99 shows the error is truncation (it shrinks as more energy is kept)
    static final List<Double> ENERGIES = List.of(0.95, 0.99);
    static final List<String> ROWS = new ArrayList<>();

    @TempDir
    static Path dir;

    @TestFactory
    Stream<DynamicTest> factorizedMnistModelsAgreeOnTfAndOnnxWithFewerParameters() {
        Path models = SharedMnist.shared().resolve("models");
        Path mnist = SharedMnist.shared().resolve("data/mnist");
        assumeTrue(Files.isDirectory(models) && Files.isDirectory(mnist),
                "skipped: ../shared (models and MNIST data) is absent");
        return SharedMnist.MODELS.stream().flatMap(name -> ENERGIES.stream().map(e ->
                DynamicTest.dynamicTest(name + " @ " + e,
                () -> check(models.resolve(name), name, mnist, e))));
    }

    private void check(Path model, String name, Path mnist, double energy) {
        Graph g = TfImporter.load(model);
        Passes.optimizeForInference().run(g);
        Graph factorized = g.copy();
        LowRankReport report = LowRankFactorization.energy(energy).factorize(factorized);
        report.notes().forEach(n -> System.out.println(name + " @ " + energy + ": " + n));

        Path out = dir.resolve(name + "-" + energy);
        Path savedModel = out.resolve("saved_model");
        Path onnx = out.resolve("model.onnx");
        TfExporter.writeSavedModel(factorized, savedModel);
        OnnxExporter.fp32().export(factorized, onnx);

        long[] labels = SharedMnist.labels(5000, 5000);
        double fp32;
        try (TfRunner r = TfRunner.of(g)) {
            fp32 = Evaluation.top1(r, SharedMnist.images(g, 5000, 5000), labels);
        }
        double lowRank;
        double maxAbs = 0;
        try (TfRunner tf = TfRunner.open(savedModel, dev.kiln.tensorflow.ImportOptions.defaults());
             OnnxRunner ort = OnnxRunner.open(onnx, 1)) {
            lowRank = Evaluation.top1(tf, SharedMnist.images(g, 5000, 5000), labels);
            double onnxTop1 = Evaluation.top1(ort, SharedMnist.images(g, 5000, 5000), labels);
            try (RepresentativeData.Batches b = SharedMnist.images(g, 5000, 1000).iterator()) {
                while (b.hasNext()) {
                    Map<String, Tensor> in = b.next();
                    maxAbs = Math.max(maxAbs, maxAbs(tf.run(in), ort.run(in)));
                }
            }
            assertEquals(lowRank, onnxTop1, 0.001, name + ": TF and ONNX Runtime top-1 of the factorized model");
        }
        assertTrue(maxAbs < 1e-4, name + ": TF and ONNX Runtime differ by " + maxAbs);

        long removed = report.layers().stream().mapToLong(l -> l.parametersBefore() - l.parametersAfter()).sum();
        assertEquals(g.parameterCount(), report.parametersBefore());
        assertEquals(report.parametersBefore() - removed, report.parametersAfter(), name + ": parameter count");
        if (!report.factorized().isEmpty()) {
            assertTrue(report.parametersAfter() < report.parametersBefore(), name + ": no parameters removed");
        }
        // far above chance (10%): a wrongly wired factor would not be; how far below FP32 is what the table shows
        assertTrue(lowRank > 0.25, name + ": factorized top-1 " + lowRank);
        System.out.printf(Locale.ROOT, "%s: TF vs ONNX Runtime max |diff| %.2e on 1000 images%n", name, maxAbs);
        // short names: the last path element (Keras nests every layer under StatefulPartitionedCall/...)
        String layers = report.factorized().stream().map(l -> shortName(l.name()) + " " + l.rows() + "×" + l.cols()
                + " r" + l.rank()).reduce((a, b) -> a + ", " + b).orElse("none");
        synchronized (ROWS) {
            ROWS.add(String.format(Locale.ROOT, "| %s | %.2f | %s | %,d → %,d (%.1f%% fewer) | %.2f%% | %.2f%% (%+.2f) |",
                    name, energy, layers, report.parametersBefore(), report.parametersAfter(), 100 * report.reduction(),
                    100 * fp32, 100 * lowRank, 100 * (lowRank - fp32)));
        }
    }

    private static String shortName(String node) {
        String[] parts = node.split("/");
        return parts.length >= 2 ? parts[parts.length - 2] + "/" + parts[parts.length - 1] : node;
    }

    private static double maxAbs(Map<String, Tensor> a, Map<String, Tensor> b) {
        double m = 0;
        for (Map.Entry<String, Tensor> e : a.entrySet()) {
            float[] x = e.getValue().asFloats();
            float[] y = b.get(e.getKey()).asFloats();
            assertEquals(x.length, y.length, e.getKey());
            for (int i = 0; i < x.length; i++) {
                m = Math.max(m, Math.abs(x[i] - y[i]));
            }
        }
        return m;
    }

    @AfterAll
    static void printTable() {
        if (ROWS.isEmpty()) {
            return;
        }
        System.out.println("| model | energy | factorized layers (m×n, rank) | parameters | FP32 top-1 "
                + "| low-rank top-1 (change) |");
        System.out.println("|---|---|---|---|---|---|");
        ROWS.forEach(System.out::println);
    }
}
