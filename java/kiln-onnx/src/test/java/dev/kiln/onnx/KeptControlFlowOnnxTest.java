package dev.kiln.onnx;

import dev.kiln.eval.RandomInputs;
import dev.kiln.eval.TensorComparison;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Shape;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorType;
import dev.kiln.onnx.proto.Onnx.ModelProto;
import dev.kiln.onnx.proto.Onnx.NodeProto;
import dev.kiln.passes.Passes;
import dev.kiln.tensorflow.ImportOptions;
import dev.kiln.tensorflow.KerasLstmModels;
import dev.kiln.tensorflow.RecurrentLayers;
import dev.kiln.tensorflow.TfImporter;
import dev.kiln.tensorflow.TfRunner;
import dev.kiln.tensorflow.WhileLoopGraphs;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Control flow kept at import, exported as ONNX Loop and If and run by ONNX Runtime against TensorFlow running the
 * original model at several sequence lengths: a hand-built SimpleRNN-style loop with a Case in its body and an If
 * after it, and the shared Keras LSTM kept as a loop ({@code --rnn loop}), of fixed and of any length.
 */
class KeptControlFlowOnnxTest {
    private static final ImportOptions LOOP = ImportOptions.builder().recurrentLayers(RecurrentLayers.LOOP).build();

    @TempDir
    Path tmp;

    /** Random inputs for {@code g}'s signature with input {@code name} of shape [batch, steps, 3]. */
    static Map<String, Tensor> feeds(Graph g, String name, int batch, int steps, long seed) {
        List<SignatureTensor> fixed = new ArrayList<>();
        for (SignatureTensor s : g.inputs()) {
            fixed.add(s.name().equals(name) ? new SignatureTensor(s.name(), s.tensor(),
                    new TensorType(s.type().dtype(), Shape.of(batch, steps, 3))) : s);
        }
        return RandomInputs.forSignature(fixed, seed, batch);
    }

    static Map<String, Tensor> tf(Path model, ImportOptions o, Map<String, Tensor> in) {
        try (TfRunner r = TfRunner.open(model, o)) {
            return r.run(in);
        }
    }

    static Map<String, Tensor> ort(Path onnx, Map<String, Tensor> in) {
        try (OnnxRunner r = OnnxRunner.open(onnx, 1)) {
            return r.run(in);
        }
    }

    private static void assertClose(Map<String, Tensor> expected, Map<String, Tensor> actual, double tol, String what) {
        for (String name : expected.keySet()) {
            Tensor a = actual.get(name);
            if (a.dtype() == dev.kiln.graph.DType.HALF) {
                a = OnnxTensors.halfToFloat(a);
            }
            TensorComparison c = TensorComparison.compare(expected.get(name), a);
            assertTrue(c.shapeAndTypeMatch() && c.maxAbsError() <= tol, what + " " + name + ": " + c);
        }
    }

    /** {@code g} exported as INT8 QDQ for {@code target}, with min-max ranges from TensorFlow running it on {@code in}. */
    static Path int8(Graph g, Map<String, Tensor> in, Int8Target target, Path dir) {
        Graph q = g.copy();
        MinMaxCalibration.minMax(q, in, gg -> {
            try (TfRunner r = TfRunner.of(gg)) {
                return r.run(in);
            }
        }, target);
        Path i8 = dir.resolve("int8-" + target + ".onnx");
        OnnxExporter.builder().precision(Precision.INT8).int8Target(target).build().export(q, i8);
        return i8;
    }

    static long count(ModelProto m, String op) {
        return m.getGraph().getNodeList().stream().map(NodeProto::getOpType).filter(op::equals).count();
    }

    @org.junit.jupiter.params.ParameterizedTest(name = "stateless ops: {0}")
    @org.junit.jupiter.params.provider.ValueSource(booleans = {true, false})
    void handBuiltLoopWithCaseAndIfRunsInOnnxRuntimeAtEveryLength(boolean stateless) throws Exception {
        Path pb = WhileLoopGraphs.rnn(tmp.resolve("rnn_any_length.pb"), -1, stateless);
        Graph g = TfImporter.load(pb);
        Passes.optimizeForInference().run(g);
        Path onnx = tmp.resolve("rnn.onnx");
        OnnxExporter.fp32().export(g, onnx);
        ModelProto m = OnnxReader.read(onnx);
        assertEquals(1, count(m, "Loop"));
        assertEquals(1, count(m, "If"), "the If after the loop (the Case is inside the Loop's body)");
        for (int steps : new int[] {1, 2, 3, 6}) {
            Map<String, Tensor> in = feeds(g, "x", 2, steps, steps);
            assertClose(tf(pb, ImportOptions.defaults(), in), ort(onnx, in), 1e-5, steps + " steps:");
        }
    }

    @Test
    void kerasLstmKeptAsALoopMatchesTensorFlowInEveryPrecision() throws Exception {
        Path model = KerasLstmModels.shared();
        Graph g = TfImporter.load(model, LOOP);
        Graph imported = g.copy();
        Passes.optimizeForInference().run(g);
        String body = g.subgraphs().keySet().stream().filter(k -> k.endsWith("/body")).findFirst().orElseThrow();
        assertTrue(g.subgraphs().get(body).size() < imported.subgraphs().get(body).size(), "the loop's body is "
                + "optimized too: " + imported.subgraphs().get(body).size() + " -> " + g.subgraphs().get(body).size()
                + " nodes");
        Map<String, Tensor> in = feeds(g, "input_1", 4, 5, 3);
        Map<String, Tensor> expected = tf(model, ImportOptions.defaults(), in);
        Path f32 = tmp.resolve("fp32.onnx");
        OnnxExporter.fp32().export(g, f32);
        assertEquals(1, count(OnnxReader.read(f32), "Loop"));
        assertEquals(0, count(OnnxReader.read(f32), "LSTM"));
        assertClose(expected, ort(f32, in), 1e-5, "FP32");
        Path f16 = tmp.resolve("fp16.onnx");
        OnnxExporter.builder().precision(Precision.FP16).build().export(g, f16);
        assertClose(expected, ort(f16, in), 1e-2, "FP16");
        for (Int8Target target : Int8Target.values()) {
            assertClose(expected, ort(int8(g, in, target, tmp), in), 0.05, "INT8 " + target);
        }
    }

    @Test
    void anyLengthKerasLstmKeptAsALoopRunsAtEveryLength() throws Exception {
        Path model = KerasLstmModels.anyLength(KerasLstmModels.shared(), tmp.resolve("lstm_any_length"));
        Graph g = TfImporter.load(model, LOOP);
        Path onnx = tmp.resolve("any.onnx");
        OnnxExporter.fp32().export(g, onnx);
        assertEquals(1, count(OnnxReader.read(onnx), "Loop"));
        for (int steps : new int[] {1, 4, 11}) {
            Map<String, Tensor> in = feeds(g, "input_1", 3, steps, 9 + steps);
            assertClose(tf(model, ImportOptions.defaults(), in), ort(onnx, in), 1e-5, steps + " steps:");
        }
    }
}
