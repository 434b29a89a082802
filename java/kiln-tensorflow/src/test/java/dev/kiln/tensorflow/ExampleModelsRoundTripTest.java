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
    void kerasStyleBatchNormKeepsItsMulAddRsqrtPattern() {
        Graph g = TfImporter.load(ExampleModels.kerasStyleBatchNorm(tmp.resolve("kbn")));
        Map<String, Integer> h = g.opHistogram();
        assertEquals(1, h.get("Rsqrt"));
        assertEquals(3, h.get("Mul"));
        assertEquals(1, h.get("Sub"));
    }
}
