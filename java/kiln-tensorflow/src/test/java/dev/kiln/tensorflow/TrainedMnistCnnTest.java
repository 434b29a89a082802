package dev.kiln.tensorflow;

import dev.kiln.graph.Graph;
import dev.kiln.graph.Tensor;
import dev.kiln.passes.Passes;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** ExampleModels.trainedMnistCnn: accurate on held-out digits, deterministic, cached, and Kiln folds its BN. */
class TrainedMnistCnnTest {
    @TempDir
    static Path tmp;
    static Path model;

    @BeforeAll
    static void build() {
        long t0 = System.nanoTime();
        model = ExampleModels.trainedMnistCnn(tmp.resolve("mnist_cnn"), s -> System.out.println("trainedMnistCnn: " + s));
        System.out.printf("trainedMnistCnn: built in %.1f s%n", (System.nanoTime() - t0) / 1e9);
    }

    @Test
    void reachesAtLeast95PercentTop1OnHeldOutImages() {
        float[] probs = probabilities(model, ExampleData.EVALUATION);
        double acc = top1(probs, ExampleData.labels(ExampleData.EVALUATION));
        System.out.printf("trainedMnistCnn: top-1 on images 5000-5999 (held out) %.1f%%%n", 100 * acc);
        assertTrue(acc >= 0.95, "top-1 " + acc);
    }

    @Test
    void twoBuildsGiveBitIdenticalOutputs() {
        Path again = ExampleModels.trainedMnistCnn(tmp.resolve("mnist_cnn_again"));
        assertArrayEquals(bits(probabilities(model, ExampleData.EVALUATION)),
                bits(probabilities(again, ExampleData.EVALUATION)));
        assertArrayEquals(bits(probabilities(model, ExampleData.CALIBRATION)),
                bits(probabilities(again, ExampleData.CALIBRATION)));
    }

    @Test
    void anExistingModelIsReused() throws IOException {
        FileTime before = Files.getLastModifiedTime(model.resolve("saved_model.pb"));
        long t0 = System.nanoTime();
        assertEquals(model, ExampleModels.trainedMnistCnn(model));
        assertTrue((System.nanoTime() - t0) / 1e9 < 1, "no retraining");
        assertEquals(before, Files.getLastModifiedTime(model.resolve("saved_model.pb")));
    }

    @Test
    void servingGraphHasNoTrainingOps() {
        Graph g = TfImporter.load(model, ImportOptions.builder().loadWeights(false).build());
        Map<String, Integer> h = g.opHistogram();
        for (String op : Set.of("ApplyAdam", "SoftmaxCrossEntropyWithLogits", "Conv2DBackpropFilter",
                "FusedBatchNormGradV3")) {
            assertEquals(0, h.getOrDefault(op, 0), op + " in " + h);
        }
        assertEquals(1, h.get("Placeholder"), h.toString());
        assertTrue(h.get("VariableV2") >= 12, "weights are variables: " + h);
    }

    @Test
    void kilnFoldsTheBatchNormAndKeepsTheOutputs() {
        Graph g = TfImporter.load(model);
        assertEquals(1, g.opHistogram().get("FusedBatchNormV3"), g.opHistogram().toString());
        Passes.optimizeForInference().run(g);
        Map<String, Integer> h = g.opHistogram();
        assertTrue(h.keySet().stream().noneMatch(op -> op.startsWith("FusedBatchNorm")), h.toString());
        float[] want = probabilities(model, ExampleData.EVALUATION);
        float[] got;
        try (TfRunner tf = TfRunner.of(g)) {
            got = tf.run(Map.of("image", ExampleData.images(ExampleData.EVALUATION))).get("probabilities").floats();
        }
        double worst = 0;
        for (int i = 0; i < want.length; i++) {
            worst = Math.max(worst, Math.abs(want[i] - got[i]));
        }
        System.out.println("trainedMnistCnn: after optimize_for_inference " + h + ", max |diff| " + worst);
        assertTrue(worst < 1e-4, "max abs difference " + worst);
    }

    @Test
    void roundTripMatchesTensorFlow() {
        RoundTrip.check("ExampleModels.trainedMnistCnn", model, ImportOptions.defaults(), tmp);
    }

    static float[] probabilities(Path dir, ExampleData.Range range) {
        try (TfRunner tf = TfRunner.open(dir, ImportOptions.defaults())) {
            Tensor p = tf.run(Map.of("image", ExampleData.images(range))).get("probabilities");
            assertArrayEquals(new long[] {range.count(), 10}, p.shape().dims());
            return p.floats();
        }
    }

    static double top1(float[] probs, int[] labels) {
        int right = 0;
        for (int i = 0; i < labels.length; i++) {
            int best = 0;
            for (int k = 1; k < 10; k++) {
                if (probs[i * 10 + k] > probs[i * 10 + best]) {
                    best = k;
                }
            }
            right += best == labels[i] ? 1 : 0;
        }
        return (double) right / labels.length;
    }

    private static int[] bits(float[] v) {
        int[] b = new int[v.length];
        for (int i = 0; i < v.length; i++) {
            b[i] = Float.floatToRawIntBits(v[i]);
        }
        return b;
    }
}
