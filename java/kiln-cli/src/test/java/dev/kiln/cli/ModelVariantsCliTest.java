package dev.kiln.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.eval.RandomInputs;
import dev.kiln.eval.TensorComparison;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Tensor;
import dev.kiln.onnx.OnnxRunner;
import dev.kiln.tensorflow.ExampleModels;
import dev.kiln.tensorflow.FrozenGraphExamples;
import dev.kiln.tensorflow.ImportOptions;
import dev.kiln.tensorflow.TfImporter;
import dev.kiln.tensorflow.TfRunner;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.Result;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.SavedModel;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.proto.TensorInfo;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static dev.kiln.cli.CliTest.kiln;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Models as users bring them: no serving_default, shared output tensors, string front ends cut at an inner tensor. */
class ModelVariantsCliTest {
    @TempDir
    Path tmp;

    /**
     * A tf.Module-style SavedModel: the two-output example with its signature renamed {@code inference} and its
     * {@code probs} output published under three names.
     */
    private Path inferenceModuleWithAliases() throws IOException {
        Path dir = ExampleModels.twoOutputs(tmp.resolve("module"));
        SavedModel sm = SavedModel.parseFrom(Files.readAllBytes(dir.resolve("saved_model.pb")));
        MetaGraphDef mg = sm.getMetaGraphs(0);
        SignatureDef s = mg.getSignatureDefOrThrow("serving_default");
        TensorInfo probs = s.getOutputsOrThrow("probs");
        SignatureDef aliased = s.toBuilder().putOutputs("alias_a", probs).putOutputs("alias_b", probs).build();
        SavedModel edited = sm.toBuilder().setMetaGraphs(0, mg.toBuilder().clearSignatureDef()
                .putSignatureDef("inference", aliased)).build();
        try (OutputStream out = Files.newOutputStream(dir.resolve("saved_model.pb"))) {
            edited.writeTo(out);
        }
        return dir;
    }

    @Test
    void optimizeUsesTheOnlySignatureSaysSoAndGivesEveryOutputItsOwnTensor() throws IOException {
        Path model = inferenceModuleWithAliases();
        Path out = tmp.resolve("out");
        CliTest.Run r = kiln("optimize", model.toString(), "-o", out.toString(), "--samples", "2");
        assertEquals(0, r.status(), r.err() + r.out());
        assertTrue(r.err().contains("using the only callable signature 'inference'"), r.err());
        JsonNode report = new ObjectMapper().readTree(out.resolve("report.json").toFile());
        for (JsonNode v : report.get("verifications")) {
            assertTrue(v.get("passed").asBoolean(), v.toString());
        }

        Graph g = TfImporter.load(model);
        Map<String, Tensor> in = RandomInputs.forSignature(g.inputs(), 4, 3);
        Tensor expected;
        try (TfRunner tf = TfRunner.open(model, ImportOptions.defaults())) {
            expected = tf.run(in).get("probs");
        }
        // the optimized SavedModel through TensorFlow's own signature API, as a user calls it
        try (SavedModelBundle b = SavedModelBundle.load(out.resolve("saved_model").toString(), "serve");
             org.tensorflow.Tensor x = dev.kiln.tensorflow.TfTensors.toTf(in.get("x"));
             Result res = b.function("inference").call(Map.of("x", x))) {
            for (String name : List.of("probs", "alias_a", "alias_b")) {
                Tensor y = dev.kiln.tensorflow.TfTensors.fromTf(res.get(name).orElseThrow());
                assertTrue(TensorComparison.compare(expected, y).within(1e-5), name);
            }
        }
        try (OnnxRunner ort = OnnxRunner.open(out.resolve("model.onnx"), 1)) {
            Map<String, Tensor> y = ort.run(in);
            for (String name : List.of("probs", "alias_a", "alias_b")) {
                assertTrue(TensorComparison.compare(expected, y.get(name)).within(1e-5), name);
            }
        }
    }

    /** The two-output example with one signature per head and no serving_default. */
    private Path twoSignatures() throws IOException {
        Path dir = ExampleModels.twoOutputs(tmp.resolve("heads"));
        SavedModel sm = SavedModel.parseFrom(Files.readAllBytes(dir.resolve("saved_model.pb")));
        MetaGraphDef mg = sm.getMetaGraphs(0);
        SignatureDef s = mg.getSignatureDefOrThrow("serving_default");
        SignatureDef probs = s.toBuilder().clearOutputs().putOutputs("probs", s.getOutputsOrThrow("probs")).build();
        SignatureDef score = s.toBuilder().clearOutputs().putOutputs("score", s.getOutputsOrThrow("score")).build();
        SavedModel edited = sm.toBuilder().setMetaGraphs(0, mg.toBuilder().clearSignatureDef()
                .putSignatureDef("probs_only", probs).putSignatureDef("score_only", score)).build();
        try (OutputStream out = Files.newOutputStream(dir.resolve("saved_model.pb"))) {
            edited.writeTo(out);
        }
        return dir;
    }

