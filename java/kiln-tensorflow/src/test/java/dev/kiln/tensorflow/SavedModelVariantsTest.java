package dev.kiln.tensorflow;

import dev.kiln.KilnException;
import dev.kiln.eval.RandomInputs;
import dev.kiln.eval.TensorComparison;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Tensor;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.SavedModel;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.proto.TensorInfo;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * SavedModels as other tools write them, made by rewriting the saved_model.pb of a model built with TF Java (weights
 * untouched): pinned to a GPU, without serving_default, with one tensor under several output names.
 */
class SavedModelVariantsTest {
    @TempDir
    static Path shared;
    static Path base;

    @TempDir
    Path tmp;

    @BeforeAll
    static void writeBase() {
        base = ExampleModels.twoOutputs(shared.resolve("two_outputs"));
    }

    /** A copy of the base model (variables included) whose meta graph {@code edit} rewrote. */
    private Path variant(String name, UnaryOperator<MetaGraphDef> edit) throws IOException {
        Path dst = tmp.resolve(name);
        KerasLstmModels.copy(base, dst);
        SavedModel sm = SavedModel.parseFrom(Files.readAllBytes(base.resolve("saved_model.pb")));
        SavedModel edited = sm.toBuilder().setMetaGraphs(0, edit.apply(sm.getMetaGraphs(0))).build();
        try (OutputStream out = Files.newOutputStream(dst.resolve("saved_model.pb"))) {
            edited.writeTo(out);
        }
        return dst;
    }

    private static MetaGraphDef pinnedTo(MetaGraphDef mg, String device) {
        MetaGraphDef.Builder b = mg.toBuilder();
        for (NodeDef.Builder n : b.getGraphDefBuilder().getNodeBuilderList()) {
            n.setDevice(device);
        }
        return b.build();
    }

    private static MetaGraphDef renamed(MetaGraphDef mg, Map<String, String> keys) {
        MetaGraphDef.Builder b = mg.toBuilder().clearSignatureDef();
        mg.getSignatureDefMap().forEach((k, v) -> b.putSignatureDef(keys.getOrDefault(k, k), v));
        return b.build();
    }

    private static Map<String, Tensor> reference(Map<String, Tensor> in) {
        try (TfRunner r = TfRunner.open(base, ImportOptions.defaults())) {
            return r.run(in);
        }
    }

    @Test
    void devicePinsToAGpuAreClearedOnImport() throws IOException {
        Path pinned = variant("pinned", mg -> pinnedTo(mg, "/device:GPU:0"));
        Graph g = TfImporter.load(pinned);
        assertTrue(g.nodes().stream().allMatch(n -> n.device().isEmpty()), "device pins left in the IR");
        Map<String, Tensor> in = RandomInputs.forSignature(g.inputs(), 3, 4);
        Map<String, Tensor> expected = reference(in);
        try (TfRunner original = TfRunner.open(pinned, ImportOptions.defaults()); TfRunner imported = TfRunner.of(g)) {
            Map<String, Tensor> a = original.run(in);
            Map<String, Tensor> b = imported.run(in);
            for (String k : expected.keySet()) {
                assertTrue(TensorComparison.compare(expected.get(k), a.get(k)).within(0), k);
                assertTrue(TensorComparison.compare(expected.get(k), b.get(k)).within(1e-6), k);
            }
        }
        Path out = tmp.resolve("exported");
        TfExporter.writeSavedModel(g, out);
        SavedModel written = SavedModel.parseFrom(Files.readAllBytes(out.resolve("saved_model.pb")));
        assertTrue(written.getMetaGraphs(0).getGraphDef().getNodeList().stream().allMatch(n -> n.getDevice()
                .isEmpty()), "the exported SavedModel keeps device pins");
    }

