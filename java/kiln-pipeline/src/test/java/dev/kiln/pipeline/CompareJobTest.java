package dev.kiln.pipeline;

import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.Tensor;
import dev.kiln.onnx.OnnxExporter;
import dev.kiln.onnx.Precision;
import dev.kiln.tensorflow.ExampleModels;
import dev.kiln.tensorflow.TfExporter;
import dev.kiln.tensorflow.TfImporter;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CompareJobTest {
    @TempDir
    static Path tmp;
    static Path savedModel;
    static Path onnx;
    static Path fp16;
    static Path other;

    @BeforeAll
    static void models() {
        savedModel = ExampleModels.exampleCnn(tmp.resolve("cnn"));
        Graph g = TfImporter.load(savedModel);
        onnx = tmp.resolve("cnn.onnx");
        OnnxExporter.fp32().export(g, onnx);
        fp16 = tmp.resolve("cnn16.onnx");
        OnnxExporter.builder().precision(Precision.FP16).build().export(g, fp16);
        other = tmp.resolve("other");
        TfExporter.writeSavedModel(otherWeights(g), other);
    }

    /** The same graph with the classifier's bias shifted: a deliberately different model. */
    static Graph otherWeights(Graph g) {
        Graph c = g.copy();
        for (Node n : g.nodes()) {
            if (n.op().equals("Const") && n.name().startsWith("logits") && n.attrTensor("value").shape().rank() == 1) {
                float[] v = n.attrTensor("value").floats();
                for (int i = 0; i < v.length; i++) {
                    v[i] += i * 0.5f;
                }
                c.replace(n.toBuilder().attr("value", Tensor.ofFloats(n.attrTensor("value").shape(), v)).build());
                return c;
            }
        }
        throw new AssertionError("no logits bias in " + g.nodes().stream().map(Node::name).toList());
    }

    @Test
    void savedModelAndItsFp32OnnxAgree() {
        CompareJob.Result r = CompareJob.builder(savedModel, onnx).batch(2).build().run();
        assertTrue(r.passed(), r.toString());
        assertEquals(1, r.outputs().size());
        assertTrue(r.outputs().get(0).cosine() > 0.999999);
    }

    @Test
    void differentWeightsFail() {
        CompareJob.Result r = CompareJob.builder(savedModel, other).build().run();
        assertFalse(r.passed());
        assertTrue(r.outputs().get(0).failingElements() > 0, r.toString());
    }

    @Test
    void perLayerOnnxFp32AgainstFp16FindsSmallNonZeroErrors() {
        CompareJob.Result r = CompareJob.builder(onnx, fp16).atol(1e-2).rtol(1e-2).perLayer(true).build().run();
        CompareJob.PerLayer p = r.perLayer();
        assertNotNull(p);
        assertTrue(p.matched() >= 5, p.toString());
        assertTrue(p.layers().stream().allMatch(l -> l.cosine() > 0.99), p.toString());
        assertTrue(p.layers().stream().anyMatch(l -> l.maxAbsError() > 0), p.toString());
        assertNotNull(p.firstJump());
    }

    @Test
    void perLayerSavedModelAgainstOnnxMatchesNodeNames() {
        CompareJob.Result r = CompareJob.builder(savedModel, onnx).perLayer(true).build().run();
        assertTrue(r.perLayer().matched() >= 10, r.perLayer().toString());
        // the exporter folds batch norm into the convolution and names the fused node after the Conv2D, so a few
        // same-named tensors differ by design; the rest (NCHW transposed back) agree
        long agree = r.perLayer().layers().stream().filter(l -> l.cosine() > 0.9999).count();
        assertTrue(agree >= r.perLayer().matched() - 3, r.perLayer().toString());
    }

    @Test
    void perLayerSavedModelAgainstChangedFrozenGraph() {
        CompareJob.Result r = CompareJob.builder(savedModel, other).perLayer(true).build().run();
        assertTrue(r.perLayer().matched() >= 5, r.perLayer().toString());
        assertNotNull(r.perLayer().firstFailing(), r.perLayer().toString());
    }
}