    @Test
    void signatureAllWritesOneOnnxPerSignatureAndOneSavedModelWithAll() throws IOException {
        Path model = twoSignatures();
        Files.createDirectories(tmp.resolve("out"));
        CliTest.Run onnx = kiln("export", model.toString(), "--signature", "all", "-o",
                tmp.resolve("out/heads.onnx").toString(), "--verify");
        assertEquals(0, onnx.status(), onnx.err() + onnx.out());
        Map<String, Tensor> in = RandomInputs.forSignature(TfImporter.load(model, ImportOptions.builder()
                .signature("probs_only").build()).inputs(), 8, 3);
        Map<String, Tensor> expected = new java.util.HashMap<>();
        for (String sig : List.of("probs_only", "score_only")) {
            try (TfRunner tf = TfRunner.open(model, ImportOptions.builder().signature(sig).build())) {
                expected.putAll(tf.run(in));
            }
        }
        try (OnnxRunner a = OnnxRunner.open(tmp.resolve("out/heads_probs_only.onnx"), 1);
             OnnxRunner b = OnnxRunner.open(tmp.resolve("out/heads_score_only.onnx"), 1)) {
            assertEquals(java.util.Set.of("probs"), a.run(in).keySet());
            assertTrue(TensorComparison.compare(expected.get("probs"), a.run(in).get("probs")).within(1e-5));
            assertTrue(TensorComparison.compare(expected.get("score"), b.run(in).get("score")).within(1e-5));
        }

        Path sm = tmp.resolve("out/heads_saved_model");
        CliTest.Run saved = kiln("export", model.toString(), "--signature", "all", "--format", "savedmodel", "-o",
                sm.toString(), "--verify");
        assertEquals(0, saved.status(), saved.err() + saved.out());
        try (SavedModelBundle b = SavedModelBundle.load(sm.toString(), "serve");
             org.tensorflow.Tensor x = dev.kiln.tensorflow.TfTensors.toTf(in.get("x"))) {
            for (String[] sigOut : new String[][] {{"probs_only", "probs"}, {"score_only", "score"}}) {
                try (Result res = b.function(sigOut[0]).call(Map.of("x", x))) {
                    Tensor y = dev.kiln.tensorflow.TfTensors.fromTf(res.get(sigOut[1]).orElseThrow());
                    assertTrue(TensorComparison.compare(expected.get(sigOut[1]), y).within(1e-5), sigOut[0]);
                }
            }
        }
        // the trunk both heads read is written once
        org.tensorflow.proto.GraphDef merged = SavedModel.parseFrom(Files.readAllBytes(sm.resolve("saved_model.pb")))
                .getMetaGraphs(0).getGraphDef();
        assertEquals(1, merged.getNodeList().stream().filter(n -> n.getName().endsWith("trunk/MatMul")).count(),
                merged.getNodeList().stream().map(org.tensorflow.proto.NodeDef::getName).toList().toString());

        CliTest.Run int8 = kiln("export", model.toString(), "--signature", "all", "--precision", "int8",
                "--calib-random", "-o", tmp.resolve("out/q.onnx").toString());
        assertEquals(2, int8.status(), int8.err());
        CliTest.Run optimize = kiln("optimize", model.toString(), "--signature", "all", "-o",
                tmp.resolve("out/opt").toString());
        assertEquals(2, optimize.status(), optimize.err());
        assertTrue(optimize.err().contains("probs_only, score_only"), optimize.err());
    }

    @Test
    void inspectDescribesAModelWithSeveralSignaturesAndNoDefault() {
        Path model = CliTest.sharedModels().resolve("tfserving_counter");
        CliTest.Run r = kiln("inspect", model.toString());
        assertEquals(0, r.status(), r.err());
        for (String sig : List.of("get_counter", "incr_counter", "incr_counter_by", "reset_counter")) {
            assertTrue(r.out().contains("signature " + sig), r.out());
        }
        assertTrue(r.out().contains("whole file") && r.out().contains("VariableV2"), r.out());
        CliTest.Run one = kiln("inspect", model.toString(), "--signature", "get_counter");
        assertEquals(0, one.status(), one.err());
    }

    @Test
    void aStringFrontEndIsInspectedAndCutAtAnInnerTensorWithItsShape() throws IOException {
        Path pb = FrozenGraphExamples.stringFrontEnd(tmp.resolve("kws_dynamic.pb"), true);
        CliTest.Run inspect = kiln("inspect", pb.toString());
        assertEquals(0, inspect.status(), inspect.err());
        assertTrue(inspect.out().contains("wav (wav:0) string"), inspect.out());

        Path onnx = tmp.resolve("kws.onnx");
        CliTest.Run noShape = kiln("export", pb.toString(), "--inputs", "Reshape_1", "--outputs", "labels_softmax",
                "-o", onnx.toString());
        assertEquals(3, noShape.status(), noShape.err());
        assertTrue(noShape.err().contains("--inputs Reshape_1[1,490]"), noShape.err());
        assertFalse(Files.exists(onnx));

        CliTest.Run cut = kiln("export", pb.toString(), "--inputs", "Reshape_1:0[1,8]", "--outputs",
                "labels_softmax", "-o", onnx.toString(), "--verify");
        assertEquals(0, cut.status(), cut.err() + cut.out());
        assertTrue(cut.out().contains("max rel"), cut.out());
        CliTest.Run shapes = kiln("export", pb.toString(), "--inputs", "Reshape_1:0", "--input-shapes",
                "Reshape_1:0[1,8]", "--outputs", "labels_softmax", "-o", tmp.resolve("kws2.onnx").toString());
        assertEquals(0, shapes.status(), shapes.err());
        try (OnnxRunner a = OnnxRunner.open(onnx, 1); OnnxRunner b = OnnxRunner.open(tmp.resolve("kws2.onnx"), 1)) {
            Map<String, Tensor> in = RandomInputs.forSignature(a.inputSignature(), 2, 1);
            Map<String, Tensor> ya = a.run(in);
            Map<String, Tensor> yb = b.run(in);
            assertTrue(TensorComparison.compare(ya.get("labels_softmax"), yb.get("labels_softmax")).within(0));
        }
    }
}