    @Test
    void theOnlyCallableSignatureIsUsedWhenThereIsNoServingDefault() throws IOException {
        Path m = variant("inference_only", mg -> renamed(mg, Map.of("serving_default", "inference")));
        Graph g = TfImporter.load(m);
        assertEquals("inference", g.metadata().get("signature"));
        assertTrue(g.metadata().get("signature_note").contains("'inference'"), g.metadata().toString());
        Map<String, Tensor> in = RandomInputs.forSignature(g.inputs(), 5, 2);
        Map<String, Tensor> expected = reference(in);
        try (TfRunner r = TfRunner.open(m, ImportOptions.defaults())) {
            Map<String, Tensor> got = r.run(in);
            expected.forEach((k, v) -> assertTrue(TensorComparison.compare(v, got.get(k)).within(0), k));
        }
        // Kiln's SavedModel keeps the key, and reads back by it
        Path out = tmp.resolve("exported");
        TfExporter.writeSavedModel(g, out);
        assertEquals(Set.of("inference"), TfImporter.describe(out).metaGraphs().get(0).signatures().stream()
                .map(ModelDescription.SignatureInfo::key).collect(java.util.stream.Collectors.toSet()));
        assertEquals("inference", TfImporter.load(out).metadata().get("signature"));
    }

    @Test
    void severalSignaturesWithoutServingDefaultNeedAChoiceAndAreAllDescribed() throws IOException {
        Path m = variant("three", mg -> {
            SignatureDef s = mg.getSignatureDefOrThrow("serving_default");
            return mg.toBuilder().clearSignatureDef().putSignatureDef("b", s).putSignatureDef("w", s)
                    .putSignatureDef("train", s).build();
        });
        KilnException e = assertThrows(KilnException.class, () -> TfImporter.load(m));
        assertTrue(e.getMessage().contains("no signature 'serving_default'") && e.getMessage().contains("b, train, w")
                && e.getMessage().contains("--signature"), e.getMessage());
        assertEquals("w", TfImporter.load(m, ImportOptions.builder().signature("w").build()).metadata()
                .get("signature"));
        List<String> described = TfImporter.describe(m).metaGraphs().get(0).signatures().stream()
                .map(ModelDescription.SignatureInfo::key).toList();
        assertEquals(List.of("b", "train", "w"), described);
    }

    @Test
    void everySignatureOutputGetsATensorOfItsOwnInTheExportedSavedModel() throws IOException {
        Path m = variant("one_tensor_three_names", mg -> {
            SignatureDef s = mg.getSignatureDefOrThrow("serving_default");
            TensorInfo probs = s.getOutputsOrThrow("probs");
            SignatureDef three = s.toBuilder().clearOutputs().putOutputs("probs", probs).putOutputs("alias_a", probs)
                    .putOutputs("alias_b", probs).build();
            return mg.toBuilder().clearSignatureDef().putSignatureDef("inference", three).build();
        });
        Graph g = TfImporter.load(m);
        assertEquals(3, g.outputs().size());
        Path out = tmp.resolve("exported");
        TfExporter.writeSavedModel(g, out);
        SignatureDef written = SavedModel.parseFrom(Files.readAllBytes(out.resolve("saved_model.pb")))
                .getMetaGraphs(0).getSignatureDefOrThrow("inference");
        Set<String> tensors = new HashSet<>();
        written.getOutputsMap().values().forEach(t -> tensors.add(t.getName()));
        assertEquals(3, tensors.size(), "outputs share a tensor: " + written.getOutputsMap());

        Map<String, Tensor> in = RandomInputs.forSignature(g.inputs(), 9, 3);
        Tensor expected = reference(in).get("probs");
        // TensorFlow's own signature API, as a user calls it
        try (SavedModelBundle b = SavedModelBundle.load(out.toString(), "serve");
             org.tensorflow.Tensor x = TfTensors.toTf(in.get("x"));
             Result res = b.function("inference").call(Map.of("x", x))) {
            for (String name : List.of("probs", "alias_a", "alias_b")) {
                Tensor y = TfTensors.fromTf(res.get(name).orElseThrow());
                assertTrue(TensorComparison.compare(expected, y).within(1e-6), name);
            }
        }
        assertFalse(tensors.contains(""));
    }
}
