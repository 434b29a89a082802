package dev.kiln.pipeline;

import dev.kiln.data.DataSources;
import dev.kiln.data.FloatConversion;
import dev.kiln.data.NpyFile;
import dev.kiln.data.RepresentativeData;
import dev.kiln.eval.ModelRunner;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Tensor;
import dev.kiln.onnx.OnnxExporter;
import dev.kiln.onnx.OnnxRunner;
import dev.kiln.passes.Passes;
import dev.kiln.sparse.Pruner;
import dev.kiln.sparse.PruningPattern;
import dev.kiln.sparse.PruningPlan;
import dev.kiln.sparse.PruningReport;
import dev.kiln.tensorflow.ImportOptions;
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
import java.util.Set;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * One-shot pruning of the trained MNIST models of ../shared/models, evaluated on the held-out images 5000-9999 of
 * the real MNIST test set: 50% unstructured on every layer and 2:4 on every dense (MatMul) layer. The first and the
 * last layer are included: two of these models have only two layers, which the default plan would leave alone. The
 * pruned model is written as a SavedModel and as ONNX; both are run (TensorFlow and ONNX Runtime) and must agree.
 * No fine-tuning, so no accuracy limit is asserted: the sparsity and the agreement are. Prints the table of
 * docs/sparsity.md.
 */
class PruningAccuracyTest {
    static final List<String> ROWS = new ArrayList<>();

    @TempDir
    static Path dir;

    @TestFactory
    Stream<DynamicTest> prunedMnistModelsReachTheirSparsityAndAgreeOnTensorFlowAndOnnxRuntime() {
        Path models = SharedMnist.shared().resolve("models");
        Path mnist = SharedMnist.shared().resolve("data/mnist");
        assumeTrue(Files.isDirectory(models) && Files.isDirectory(mnist),
                "skipped: ../shared (models and MNIST data) is absent");
        return SharedMnist.MODELS.stream().map(name -> DynamicTest.dynamicTest(name,
                () -> check(models.resolve(name), name,
                mnist)));
    }

    private void check(Path model, String name, Path mnist) {
        Graph original = TfImporter.load(model);
        long[] labels = SharedMnist.labels(5000, 5000);
        double fp32;
        try (TfRunner tf = TfRunner.open(model, ImportOptions.defaults())) {
            fp32 = Evaluation.top1(tf, SharedMnist.images(original, 5000, 5000), labels);
        }
        StringBuilder row = new StringBuilder(String.format(Locale.ROOT, "| %s | %.2f%%", name, 100 * fp32));
        Map<String, PruningPlan> plans = Map.of(
                "unstructured", PruningPlan.builder(PruningPattern.unstructured(0.5)).includeFirstAndLast(true).build(),
                "2:4", PruningPlan.builder(PruningPattern.twoFour()).ops(Set.of("MatMul")).includeFirstAndLast(true)
                        .skipIndivisible(true).build());
        for (String variant : List.of("unstructured", "2:4")) {
            Graph g = original.copy();
            Passes.optimizeForInference().run(g);
            PruningReport report = Pruner.of(plans.get(variant)).prune(g);
            System.out.println(name + " " + variant + "\n" + report.toMarkdown() + report.notes());
            assertFalse(report.layers().isEmpty(), name + " " + variant + ": nothing pruned; " + report.notes());
            for (PruningReport.Layer l : report.layers()) {
                assertTrue(l.zeros() >= l.weights() / 2, l.toString());
                if (variant.equals("2:4")) {
                    assertTrue(l.nm() != null && l.nm().ok(), l.toString());
                }
            }
            Path out = dir.resolve(name + "-" + variant.replace(':', '_'));
            TfExporter.writeSavedModel(g, out.resolve("saved_model"));
            OnnxExporter.fp32().export(g, out.resolve("model.onnx"));
            double[] top1 = agreeingTop1(out, g, mnist, labels, name + " " + variant);
            row.append(String.format(Locale.ROOT, " | %.2f%% (%+.2f), %d layers, %.1f%% of their weights zero",
                    100 * top1[0], 100 * (top1[0] - fp32), report.layers().size(), 100 * report.globalSparsity()));
        }
        synchronized (ROWS) {
            ROWS.add(row.append(" |").toString());
        }
    }

    /** Top-1 of the pruned SavedModel in TF, after checking that ONNX Runtime gives the same outputs on every batch. */
    private static double[] agreeingTop1(Path out, Graph g, Path mnist, long[] labels, String what) {
        long okTf = 0;
        long okOnnx = 0;
        long seen = 0;
        double maxDiff = 0;
        try (ModelRunner tf = TfRunner.open(out.resolve("saved_model"), ImportOptions.defaults());
             ModelRunner onnx = OnnxRunner.open(out.resolve("model.onnx"), 1);
             RepresentativeData.Batches b = SharedMnist.images(g, 5000, 5000).iterator()) {
            while (b.hasNext()) {
                Map<String, Tensor> batch = b.next();
                float[] a = tf.run(batch).values().iterator().next().asFloats();
                Tensor ot = onnx.run(batch).values().iterator().next();
                float[] o = ot.asFloats();
                assertEquals(a.length, o.length, what);
                int classes = (int) ot.shape().dim(ot.shape().rank() - 1);
                for (int i = 0; i < a.length; i++) {
                    maxDiff = Math.max(maxDiff, Math.abs(a[i] - o[i]) / Math.max(1, Math.abs(a[i])));
                }
                for (int s = 0; s < a.length / classes; s++) {
                    okTf += argmax(a, s * classes, classes) == labels[(int) seen] ? 1 : 0;
                    okOnnx += argmax(o, s * classes, classes) == labels[(int) seen] ? 1 : 0;
                    seen++;
                }
            }
        }
        System.out.printf(Locale.ROOT, "%s: TF top-1 %.2f%%, ONNX top-1 %.2f%%, max relative difference %.2e%n", what,
                100.0 * okTf / seen, 100.0 * okOnnx / seen, maxDiff);
        assertEquals(5000, seen, what);
        assertTrue(maxDiff < 1e-4, what + ": TF and ONNX Runtime differ by " + maxDiff);
        assertTrue(Math.abs(okTf - okOnnx) <= 2, what + ": TF " + okTf + " vs ONNX " + okOnnx + " correct");
        return new double[] {(double) okTf / seen, (double) okOnnx / seen};
    }

    private static int argmax(float[] v, int from, int n) {
        int best = 0;
        for (int i = 1; i < n; i++) {
            if (v[from + i] > v[from + best]) {
                best = i;
            }
        }
        return best;
    }

    @AfterAll
    static void printTable() {
        if (ROWS.isEmpty()) {
            return;
        }
        System.out.println("| model | FP32 top-1 (TF) | 50% unstructured top-1 (drop) "
                + "| 2:4 dense layers top-1 (drop) |");
        System.out.println("|---|---|---|---|");
        ROWS.forEach(System.out::println);
    }
}
