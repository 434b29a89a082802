package dev.kiln.onnx;

import dev.kiln.eval.RandomInputs;
import dev.kiln.eval.TensorComparison;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Tensor;
import dev.kiln.onnx.proto.Onnx.ModelProto;
import dev.kiln.onnx.proto.Onnx.NodeProto;
import dev.kiln.onnx.proto.Onnx.TensorProto;
import dev.kiln.quant.QuantParams;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * INT8 for ONNX Runtime ({@link Int8Target#ONNXRUNTIME}): uint8 activations, Q/DQ on quantized ops' outputs, and
 * ORT really fusing the groups (checked on the graph ORT executes, dumped through
 * {@link OnnxRunner#writeOptimizedModel}).
 */
class Int8OnnxRuntimeTest {
    @TempDir
    Path dir;

    private static Map<String, Tensor> run(Path p, Map<String, Tensor> in) {
        try (OnnxRunner r = OnnxRunner.open(p, 1)) {
            return r.run(in);
        }
    }

    private record Export(Graph g, Map<String, Tensor> in, Map<String, Float> outAmax, Path onnx, ModelProto m) { }

    private Export export(long seed, Int8Target target) {
        Graph g = TestGraphs.cnn(seed);
        Map<String, Tensor> in = RandomInputs.forSignature(g.inputs(), 12, 4);
        Map<String, Float> outAmax = MinMaxCalibration.minMax(g, in, MinMaxCalibration.ortFp32(in), target);
        Path p = dir.resolve("int8-" + target + ".onnx");
        ExportResult r = OnnxExporter.builder().precision(Precision.INT8).int8Target(target).build().export(g, p);
        System.out.println("INT8 export for " + target + ": " + r.onnxOps());
        return new Export(g, in, outAmax, p, OnnxReader.read(p));
    }

    @Test
    void calibrationForOrtIsAsymmetricUint8WithReluOutputsAtZeroPointZero() {
        Export e = export(6, Int8Target.ONNXRUNTIME);
        Map<String, QuantParams> q = e.g().quantization();
        assertTrue(q.keySet().containsAll(List.of("image", "relu1", "dw1", "residual", "pool1", "relu3", "concat",
                "fc/bias")), q.keySet().toString());
        for (Map.Entry<String, QuantParams> p : q.entrySet()) {
            assertFalse(p.getValue().signed(), p.getKey() + " is uint8");
            assertTrue(p.getValue().perTensor(), p.getKey());
        }
        assertEquals(0, q.get("relu1").zeroPoint()[0], "a Relu output's range starts at 0");
        assertEquals(q.get("residual"), q.get("pool1"), "MaxPool keeps its input's parameters");
    }

    @Test
    void ortPlacementPutsDqOnEveryConvInputAndQOnItsOutput() {
        ModelProto m = export(6, Int8Target.ONNXRUNTIME).m();
        List<NodeProto> nodes = m.getGraph().getNodeList();
        Map<String, NodeProto> producer = new HashMap<>();
        Map<String, TensorProto> inits = new HashMap<>();
        for (NodeProto n : nodes) {
            n.getOutputList().forEach(o -> producer.put(o, n));
        }
        m.getGraph().getInitializerList().forEach(t -> inits.put(t.getName(), t));
        int convs = 0;
        for (NodeProto n : nodes) {
            if (n.getOpType().equals("Conv") || n.getOpType().equals("MatMul")) {
                convs++;
                for (int i = 0; i < n.getInputCount(); i++) {
                    NodeProto p = producer.get(n.getInput(i));
                    assertTrue(p != null && p.getOpType().equals("DequantizeLinear"), n.getName() + " input " + i);
                    if (i > 0) { // weights int8 (zero point 0), bias int32: initializers, not Q at run time
                        int want = i == 1 ? TensorProto.DataType.INT8_VALUE : TensorProto.DataType.INT32_VALUE;
                        assertEquals(want, inits.get(p.getInput(0)).getDataType(), n.getName() + " input " + i);
                    } else {
                        TensorProto zp = inits.get(p.getInput(2));
                        assertEquals(TensorProto.DataType.UINT8_VALUE, zp.getDataType(), "uint8 activations");
                    }
                }
            }
            if (n.getOpType().equals("Conv")) { // Q right after the Conv, or after its Relu/Relu6 (folded by ORT)
                String out = n.getOutput(0);
                NodeProto user = nodes.stream().filter(x -> x.getInputList().contains(out)).findFirst().orElseThrow();
                if (user.getOpType().equals("Relu") || user.getOpType().equals("Clip")) {
                    String o2 = user.getOutput(0);
                    user = nodes.stream().filter(x -> x.getInputList().contains(o2)).findFirst().orElseThrow();
                }
                assertEquals("QuantizeLinear", user.getOpType(), "after " + n.getName());
            }
        }
        assertEquals(4, convs, "3 Conv + 1 MatMul");
    }

    @Test
    void onnxRuntimeFusesTheOrtPlacementIntoIntegerKernels() {
        Export e = export(6, Int8Target.ONNXRUNTIME);
        Path opt = dir.resolve("ort-optimized.onnx");
        OnnxRunner.writeOptimizedModel(e.onnx(), opt);
        OnnxModelSummary s = OnnxReader.summarize(opt);
        System.out.println("ORT placement, what ONNX Runtime executes: " + s.ops());
        assertEquals(3, s.count("QLinearConv") + s.count("com.microsoft.QLinearConv"),
                "every Conv runs as QLinearConv: " + s.ops());
        assertEquals(0, s.ops().keySet().stream().filter(k -> k.endsWith("Conv") && !k.contains("QLinear")).count(),
                "no float Conv left: " + s.ops());
        assertEquals(1, s.count("com.microsoft.QGemm") + s.count("QLinearMatMul")
                + s.count("com.microsoft.MatMulIntegerToFloat"), "the dense layer on int8 too: " + s.ops());
        assertEquals(1, s.count("com.microsoft.QLinearAdd"), "residual Add on int8: " + s.ops());
        assertEquals(1, s.count("com.microsoft.QLinearConcat"), s.ops().toString());

        Export t = export(6, Int8Target.TENSORRT);
        Path optT = dir.resolve("trt-ort-optimized.onnx");
        OnnxRunner.writeOptimizedModel(t.onnx(), optT);
        OnnxModelSummary st = OnnxReader.summarize(optT);
        System.out.println("TensorRT placement, what ONNX Runtime executes: " + st.ops());
        assertEquals(0, st.count("QLinearConv") + st.count("com.microsoft.QLinearConv"),
                "TensorRT placement is not fused by ORT's CPU provider: " + st.ops());
    }

    @Test
    void ortPlacementMatchesItsFakeQuantSimulationWithinOneStep() throws Exception {
        Export e = export(6, Int8Target.ONNXRUNTIME);
        Path sim = dir.resolve("sim.onnx");
        Files.write(sim, QdqSimulation.simulate(e.m()).toByteArray());
        Tensor ort = run(e.onnx(), e.in()).get("probs");
        Tensor simulated = run(sim, e.in()).get("probs");
        float step = e.outAmax().get("probs") / 255f; // one uint8 step over the output's range [0, amax]
        TensorComparison c = TensorComparison.compare(simulated, ort);
        System.out.println("hand-built CNN INT8 for ORT (QLinearConv ...) vs fake-quant simulation: " + c
                + ", one uint8 output step " + step);
        assertTrue(c.maxAbsError() <= step, c + " > one step " + step);
        Path f32 = dir.resolve("f32.onnx");
        OnnxExporter.fp32().export(e.g(), f32);
        TensorComparison cf = TensorComparison.compare(run(f32, e.in()).get("probs"), ort);
        System.out.println("hand-built CNN INT8 for ORT vs FP32: " + cf);
        assertTrue(cf.maxAbsError() < 0.1, cf.toString());
    }
}
