package dev.kiln.onnx;

import dev.kiln.eval.RandomInputs;
import dev.kiln.eval.TensorComparison;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Shape;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorType;
import dev.kiln.passes.Passes;
import dev.kiln.tensorflow.ImportOptions;
import dev.kiln.tensorflow.KerasLstmModels;
import dev.kiln.tensorflow.RecurrentLayers;
import dev.kiln.tensorflow.TfImporter;
import dev.kiln.tensorflow.TfRunner;
import dev.kiln.onnx.proto.Onnx.ModelProto;
import dev.kiln.onnx.proto.Onnx.NodeProto;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static dev.kiln.onnx.KeptControlFlowOnnxTest.count;
import static dev.kiln.onnx.KeptControlFlowOnnxTest.feeds;
import static dev.kiln.onnx.KeptControlFlowOnnxTest.int8;
import static dev.kiln.onnx.KeptControlFlowOnnxTest.ort;
import static dev.kiln.onnx.KeptControlFlowOnnxTest.tf;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A Keras LSTM kept whole at import, exported as one ONNX LSTM and run by ONNX Runtime against TensorFlow running the
 * original SavedModel: FP32, FP16 and both INT8 layouts on the shared model (5 steps), and FP32 at several lengths
 * on the same model made to take any number of steps.
 */
class KeptLstmOnnxTest {
    @TempDir
    Path tmp;

    private static TensorComparison compare(Map<String, Tensor> expected, Map<String, Tensor> actual) {
        Tensor a = actual.get("dense");
        if (a.dtype() == dev.kiln.graph.DType.HALF) {
            a = OnnxTensors.halfToFloat(a);
        }
        return TensorComparison.compare(expected.get("dense"), a);
    }

    @Test
    void keptLstmIsOneOnnxLstmInEveryPrecision() throws Exception {
        Path model = KerasLstmModels.shared();
        ImportOptions keep = ImportOptions.builder().recurrentLayers(RecurrentLayers.KEEP).build();
        Graph g = TfImporter.load(model, keep);
        Passes.optimizeForInference().run(g);
        Map<String, Tensor> in = feeds(g, "input_1", 4, 5, 11);
        Map<String, Tensor> expected = tf(model, ImportOptions.defaults(), in);

        Path f32 = tmp.resolve("fp32.onnx");
        OnnxExporter.fp32().export(g, f32);
        ModelProto m = OnnxReader.read(f32);
        assertEquals(1, count(m, "LSTM"), "one ONNX LSTM");
        assertEquals(0, count(m, "Loop") + count(m, "Scan") + count(m, "MatMul") - 1, "no loop; one MatMul (Dense)");
        TensorComparison c32 = compare(expected, ort(f32, in));
        assertTrue(c32.within(1e-5), "FP32: " + c32);

        Path f16 = tmp.resolve("fp16.onnx");
        OnnxExporter.builder().precision(Precision.FP16).build().export(g, f16);
        TensorComparison c16 = compare(expected, ort(f16, in));
        assertTrue(c16.maxAbsError() <= 1e-2, "FP16: " + c16);

        for (Int8Target target : Int8Target.values()) {
            Path i8 = int8(g, in, target, tmp);
            assertEquals(1, count(OnnxReader.read(i8), "LSTM"), target + ": the LSTM stays one float op");
            TensorComparison c8 = compare(expected, ort(i8, in));
            // the Dense after the LSTM is quantized: within a few of its output steps (outputs lie in about [-1, 1])
            assertTrue(c8.maxAbsError() <= 0.05, "INT8 " + target + ": " + c8);
            System.out.printf("kept LSTM INT8 %s: max abs error %.4f%n", target, c8.maxAbsError());
        }
        System.out.printf("kept LSTM: FP32 max rel %.2e, FP16 max abs %.2e%n", c32.maxRelError(), c16.maxAbsError());
    }

    @Test
    void anyLengthLstmRunsInOnnxRuntimeAtEveryLength() throws Exception {
        Path model = KerasLstmModels.anyLength(KerasLstmModels.shared(), tmp.resolve("lstm_any_length"));
        Graph g = TfImporter.load(model, ImportOptions.defaults());
        Passes.optimizeForInference().run(g);
        Path onnx = tmp.resolve("any.onnx");
        OnnxExporter.fp32().export(g, onnx);
        ModelProto m = OnnxReader.read(onnx);
        assertEquals(1, count(m, "LSTM"));
        var dims = m.getGraph().getInput(0).getType().getTensorType().getShape().getDimList();
        assertEquals(3, dims.size());
        assertTrue(!dims.get(1).hasDimValue(), "the time dimension stays free: " + dims);
        for (int steps : new int[] {1, 4, 11}) {
            Map<String, Tensor> in = feeds(g, "input_1", 3, steps, 5 + steps);
            TensorComparison c = compare(tf(model, ImportOptions.defaults(), in), ort(onnx, in));
            assertTrue(c.within(1e-5), steps + " steps: " + c);
        }
        assertTrue(Files.size(onnx) > 0);
    }

    /**
     * A GRU written as Keras writes standard_gru (KerasGruGraphs; no Keras GRU SavedModel is at hand), of unknown length:
     * kept whole by default and exported as one ONNX GRU; every output (last step, sequence, state) against
     * TensorFlow at several lengths, forwards and backwards, with and without return_sequences; and the same graph
     * exported as an ONNX Loop ({@code --rnn loop}) as a second, independent form.
     */
    @org.junit.jupiter.params.ParameterizedTest(name = "return_sequences {0}, go_backwards {1}")
    @org.junit.jupiter.params.provider.CsvSource({"true,false", "false,false", "true,true", "false,true"})
    void keptGruIsOneOnnxGruAtEveryLength(boolean returnSequences, boolean goBackwards) throws Exception {
        Path pb = dev.kiln.tensorflow.KerasGruGraphs.gru(tmp.resolve("gru.pb"), -1, returnSequences, goBackwards);
        Graph g = TfImporter.load(pb, ImportOptions.defaults());
        assertEquals(1, g.nodes().stream().filter(n -> dev.kiln.graph.RecurrentCall.of(n) != null).count(),
                g.opHistogram().toString());
        Path onnx = tmp.resolve("gru.onnx");
        OnnxExporter.fp32().export(g, onnx);
        assertEquals(1, count(OnnxReader.read(onnx), "GRU"));
        Graph asLoop = TfImporter.load(pb, ImportOptions.builder().recurrentLayers(RecurrentLayers.LOOP).build());
        Path loop = tmp.resolve("gru-loop.onnx");
        OnnxExporter.fp32().export(asLoop, loop);
        assertEquals(1, count(OnnxReader.read(loop), "Loop"));
        for (int steps : new int[] {1, 4, 9}) {
            Map<String, Tensor> in = feeds(g, "x", 2, steps, steps);
            Map<String, Tensor> expected = tf(pb, ImportOptions.defaults(), in);
            Map<String, Tensor> gru = ort(onnx, in);
            Map<String, Tensor> viaLoop = ort(loop, in);
            for (String name : expected.keySet()) {
                TensorComparison c = TensorComparison.compare(expected.get(name), gru.get(name));
                assertTrue(c.shapeAndTypeMatch() && c.within(1e-5), steps + " steps, GRU, " + name + ": " + c);
                c = TensorComparison.compare(expected.get(name), viaLoop.get(name));
                assertTrue(c.shapeAndTypeMatch() && c.within(1e-5), steps + " steps, Loop, " + name + ": " + c);
            }
        }
    }
}
