package dev.kiln.tensorflow;

import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.tensorflow.shapes.TfShapeInference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Kiln's own shape inference against TensorFlow's: each model imported twice, typed by Kiln and with
 * {@code -Dkiln.shapes=tensorflow}, must give every node the same output dtypes and shapes; the common models must be
 * typed by Kiln (so their import does not load TensorFlow), the others fall back to TensorFlow with a reason.
 */
class TfShapeInferenceTest {
    @TempDir
    static Path tmp;

    private static final Map<String, Function<Path, Path>> EXAMPLES = Map.of(
            "exampleCnn", ExampleModels::exampleCnn,
            "largeModel", dir -> ExampleModels.largeModel(dir, 1 << 20),
            "convBnReluPoolDense", ExampleModels::convBnReluPoolDense,
            "depthwiseConv", ExampleModels::depthwiseConv,
            "residualAdd", ExampleModels::residualAdd,
            "concat", ExampleModels::concat,
            "twoInputs", ExampleModels::twoInputs,
            "twoOutputs", ExampleModels::twoOutputs,
            "kerasStyleBatchNorm", ExampleModels::kerasStyleBatchNorm);

    @ParameterizedTest(name = "{0}")
    @CsvSource({"exampleCnn", "largeModel", "convBnReluPoolDense", "depthwiseConv", "residualAdd", "concat",
        "twoInputs", "twoOutputs", "kerasStyleBatchNorm"})
    void exampleModelsAreTypedByKilnAsTensorFlowTypesThem(String name) {
        Path model = EXAMPLES.get(name).apply(tmp.resolve(name));
        assertEquals(TfImporter.SHAPES_BY_KILN, agreeWithTensorFlow(name, () -> TfImporter.load(model)));
    }

    @ParameterizedTest(name = "{0} [{1}]")
    @CsvSource({
        // typed by Kiln: Keras and TF1 CNNs and MLPs
        "mlnet_mnist_conv_model, serving_default, true",
        "mlnet_mnist_lr_model, serving_default, true",
        "tfnet_keras_python_func_model, serving_default, true",
        "tfnet_keras_simple_model_from_auto_compile, serving_default, true",
        "tfrust_keras_single_input_saved_model, serving_default, true",
        "kotlindl_mnist1_saved_model, serving_default, true",
        "mlperf_tiny_kws_dscnn, serving_default, true",
        "frozen_tf2onnx_fc_layers/frozen.pb, serving_default, true",
        "tfserving_half_plus_two_cpu, serving_default, true",
        "tfserving_half_plus_two_mkl, regress_x2_to_y3, true",
        "tf2onnx_saved_model_with_redundant_inputs, serving_default, true",
        "mlnet_model_matmul, serving_default, true",
        "tf2onnx_regression_saved_model, serving_default, true",
        "tfnet_keras_lstm_from_sequential, serving_default, true",
        "tfserving_half_plus_two_tf2_cpu, serving_default, true",
        "tfserving_half_plus_three, serving_default, true",
        "tfjava_saved_model_using_python, add, true",
    })
    void sharedModelsAgreeWithTensorFlow(String model, String signature, boolean byKiln) {
        Path m = RoundTrip.sharedModels().resolve(model);
        ImportOptions opts = ImportOptions.builder().signature(signature).build();
        String by = agreeWithTensorFlow(model, () -> TfImporter.load(m, opts));
        if (byKiln) {
            assertEquals(TfImporter.SHAPES_BY_KILN, by, model);
        } else {
            assertTrue(by.startsWith("tensorflow ("), model + ": " + by);
        }
    }

    /** A loop kept as While (its body is a function): typed by TensorFlow, which says why, with the same result. */
    @Test
    void aGraphThatCallsFunctionsIsTypedByTensorFlow() throws IOException {
        Path pb = WhileLoopGraphs.rnn(tmp.resolve("kept-loop.pb"), -1);
        String by = agreeWithTensorFlow("kept loop", () -> TfImporter.load(pb));
        assertEquals("tensorflow (the graph calls functions)", by);
    }

