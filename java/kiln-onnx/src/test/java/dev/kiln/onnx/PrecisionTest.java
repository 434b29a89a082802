package dev.kiln.onnx;

import dev.kiln.eval.RandomInputs;
import dev.kiln.eval.TensorComparison;
import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Tensor;
import dev.kiln.onnx.proto.Onnx.ModelProto;
import dev.kiln.onnx.proto.Onnx.NodeProto;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** FP16 and INT8 exports of the hand-built CNN checked with ONNX Runtime against the FP32 export. */
class PrecisionTest {
    @TempDir
    Path dir;

    private static Map<String, Tensor> run(Path p, Map<String, Tensor> in) {
        try (OnnxRunner r = OnnxRunner.open(p, 1)) {
            return r.run(in);
        }
    }

    @Test
    void fp16IsWithinOnePercentAndHasHalfWeights() {
        Graph g = TestGraphs.cnn(5);
        Map<String, Tensor> in = RandomInputs.forSignature(g.inputs(), 11, 4);
        Path f32 = dir.resolve("f32.onnx");
        Path f16 = dir.resolve("f16.onnx");
        OnnxExporter.fp32().export(g, f32);
        ExportResult r = OnnxExporter.builder().precision(Precision.FP16).build().export(g, f16);
        ModelProto m = OnnxReader.read(f16);
        long halfInits = m.getGraph().getInitializerList().stream().filter(t -> t.getDataType() == 10).count();
        assertTrue(halfInits >= 8, "float16 initializers: " + halfInits);
        assertTrue(OnnxReader.summarize(m).inputs().get(0).startsWith("image: float["));
        TensorComparison c = TensorComparison.compare(run(f32, in).get("probs"), run(f16, in).get("probs"));
        System.out.println("hand-built CNN FP16 vs FP32 (ORT): " + c + "; " + r.onnxOps());
        assertTrue(c.within(1e-2), c.toString());

        Path half = dir.resolve("half.onnx");
        OnnxExporter.builder().precision(Precision.FP16).halfIO(true).keepFloat32(Set.of("Softmax")).build()
                .export(g, half);
        OnnxModelSummary s = OnnxReader.summarize(half);
        assertTrue(s.inputs().get(0).startsWith("image: float16["), s.inputs().toString());
        Map<String, Tensor> hin = Map.of("image", OnnxTensors.toHalf(in.get("image")));
        Tensor y = run(half, hin).get("probs");
        assertEquals(DType.HALF, y.dtype());
        ModelProto hm = OnnxReader.read(half);
        NodeProto softmax = hm.getGraph().getNodeList().stream().filter(n -> n.getOpType().equals("Softmax"))
                .findFirst().orElseThrow();
        assertTrue(hm.getGraph().getNodeList().stream().anyMatch(n -> n.getOpType().equals("Cast")
                && n.getOutput(0).equals(softmax.getInput(0))), "Softmax kept in float32 behind a Cast");
        TensorComparison ch = TensorComparison.compare(run(f32, in).get("probs"), OnnxTensors.halfToFloat(y));
        assertTrue(ch.within(1e-2), ch.toString());
    }

    @Test
    void int8QdqMatchesFakeQuantSimulationWithinOneStep() throws Exception {
        Graph g = TestGraphs.cnn(6);
        Map<String, Tensor> in = RandomInputs.forSignature(g.inputs(), 12, 4);
        Map<String, Float> outAmax = MinMaxCalibration.minMax(g, in, MinMaxCalibration.ortFp32(in));
        assertTrue(g.quantization().size() >= 5, g.quantization().keySet().toString());
        Path q = dir.resolve("int8.onnx");
        ExportResult r = OnnxExporter.builder().precision(Precision.INT8).build().export(g, q);
        System.out.println("INT8 export: " + r.onnxOps());
        ModelProto m = OnnxReader.read(q);
        assertQdqPlacement(m);
        Path sim = dir.resolve("sim.onnx");
        Files.write(sim, QdqSimulation.simulate(m).toByteArray());
        Tensor ort = run(q, in).get("probs");
        Tensor simulated = run(sim, in).get("probs");
        float step = outAmax.get("probs") / 127f;
        TensorComparison c = TensorComparison.compare(simulated, ort);
        System.out.println("hand-built CNN INT8 QDQ (ORT) vs fake-quant simulation: " + c + ", one output step "
                + step);
        assertTrue(c.maxAbsError() <= step, c + " > one step " + step);
        Path f32 = dir.resolve("f32.onnx");
        OnnxExporter.fp32().export(g, f32);
        System.out.println("hand-built CNN INT8 vs FP32: " + TensorComparison.compare(run(f32, in).get("probs"), ort));
    }

    /** TensorRT's rules: Q/DQ feed Conv/MatMul inputs (weights per channel on axis 0 for OIHW); none after them. */
    static void assertQdqPlacement(ModelProto m) {
        List<NodeProto> nodes = m.getGraph().getNodeList();
        for (NodeProto n : nodes) {
            if (n.getOpType().equals("Conv") || n.getOpType().equals("MatMul")) {
                for (int i = 0; i < 2; i++) {
                    String in = n.getInput(i);
                    NodeProto p = nodes.stream().filter(x -> x.getOutput(0).equals(in)).findFirst().orElse(null);
                    assertTrue(p != null && p.getOpType().equals("DequantizeLinear"), n.getName() + " input " + i
                            + " is not fed by DequantizeLinear");
                }
                String out = n.getOutput(0);
                assertTrue(nodes.stream().noneMatch(x -> x.getOpType().equals("QuantizeLinear")
                        && x.getInput(0).equals(out)), "no Q right on the output of " + n.getName());
            }
            if (n.getOpType().equals("DequantizeLinear") && n.getAttributeCount() > 0) {
                NodeProto user = nodes.stream().filter(x -> x.getInputList().contains(n.getOutput(0))).findFirst()
                        .orElseThrow();
                long axis = n.getAttribute(0).getI();
                assertEquals(user.getOpType().equals("Conv") ? 0 : 1, axis, "weight axis for " + user.getName());
            }
        }
    }

    @Test
    void int8WeightsOnlyHasInt8InitializersAndStaysClose() {
        Graph g = TestGraphs.cnn(7);
        Map<String, Tensor> in = RandomInputs.forSignature(g.inputs(), 13, 4);
        Path f32 = dir.resolve("f32.onnx");
        Path w8 = dir.resolve("w8.onnx");
        OnnxExporter.fp32().export(g, f32);
        OnnxExporter.builder().precision(Precision.INT8_WEIGHTS_ONLY).build().export(g, w8);
        ModelProto m = OnnxReader.read(w8);
        long int8 = m.getGraph().getInitializerList().stream().filter(t -> t.getDataType() == 3
                && t.getDimsCount() >= 2).count();
        assertEquals(4, int8, "3 conv + 1 dense weights as int8");
        assertEquals(0, OnnxReader.summarize(m).count("QuantizeLinear"));
        TensorComparison c = TensorComparison.compare(run(f32, in).get("probs"), run(w8, in).get("probs"));
        System.out.println("hand-built CNN INT8 weights-only vs FP32: " + c);
        assertTrue(c.within(0.05), c.toString());
    }
}
