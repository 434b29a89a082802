package dev.kiln.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.KilnArgumentException;
import dev.kiln.data.RepresentativeData;
import dev.kiln.eval.ModelRunner;
import dev.kiln.graph.AttrValue;
import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.Shape;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.graph.TensorType;
import dev.kiln.onnx.OnnxRunner;
import dev.kiln.sparse.PackedWeights;
import dev.kiln.sparse.PruningPattern;
import dev.kiln.sparse.PruningPlan;
import dev.kiln.sparse.PruningReport;
import dev.kiln.tensorflow.ImportOptions;
import dev.kiln.tensorflow.TfExporter;
import dev.kiln.tensorflow.TfImporter;
import dev.kiln.tensorflow.TfRunner;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PruneJobTest {
    @TempDir
    Path dir;

    /** x [-1, 16] -> MatMul [16, 8] -> BiasAdd -> Relu -> MatMul [8, 4], written by Kiln as a SavedModel. */
    private Path model() {
        Random rnd = new Random(3);
        Graph g = new Graph();
        g.add(Node.builder("x", "Placeholder").attr("dtype", DType.FLOAT)
                .outputType(TensorType.of(DType.FLOAT, -1, 16)).build());
        constant(g, "w1", random(rnd, 16, 8));
        constant(g, "b1", random(rnd, 8));
        constant(g, "w2", random(rnd, 8, 4));
        g.add(Node.builder("mm1", "MatMul").attr("T", DType.FLOAT).input("x").input("w1")
                .outputType(TensorType.of(DType.FLOAT, -1, 8)).build());
        g.add(Node.builder("bias", "BiasAdd").attr("T", DType.FLOAT).input("mm1").input("b1")
                .outputType(TensorType.of(DType.FLOAT, -1, 8)).build());
        g.add(Node.builder("relu", "Relu").attr("T", DType.FLOAT).input("bias")
                .outputType(TensorType.of(DType.FLOAT, -1, 8)).build());
        g.add(Node.builder("mm2", "MatMul").attr("T", DType.FLOAT).input("relu").input("w2")
                .outputType(TensorType.of(DType.FLOAT, -1, 4)).build());
        g.addInput(new SignatureTensor("x", TensorRef.of("x", 0), TensorType.of(DType.FLOAT, -1, 16)));
        g.addOutput(new SignatureTensor("y", TensorRef.of("mm2", 0), TensorType.of(DType.FLOAT, -1, 4)));
        Path m = dir.resolve("model");
        TfExporter.writeSavedModel(g, m);
        return m;
    }

    private static void constant(Graph g, String name, Tensor t) {
        g.add(Node.builder(name, "Const").attr("dtype", AttrValue.of(DType.FLOAT)).attr("value", AttrValue.of(t))
                .outputType(t.type()).build());
    }

    private static Tensor random(Random rnd, long... dims) {
        Shape s = Shape.of(dims);
        float[] v = new float[(int) s.numElements()];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) rnd.nextGaussian();
        }
        return Tensor.ofFloats(s, v);
    }

    @Test
    void writesAPrunedSavedModelOnnxAndAReportThatAgree() throws Exception {
        Path out = dir.resolve("out");
        PruningReport r = PruneJob.builder(model(), out).plan(PruningPlan.builder(PruningPattern.twoFour())
                .includeFirstAndLast(true).build()).build().run();
        assertEquals(2, r.layers().size());
        assertEquals(0.5, r.globalSparsity(), 1e-12);
        r.layers().forEach(l -> assertTrue(l.nm().ok(), l.toString()));
        assertTrue(Files.isDirectory(out.resolve(PruneJob.SAVED_MODEL)));
        assertTrue(Files.isRegularFile(out.resolve(PruneJob.ONNX)));
        JsonNode json = new ObjectMapper().readTree(out.resolve(PruneJob.REPORT).toFile());
        assertEquals(0.5, json.get("global_sparsity").asDouble(), 1e-9);
        assertEquals(2, json.get("layers").size());
        assertEquals(64, json.get("layers").get(0).get("zeros").asLong());
        // every pruned layer packed 2:4 in weights.kpack, and unpacks to the pruned Const
        List<PackedWeights.Layer> packed = PackedWeights.read(out.resolve(PruneJob.PACKED));
        assertEquals(2, packed.size());
        Graph pruned = TfImporter.load(out.resolve(PruneJob.SAVED_MODEL));
        for (PackedWeights.Layer l : packed) {
            assertEquals(PackedWeights.Format.NM24, l.format());
            assertArrayEquals(pruned.constantValue(pruned.node(l.name()).input(1)).floats(), l.unpack(), l.name());
        }
        assertEquals(r.packedBytes(), json.get("packed_bytes").asLong());
        assertTrue(r.packedBytes() < r.denseBytes(), r.toMarkdown());

        Random rnd = new Random(4);
        Map<String, Tensor> in = Map.of("x", random(rnd, 5, 16));
        try (ModelRunner tf = TfRunner.open(out.resolve(PruneJob.SAVED_MODEL), ImportOptions.defaults());
             ModelRunner onnx = OnnxRunner.open(out.resolve(PruneJob.ONNX), 1)) {
            float[] a = tf.run(in).get("y").asFloats();
            float[] b = onnx.run(in).get("y").asFloats();
            assertEquals(20, a.length);
            for (int i = 0; i < a.length; i++) {
                assertEquals(a[i], b[i], 1e-4 * Math.max(1, Math.abs(a[i])));
            }
        }
    }

    @Test
    void withEvaluationDataTheReportCarriesTheAccuracyAgainstTheOriginal() throws Exception {
        Path m = model();
        RepresentativeData data = RepresentativeData.random(
                java.util.List.of(new SignatureTensor("x", TensorRef.of("x", 0), TensorType.of(DType.FLOAT, -1, 16))),
                5, 32);
        long[] labels = new long[32];
        Random rnd = new Random(6);
        for (int i = 0; i < labels.length; i++) {
            labels[i] = rnd.nextInt(4);
        }
        Path out = dir.resolve("eval");
        PruningReport r = PruneJob.builder(m, out).plan(PruningPlan.builder(PruningPattern.unstructured(0.5))
                .includeFirstAndLast(true).build()).evaluate(data, labels).build().run();
        assertEquals(32, r.accuracy().samples());
        assertTrue(r.accuracy().minCosine() < 1, r.accuracy().toString());
        assertTrue(r.accuracy().labelled());
        JsonNode json = new ObjectMapper().readTree(out.resolve(PruneJob.REPORT).toFile());
        assertEquals(r.accuracy().minCosine(), json.get("accuracy").get("min_cosine").asDouble(), 1e-6);
        assertTrue(json.get("accuracy").get("top1").isNumber());

        PruningReport none = PruneJob.builder(m, dir.resolve("none")).plan(PruningPlan.builder(
                PruningPattern.unstructured(0.5)).ops(java.util.Set.of("Conv2D")).build()).evaluate(data, null)
                .build().run();
        assertTrue(none.layers().isEmpty());
        assertEquals(1, none.accuracy().minCosine(), 1e-9);
        assertTrue(Double.isNaN(none.accuracy().top1()));
        JsonNode j = new ObjectMapper().readTree(dir.resolve("none").resolve(PruneJob.REPORT).toFile());
        assertTrue(j.get("accuracy").get("top1").isNull());
    }

    @Test
    void withoutEvaluationDataThereIsNoAccuracy() {
        PruningReport r = PruneJob.builder(model(), dir.resolve("plain")).plan(PruningPlan.of(
                PruningPattern.unstructured(0.5))).build().run();
        assertEquals(null, r.accuracy());
    }

    @Test
    void factorizingWithEvaluationDataMeasuresIt() throws Exception {
        Path m = model();
        RepresentativeData data = RepresentativeData.random(
                java.util.List.of(new SignatureTensor("x", TensorRef.of("x", 0), TensorType.of(DType.FLOAT, -1, 16))),
                5, 32);
        FactorizeJob.Result r = FactorizeJob.builder(m, dir.resolve("lr")).rank(2).minParameters(0)
                .evaluate(data, null).build().run();
        assertTrue(r.report().accuracy().minCosine() < 1, r.report().toString());
        JsonNode json = new ObjectMapper().readTree(r.reportJson().toFile());
        assertTrue(json.get("accuracy").get("minCosine").asDouble() < 1, json.toString());
    }

    @Test
    void aPlanIsRequired() {
        assertThrows(KilnArgumentException.class, () -> PruneJob.builder(dir, dir).build());
    }
}
