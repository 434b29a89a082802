package dev.kiln.tensorflow;

import dev.kiln.ErrorCode;
import dev.kiln.KilnException;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Shared models (or signatures) that cannot run as inference graphs: each gives its documented, clear error. */
class NotRunnableModelsTest {

    static KilnException importFails(Path model, ImportOptions o, ErrorCode code, String... fragments) {
        KilnException e = assertThrows(KilnException.class, () -> TfImporter.load(model, o));
        assertEquals(code, e.code(), e.getMessage());
        for (String f : fragments) {
            assertTrue(e.getMessage().contains(f), "message lacks '" + f + "': " + e.getMessage());
        }
        assertFalse(e.getMessage().contains("\tat "), "stack trace in message: " + e.getMessage());
        return e;
    }

    @ParameterizedTest
    @ValueSource(strings = {"get_counter", "incr_counter", "incr_counter_by", "reset_counter"})
    void counterSignaturesAreStatefulAndRefused(String sig) {
        Path m = RoundTrip.sharedModels().resolve("tfserving_counter");
        importFails(m, ImportOptions.builder().signature(sig).build(), ErrorCode.UNSUPPORTED, sig,
                "variable reference", "stateful");
    }

    @ParameterizedTest
    @CsvSource({
        "tfserving_half_plus_two_cpu, classify_x_to_y, tf_example:0",
        "tfserving_half_plus_two_cpu, regress_x_to_y, tf_example:0",
        "tfserving_half_plus_two_mkl, regress_x_to_y2, tf_example:0",
        "tfserving_half_plus_two_tf2_cpu, classify_x_to_y, classify_x_to_y_inputs:0",
        "tfserving_half_plus_two_tf2_cpu, regress_x_to_y, regress_x_to_y_inputs:0",
    })
    void stringInputSignaturesAreRefusedClearly(String model, String sig, String tensor) {
        Path m = RoundTrip.sharedModels().resolve(model);
        importFails(m, ImportOptions.builder().signature(sig).build(), ErrorCode.UNSUPPORTED, sig, tensor,
                "string-typed", "ParseExample");
    }

    @Test
    void halfPlusThreeRegressSignatureDeclaresFloatForAStringTensor() {
        // its TensorInfo says float, the tensor tf_example:0 is a string: import follows the graph and refuses
        // the string input feeding ParseExample
        Path m = RoundTrip.sharedModels().resolve("tfserving_half_plus_three");
        importFails(m, ImportOptions.builder().signature("tensorflow/serving/regress").build(), ErrorCode.UNSUPPORTED,
                "tf_example:0", "string-typed in the graph although the signature declares float");
    }

    @Test
    void modelsWithoutServingDefaultListTheirSignatures() {
        Path m = RoundTrip.sharedModels().resolve("tfjava_saved_model_using_python");
        importFails(m, ImportOptions.defaults(), ErrorCode.INVALID_MODEL, "serving_default", "add",
                "get_const_scalar", "get_variable");
    }

    @Test
    void aModelWhoseOnlySignatureIsNotServingDefaultImportsThroughIt(@org.junit.jupiter.api.io.TempDir Path tmp) {
        Path r = RoundTrip.sharedModels().resolve("tfrust_regression_model");
        Graph g = TfImporter.load(r);
        assertEquals("tensorflow/serving/regress", g.metadata().get("signature"));
        assertTrue(g.metadata().get("signature_note").contains("only callable signature"));
        RoundTrip.check("tfrust_regression_model", r, ImportOptions.defaults(), tmp);
    }

    @Test
    void partialModelImportsWithoutWeightsAndShowsItsBatchNorms() {
        Path m = RoundTrip.sharedModels().resolve("PARTIAL_kotlindl_lenet_batchnorm_graph_only");
        Graph g = TfImporter.load(m, ImportOptions.builder().loadWeights(false).build());
        List<Node> bns = g.nodes().stream().filter(n -> n.op().equals("FusedBatchNormV3")).toList();
        assertFalse(bns.isEmpty(), g.opHistogram().toString());
        for (Node bn : bns) {
            assertFalse(bn.attrBool("is_training", true), bn.name() + " is in training mode");
            assertTrue(bn.attrFloat("epsilon") > 0);
            assertEquals("[?,28,28,1]", g.inputs().get(0).type().shape().toString());
        }
        assertTrue(g.opHistogram().containsKey("Conv2D") && g.opHistogram().containsKey("MatMul"));
        assertTrue(g.opHistogram().containsKey("VarHandleOp"), "variables stay as variables without weights");
        assertFalse(g.opHistogram().containsKey("StatefulPartitionedCall"));
        System.out.println("PARTIAL graph-only: " + g.size() + " nodes, " + bns.size() + " FusedBatchNormV3, ops "
                + g.opHistogram());
    }

    @Test
    void partialModelFailsToLoadWeightsNamingTheMissingFile() {
        Path m = RoundTrip.sharedModels().resolve("PARTIAL_kotlindl_lenet_batchnorm_graph_only");
        importFails(m, ImportOptions.defaults(), ErrorCode.INVALID_MODEL, "missing variables data",
                "variables.data-00000-of-00001");
        KilnException e = assertThrows(KilnException.class, () -> TfRunner.open(m, ImportOptions.defaults()));
        assertTrue(e.getMessage().contains("variables.data-00000-of-00001"), e.getMessage());
    }

    @Test
    void describeListsTagsSignaturesAndTypes() {
        ModelDescription d = TfImporter.describe(RoundTrip.sharedModels().resolve("tfserving_half_plus_two_cpu"));
        assertEquals("saved_model", d.format());
        assertEquals(1, d.metaGraphs().size());
        ModelDescription.MetaGraph mg = d.metaGraphs().get(0);
        assertEquals(java.util.Set.of("serve"), mg.tags());
        assertEquals(List.of("classify_x_to_y", "regress_x2_to_y3", "regress_x_to_y", "regress_x_to_y2",
                "serving_default"), mg.signatures().stream().map(ModelDescription.SignatureInfo::key).toList());
        ModelDescription.SignatureInfo s = mg.signatures().get(4);
        assertEquals("x", s.inputs().get(0).name());
        assertEquals("float[?,1]", s.inputs().get(0).type().toString());
        ModelDescription.SignatureInfo c = mg.signatures().get(0);
        assertEquals("string<unknown>", c.inputs().get(0).type().toString());
        ModelDescription f = TfImporter.describe(RoundTrip.sharedModels().resolve("frozen_tf2onnx_fc_layers/frozen.pb"));
        assertEquals("frozen_graph", f.format());
        assertEquals("X", f.metaGraphs().get(0).signatures().get(0).inputs().get(0).name());
    }
}
