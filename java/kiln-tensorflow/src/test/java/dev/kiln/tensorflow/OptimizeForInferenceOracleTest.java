package dev.kiln.tensorflow;

import dev.kiln.KilnException;
import dev.kiln.eval.RandomInputs;
import dev.kiln.eval.TensorComparison;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Tensor;
import dev.kiln.passes.FoldBatchNorm;
import dev.kiln.passes.PassResult;
import dev.kiln.passes.Passes;
import dev.kiln.passes.PruneToOutputs;
import dev.kiln.passes.StripTrainingOps;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * TensorFlow as the oracle for optimize_for_inference: import → {@link Passes#optimizeForInference()} → export as a
 * SavedModel → run the original and the optimized model through TF Java on the same random inputs. Max relative
 * error ≤ 1e-5, ≤ 1e-4 where batch norm was folded; two seeds, batch 2 (1 where only that runs). Covers every runnable model in ../shared/models and the TF-Java-
 * built {@link ExampleModels}. A table of node counts before/after goes to stdout and
 * {@code target/optimize-for-inference.md}.
 */
class OptimizeForInferenceOracleTest {
    private static final Set<String> BN_OPS = Set.of("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3",
            "BatchNormWithGlobalNormalization");
    /** Shared models that run: "model [signature]" (no signature: the default; a path: a frozen graph). */
    private static final List<String> SHARED = List.of(
            "frozen_tf2onnx_fc_layers/frozen.pb",
            "kotlindl_mnist1_saved_model",
            "mlnet_mnist_conv_model",
            "mlnet_mnist_lr_model",
            "mlnet_model_matmul",
            "mlnet_model_matmul/frozen_saved_model.pb",
            "mlperf_tiny_kws_dscnn",
            "tf2onnx_regression_saved_model",
            "tf2onnx_saved_model_with_redundant_inputs",
            "tfjava_saved_model_using_python [add]",
            "tfjava_saved_model_using_python [get_const_matrix]",
            "tfjava_saved_model_using_python [get_variable]",
            "tfnet_keras_lstm_from_sequential",
            "tfnet_keras_python_func_model",
            "tfnet_keras_simple_model_from_auto_compile",
            "tfrust_keras_single_input_saved_model",
            "tfrust_regression_model [tensorflow/serving/regress]",
            "tfserving_half_plus_three [serving_default]",
            "tfserving_half_plus_two_cpu",
            "tfserving_half_plus_two_cpu [regress_x2_to_y3]",
            "tfserving_half_plus_two_mkl",
            "tfserving_half_plus_two_mkl [regress_x2_to_y3]",
            "tfserving_half_plus_two_tf2_cpu",
            "tfserving_half_plus_two_tf2_cpu [regress_x2_to_y3]");
    /** Models that must lose all their batch norms. */
    private static final Set<String> HAS_BN = Set.of("mlperf_tiny_kws_dscnn", "exampleCnn", "convBnReluPoolDense",
            "kerasStyleBatchNorm");

    private static final List<String> TABLE = new ArrayList<>();

    @TempDir
    static Path tmp;

    static Path sharedModels() {
        String root = System.getProperty("kiln.repo.root");
        return root == null ? null : Path.of(root).resolve("../shared/models").normalize();
    }

    static Stream<String> sharedModelNames() {
        return SHARED.stream();
    }

    static Stream<String> exampleModelNames() {
        return ExampleModels.all().keySet().stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("sharedModelNames")
    void sharedModelKeepsItsOutputs(String name) throws IOException {
        Path models = sharedModels();
        Assumptions.assumeTrue(models != null && Files.isDirectory(models),
                "../shared/models is absent (kiln.repo.root=" + System.getProperty("kiln.repo.root")
                        + "): skipping the shared-model oracle test");
        String path = name.contains(" [") ? name.substring(0, name.indexOf(" [")) : name;
        String sig = name.contains(" [") ? name.substring(name.indexOf(" [") + 2, name.length() - 1) : null;
        Path model = models.resolve(path);
        ImportOptions opts = sig == null ? ImportOptions.defaults() : ImportOptions.builder().signature(sig).build();
        check(name, model, opts);
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("exampleModelNames")
    void exampleModelKeepsItsOutputs(String name) throws IOException {
        Path dir = ExampleModels.all().get(name).apply(tmp.resolve("examples").resolve(name));
        check(name, dir, ImportOptions.defaults());
    }

    @Test
    void batchNormPatternsOfTheGraphOnlyLeNetAreRecognised() {
        Path models = sharedModels();
        Assumptions.assumeTrue(models != null && Files.isDirectory(models), "../shared/models is absent");
        Path dir = models.resolve("PARTIAL_kotlindl_lenet_batchnorm_graph_only");
        Graph g = TfImporter.load(dir, ImportOptions.builder().loadWeights(false).build());
        new PruneToOutputs().apply(g);
        new StripTrainingOps().apply(g);
        List<FoldBatchNorm.Match> matches = FoldBatchNorm.findPatterns(g);
        int bn = g.opHistogram().entrySet().stream().filter(e -> BN_OPS.contains(e.getKey()))
                .mapToInt(Map.Entry::getValue).sum();
        System.out.println("PARTIAL_kotlindl_lenet_batchnorm_graph_only: " + g.opHistogram());
        matches.forEach(m -> System.out.println("  " + m));
        assertTrue(bn > 0, "the imported graph has batch norms: " + g.opHistogram());
        assertEquals(bn, matches.stream().filter(m -> BN_OPS.contains(m.bnOp())).count(),
                "every batch norm is matched: " + matches);
        // the Keras arithmetic form (Mul/Rsqrt/Sub/AddV2) of the dense layers' batch norms, one per Rsqrt
        long arithmetic = matches.stream().filter(m -> m.mul() != null).count();
        assertEquals(g.opHistogram().getOrDefault("Rsqrt", 0).longValue(), arithmetic,
                "every arithmetic batch norm is matched: " + matches);
        assertTrue(matches.stream().noneMatch(FoldBatchNorm.Match::foldable), "no weights, nothing foldable");
        for (FoldBatchNorm.Match m : matches) {
            assertTrue(Set.of("Conv2D", "MatMul", "DepthwiseConv2dNative").contains(m.producerOp()));
        }
    }

    private void check(String name, Path model, ImportOptions opts) throws IOException {
        Graph g = TfImporter.load(model, opts);
        Map<String, Integer> before = g.opHistogram();
        int nodesBefore = g.size();
        Graph opt = g.copy();
        List<PassResult> results = Passes.optimizeForInference().run(opt);
        System.out.println("== " + name + ": " + nodesBefore + " -> " + opt.size() + " nodes");
        for (PassResult r : results) {
            System.out.println("   " + r);
            r.notes().stream().limit(8).forEach(n -> System.out.println("      " + n));
        }
        System.out.println("   ops after: " + opt.opHistogram());
        Path out = tmp.resolve("optimized").resolve(name.replaceAll("[^A-Za-z0-9_.-]", "_"));
        TfExporter.writeSavedModel(opt, out);

        int bnBefore = count(before, BN_OPS);
        boolean bnFolded = bnBefore > 0 || results.stream().anyMatch(r -> r.pass().equals("fold-batch-norm")
                && r.folded() > 0);
        double tol = bnFolded ? 1e-4 : 1e-5;
        double worst = 0;
        try (TfRunner a = TfRunner.open(model, opts);
             TfRunner b = TfRunner.open(out, ImportOptions.defaults().toBuilder()
                     .signature(opt.metadata().getOrDefault("signature", "serving_default")).build())) {
            // batch 2, or 1 where the model's shapes only allow that (e.g. a fixed [1,10,10,1] operand)
            int batch = 2;
            try {
                a.run(RandomInputs.forSignature(a.inputs(), 1, batch));
            } catch (KilnException e) {
                System.out.println("   batch 2 does not run on the original (" + e.getMessage() + "): batch 1");
                batch = 1;
            }
            for (long seed = 1; seed <= 2; seed++) {
                Map<String, Tensor> feeds = RandomInputs.forSignature(a.inputs(), seed, batch);
                Map<String, Tensor> ea = a.run(feeds);
                Map<String, Tensor> eb = b.run(feeds);
                assertEquals(ea.keySet(), eb.keySet(), name + ": outputs");
                for (String k : ea.keySet()) {
                    TensorComparison c = TensorComparison.compare(ea.get(k), eb.get(k));
                    worst = Math.max(worst, c.maxRelError());
                    assertTrue(c.within(tol), name + " output " + k + ": " + c.message() + " (tolerance " + tol + ")");
                }
            }
        }
        TABLE.add(String.format("| %s | %d | %d | %d | %d | %.2g |", name, nodesBefore, opt.size(), bnBefore,
                count(opt.opHistogram(), BN_OPS), worst));
        if (HAS_BN.contains(name)) {
            assertTrue(bnBefore > 0 || before.containsKey("Rsqrt"), name + " should have batch norm: " + before);
            assertFalse(opt.opHistogram().keySet().stream().anyMatch(BN_OPS::contains),
                    name + ": batch norm left after optimization: " + opt.opHistogram());
            assertFalse(opt.opHistogram().containsKey("Rsqrt"), name + ": " + opt.opHistogram());
        }
    }

    private static int count(Map<String, Integer> hist, Set<String> ops) {
        return hist.entrySet().stream().filter(e -> ops.contains(e.getKey())).mapToInt(Map.Entry::getValue).sum();
    }

    @AfterAll
    static void writeTable() throws IOException {
        if (TABLE.isEmpty()) {
            return;
        }
        List<String> lines = new ArrayList<>();
        lines.add("| model | nodes before | nodes after | BN before | BN after | max rel error |");
        lines.add("|---|---|---|---|---|---|");
        TABLE.stream().sorted().forEach(lines::add);
        lines.forEach(System.out::println);
        Path target = Path.of("target");
        Files.createDirectories(target);
        Path f = target.resolve("optimize-for-inference.md");
        List<String> all = new ArrayList<>();
        if (Files.exists(f)) {
            all.addAll(Files.readAllLines(f));
        }
        all.add("");
        all.addAll(lines);
        Files.write(f, all);
    }
}
