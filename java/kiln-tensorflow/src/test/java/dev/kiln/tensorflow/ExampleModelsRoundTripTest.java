package dev.kiln.tensorflow;

import dev.kiln.graph.Graph;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every ExampleModels model: written with variables, imported (frozen), exported, and checked against TensorFlow. */
class ExampleModelsRoundTripTest {
    @TempDir
    Path tmp;

    static Stream<String> models() {
        return ExampleModels.all().keySet().stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("models")
    void roundTripMatchesTensorFlow(String name) {
        Path dir = ExampleModels.all().get(name).apply(tmp.resolve(name));
        RoundTrip.check("ExampleModels." + name, dir, ImportOptions.defaults(), tmp);
    }

    @Test
    void exampleCnnHasTheAdvertisedOpsAndFreezesItsVariables() {
        Path dir = ExampleModels.exampleCnn(tmp.resolve("cnn"));
        Graph graphOnly = TfImporter.load(dir, ImportOptions.builder().loadWeights(false).build());
        assertTrue(graphOnly.opHistogram().getOrDefault("VariableV2", 0) > 10, graphOnly.opHistogram().toString());
        Graph g = TfImporter.load(dir);
        Map<String, Integer> h = g.opHistogram();
        assertEquals(3, h.get("FusedBatchNormV3"), h.toString());
        assertEquals(1, h.get("DepthwiseConv2dNative"));
        for (String op : new String[] {"Conv2D", "BiasAdd", "Relu", "Relu6", "MaxPool", "AvgPool", "Mean", "MatMul",
                "Softmax", "Identity", "StopGradient", "CheckNumerics", "NoOp"}) {
            assertTrue(h.containsKey(op), op + " missing from " + h);
        }
        assertEquals(0, h.getOrDefault("VariableV2", 0));
        assertEquals("input", g.inputs().get(0).name());
        assertEquals("[?,32,32,3]", g.inputs().get(0).type().shape().toString());
        assertEquals("[?,10]", g.outputs().get(0).type().shape().toString());
        // every node has its output types
        g.nodes().stream().filter(n -> !n.op().equals("NoOp"))
                .forEach(n -> assertTrue(!n.outputTypes().isEmpty(), n.name() + " has no output types"));
    }

    @Test
    void exportedSavedModelLoadsInTensorFlowsOwnLoader() {
        Graph g = TfImporter.load(ExampleModels.exampleCnn(tmp.resolve("cnn2")));
        Path out = tmp.resolve("exported");
        TfExporter.writeSavedModel(g, out);
        Map<String, dev.kiln.graph.Tensor> in = dev.kiln.eval.RandomInputs.forSignature(g.inputs(), 5, 2);
        Map<String, dev.kiln.graph.Tensor> expected;
        try (TfRunner r = TfRunner.of(g)) {
            expected = r.run(in);
        }
        try (org.tensorflow.SavedModelBundle b = org.tensorflow.SavedModelBundle.load(out.toString(), "serve");
             org.tensorflow.Tensor x = TfTensors.toTf(in.get("input"));
             org.tensorflow.Result res = b.function("serving_default").call(Map.of("input", x))) {
            org.tensorflow.Signature sig = b.function("serving_default").signature();
            assertEquals(java.util.Set.of("input"), sig.inputNames());
            assertEquals(java.util.Set.of("probabilities"), sig.outputNames());
            dev.kiln.graph.Tensor y = TfTensors.fromTf(res.get("probabilities").orElseThrow());
            assertTrue(dev.kiln.eval.TensorComparison.compare(expected.get("probabilities"), y).within(0));
        }
    }

    @Test
    void kerasStyleBatchNormKeepsItsMulAddRsqrtPattern() {
        Graph g = TfImporter.load(ExampleModels.kerasStyleBatchNorm(tmp.resolve("kbn")));
        Map<String, Integer> h = g.opHistogram();
        assertEquals(1, h.get("Rsqrt"));
        assertEquals(3, h.get("Mul"));
        assertEquals(1, h.get("Sub"));
    }
}
