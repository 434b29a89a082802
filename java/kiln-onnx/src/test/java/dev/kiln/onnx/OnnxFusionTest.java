package dev.kiln.onnx;

import dev.kiln.eval.TensorComparison;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Tensor;
import dev.kiln.passes.Passes;
import dev.kiln.tensorflow.ImportOptions;
import dev.kiln.tensorflow.TfImporter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.Output;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The LayerNorm and GELU patterns of {@link OnnxOpCases}, built with TF Java, become one ONNX LayerNormalization
 * (opset 17 and later) or Gelu (opset 20 and later) and stay decomposed below; ONNX Runtime agrees with TensorFlow
 * either way, as imported and after optimizeForInference, in FP32 and FP16.
 */
class OnnxFusionTest {
    @TempDir
    static Path dir;

    @Test
    void layerNormPatternsBecomeOneLayerNormalizationFromOpset17() throws Exception {
        for (String name : List.of("LayerNormPattern", "LayerNormTwoAxesPattern", "KerasFusedLayerNormPattern",
                "LayerNormCenteredPattern", "LayerNormDivPattern")) {
            verify(name, "LayerNormalization", 16, 0);
            verify(name, "LayerNormalization", 17, 1);
        }
    }

    @Test
    void geluPatternsBecomeOneGeluFromOpset20() throws Exception {
        for (String name : List.of("GeluErfPattern", "TfNnGeluPattern", "GeluTanhPattern")) {
            verify(name, "Gelu", 17, 0);
            verify(name, "Gelu", 20, 1);
        }
    }

    /** INT8 exports place Q/DQ op by op, so they keep the pattern's ops (here weights-only INT8 at opset 20). */
    @Test
    void int8ExportsKeepThePatternsOps() throws Exception {
        for (String name : List.of("LayerNormPattern", "GeluErfPattern")) {
            OnnxOpCases.Case c = OnnxOpCases.all().stream().filter(k -> k.name().equals(name)).findFirst()
                    .orElseThrow();
            try (TfOpGraph t = new TfOpGraph(name.hashCode())) {
                c.build().accept(t);
                Path pb = dir.resolve(name + "-int8.pb");
                Files.write(pb, t.g.toGraphDef().toByteArray());
                Graph g = TfImporter.load(pb, ImportOptions.builder().inputNames(new ArrayList<>(t.feeds.keySet()))
                        .outputNames(t.outputs).build());
                Path onnx = dir.resolve(name + "-int8.onnx");
                OnnxExporter.builder().opset(20).precision(Precision.INT8_WEIGHTS_ONLY).build().export(g, onnx);
                OnnxModelSummary s = OnnxReader.summarize(onnx);
                assertEquals(0, s.count("LayerNormalization") + s.count("Gelu"), name + ": " + s);
            }
        }
    }

    /** The mean is also an output: the pattern's inner value is read outside it, so the ops stay. */
    @Test
    void aPatternWhoseInnerValueIsAnOutputIsNotFused() throws Exception {
        verify("LayerNormMeanAlsoOutput", t -> {
            Output<?> x = t.floats(2, 5, 8);
            Output<?> axes = t.ints(-1);
            Output<?> mean = t.op("Mean", x, axes).setAttr("keep_dims", true).build().output(0);
            Output<?> var = t.op("Mean", t.apply("SquaredDifference", x, mean), axes).setAttr("keep_dims", true)
                    .build().output(0);
            Output<?> inv = t.apply("Rsqrt", t.apply("AddV2", var, t.scalar(1e-3f)));
            t.output(t.apply("AddV2", t.apply("Mul", x, inv), t.apply("Sub", t.weights(8), t.apply("Mul", mean,
                    inv))));
            t.output(mean);
        }, "LayerNormalization", 17, 0);
    }