    /**
     * Imports with Kiln's inference and with TensorFlow's, asserts every node's output types are the same, and returns
     * whose inference typed the first import.
     */
    static String agreeWithTensorFlow(String what, Supplier<Graph> load) {
        Graph kiln = load.get();
        Graph tf = withTensorFlowShapes(load);
        assertTrue(tf.metadata().get(TfImporter.SHAPES_METADATA).startsWith("tensorflow"));
        List<String> differ = new ArrayList<>();
        for (Node n : tf.nodes()) {
            assertTrue(kiln.contains(n.name()), what + ": node " + n.name() + " missing from Kiln's import");
            if (!n.outputTypes().equals(kiln.node(n.name()).outputTypes())) {
                differ.add(n.name() + " (" + n.op() + "): TensorFlow " + n.outputTypes() + ", Kiln "
                        + kiln.node(n.name()).outputTypes());
            }
        }
        assertEquals(tf.size(), kiln.size(), what);
        assertEquals(List.of(), differ, what + ": output types that differ from TensorFlow's");
        assertEquals(tf.inputs(), kiln.inputs(), what);
        assertEquals(tf.outputs(), kiln.outputs(), what);
        return kiln.metadata().get(TfImporter.SHAPES_METADATA);
    }

    static <T> T withTensorFlowShapes(Supplier<T> body) {
        String before = System.getProperty(TfShapeInference.PROPERTY);
        System.setProperty(TfShapeInference.PROPERTY, "tensorflow");
        try {
            return body.get();
        } finally {
            if (before == null) {
                System.clearProperty(TfShapeInference.PROPERTY);
            } else {
                System.setProperty(TfShapeInference.PROPERTY, before);
            }
        }
    }

    @Test
    void bundledOpRegistryIsTheLoadedTensorFlowsRegistry() {
        assertEquals(TfOpSupport.liveRegistry(), TfOpSupport.bundledRegistry(), "the bundled op registry is not the "
                + "one of the TensorFlow library TF Java loads: regenerate it with java -cp ... "
                + "dev.kiln.tensorflow.TfOpSupport java/kiln-tensorflow/src/main/resources/dev/kiln/tensorflow");
    }

    /** The import of a common model in a fresh JVM: TensorFlow's native library is never loaded. */
    @Test
    void importingACommonModelDoesNotLoadTensorFlow() throws IOException, InterruptedException {
        assertImportsWithoutTensorFlow(ExampleModels.exampleCnn(tmp.resolve("fresh-jvm-cnn")));
    }

    /**
     * The shared Keras LSTM too: its loop is unrolled with trip counts read from shapes Kiln infers, and the flat
     * graph is typed by Kiln.
     */
    @Test
    void importingTheKerasLstmDoesNotLoadTensorFlow() throws IOException, InterruptedException {
        assertImportsWithoutTensorFlow(RoundTrip.sharedModels().resolve("tfnet_keras_lstm_from_sequential"));
    }

    private static void assertImportsWithoutTensorFlow(Path model) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
                System.getProperty("java.class.path"), ImportInFreshJvm.class.getName(), model.toString())
                .redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes());
        assertEquals(0, p.waitFor(), out);
        assertTrue(out.contains("shape_inference=kiln"), out);
        assertTrue(out.contains("tensorflow_loaded=false"), out);
    }

    /** The child of {@link #assertImportsWithoutTensorFlow}. */
    static final class ImportInFreshJvm {
        public static void main(String[] args) throws IOException {
            Graph g = TfImporter.load(Path.of(args[0]));
            boolean loaded = Files.readString(Path.of("/proc/self/maps")).contains("libtensorflow");
            System.out.println("shape_inference=" + g.metadata().get(TfImporter.SHAPES_METADATA));
            System.out.println("tensorflow_loaded=" + loaded);
            assertFalse(g.nodes().isEmpty());
        }
    }
}