    /** Keras' usual input: an unknown batch size; the normalized axis is static, which is all the fusion needs. */
    @Test
    void layerNormOfUnknownBatchSizeIsFused() throws Exception {
        verify("LayerNormAnyBatch", t -> {
            Output<?> x = t.floatsAnyBatch(3, 4, 16);
            Output<?> axes = t.ints(2);
            Output<?> mean = t.op("Mean", x, axes).setAttr("keep_dims", true).build().output(0);
            Output<?> var = t.op("Mean", t.apply("SquaredDifference", x, t.apply("StopGradient", mean)), axes)
                    .setAttr("keep_dims", true).build().output(0);
            Output<?> inv = t.apply("Mul", t.apply("Rsqrt", t.apply("AddV2", var, t.scalar(1e-3f))), t.weights(16));
            t.output(t.apply("AddV2", t.apply("Mul", x, inv), t.apply("Sub", t.weights(16), t.apply("Mul", mean,
                    inv))));
        }, "LayerNormalization", 17, 1);
    }

    /** GELU after a convolution keeps the convolution's NCHW layout (no Transposes around it). */
    @Test
    void geluAfterConvolutionStaysInNchw() throws Exception {
        verify("GeluAfterConv", t -> {
            Output<?> c = t.op("Conv2D", t.floats(2, 6, 6, 3), t.weights(3, 3, 3, 4))
                    .setAttr("strides", new long[] {1, 1, 1, 1}).setAttr("padding", "SAME").build().output(0);
            Output<?> erf = t.apply("Erf", t.apply("Mul", c, t.scalar((float) (1 / Math.sqrt(2)))));
            t.output(t.apply("Mul", t.apply("Mul", c, t.scalar(0.5f)), t.apply("AddV2", erf, t.scalar(1f))));
        }, "Gelu", 20, 1);
    }

    private static void verify(String caseName, String fusedOp, int opset, int expected) throws Exception {
        OnnxOpCases.Case c = OnnxOpCases.all().stream().filter(k -> k.name().equals(caseName)).findFirst()
                .orElseThrow();
        verify(caseName, c.build(), fusedOp, opset, expected);
    }

    private static void verify(String name, Consumer<TfOpGraph> build, String fusedOp, int opset, int expected)
            throws Exception {
        try (TfOpGraph t = new TfOpGraph(name.hashCode())) {
            build.accept(t);
            Path pb = dir.resolve(name + ".pb");
            Files.write(pb, t.g.toGraphDef().toByteArray());
            Map<String, Tensor> want = OnnxOpCoverageTest.runTensorFlow(t);
            Graph imported = TfImporter.load(pb, ImportOptions.builder().inputNames(new ArrayList<>(t.feeds.keySet()))
                    .outputNames(t.outputs).build());
            Graph optimized = imported.copy();
            Passes.optimizeForInference().run(optimized);
            for (Graph g : List.of(imported, optimized)) {
                for (Precision p : List.of(Precision.FP32, Precision.FP16)) {
                    String what = name + " opset " + opset + " " + p + (g == imported ? " as imported" : " optimized");
                    Path onnx = dir.resolve(what.replace(' ', '_') + ".onnx");
                    ExportResult exported = OnnxExporter.builder().opset(opset).precision(p).build().export(g, onnx);
                    if (name.endsWith("AfterConv")) {
                        assertEquals(2, exported.layoutTransposes(), what + ": one Transpose in, one out: "
                                + exported.onnxOps());
                    }
                    assertEquals(expected, OnnxReader.summarize(onnx).count(fusedOp), what + ": " + fusedOp
                            + " nodes");
                    if (fusedOp.equals("Gelu") && expected == 1) {
                        assertEquals(0, OnnxReader.summarize(onnx).count("Erf")
                                + OnnxReader.summarize(onnx).count("Tanh"), what + ": the decomposed ops are gone");
                    }
                    Map<String, Tensor> got;
                    try (OnnxRunner r = OnnxRunner.open(onnx, 1)) {
                        got = r.run(t.feeds);
                    }
                    double tol = p == Precision.FP16 ? OnnxOpCoverageTest.FP16_TOLERANCE : 1e-4;
                    for (Map.Entry<String, Tensor> e : want.entrySet()) {
                        TensorComparison cmp = TensorComparison.compare(e.getValue(), got.get(e.getKey()));
                        assertTrue(cmp.shapeAndTypeMatch() && cmp.maxRelError() <= tol, what + " " + e.getKey()
                                + ": " + cmp);
                    }
                }
            }
        }
    }
}
