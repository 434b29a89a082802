package dev.kiln.onnx;

import dev.kiln.eval.RandomInputs;
import dev.kiln.eval.TensorComparison;
import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import dev.kiln.onnx.OnnxRunner.IntegerKernels;
import dev.kiln.onnx.proto.Onnx.AttributeProto;
import dev.kiln.onnx.proto.Onnx.GraphProto;
import dev.kiln.onnx.proto.Onnx.ModelProto;
import dev.kiln.onnx.proto.Onnx.NodeProto;
import dev.kiln.onnx.proto.Onnx.OperatorSetIdProto;
import dev.kiln.onnx.proto.Onnx.TensorProto;
import dev.kiln.onnx.proto.Onnx.TensorShapeProto;
import dev.kiln.onnx.proto.Onnx.TypeProto;
import dev.kiln.onnx.proto.Onnx.ValueInfoProto;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * ONNX Runtime's U8S8 saturation on x86 CPUs without VNNI: a QDQ MatMul and a QDQ Conv whose uint8 activations and
 * int8 weights make every VPMADDUBSW pair sum overflow int16. With Kiln's session option ORT must equal the float
 * simulation on any machine; the saturation check must flag both models whatever the machine; and on a machine
 * without VNNI, ORT's stock settings must really give another answer (which shows this test can see the defect).
 */
class Int8SaturationTest {
    private static final int K = 8;
    @TempDir
    Path dir;

    /** y = DQ(Q(x)) @ DQ(w): x codes 255 (x = 1, scale 1/255), w codes 127 (w = 1, scale 1/127): y = K exactly. */
    private static ModelProto qdqMatMul(byte weightCode) {
        GraphProto.Builder g = GraphProto.newBuilder().setName("saturating_matmul");
        g.addInput(valueInfo("x", 1, K));
        g.addOutput(valueInfo("y", 1, 2));
        g.addInitializer(scalarF("x_scale", 1f / 255));
        g.addInitializer(scalarU8("x_zp"));
        byte[] w = new byte[K * 2];
        for (int k = 0; k < K; k++) {
            w[k * 2] = weightCode;                               // column 0: every pair overflows
            w[k * 2 + 1] = (byte) (k % 2 == 0 ? 1 : -1);         // column 1: tiny, exact either way
        }
        g.addInitializer(OnnxTensors.toProto("w", Tensor.ofBytes(DType.INT8, Shape.of(K, 2), w)));
        g.addInitializer(OnnxTensors.toProto("w_scale", Tensor.ofFloats(Shape.of(2), 1f / 127, 1f / 127)));
        g.addInitializer(OnnxTensors.toProto("w_zp", Tensor.ofBytes(DType.INT8, Shape.of(2), new byte[2])));
        g.addInitializer(scalarF("y_scale", (float) K / 255));
        g.addInitializer(scalarU8("y_zp"));
        g.addNode(node("QuantizeLinear", "xq", List.of("x", "x_scale", "x_zp"), "x_q"));
        g.addNode(node("DequantizeLinear", "xdq", List.of("x_q", "x_scale", "x_zp"), "x_dq"));
        g.addNode(node("DequantizeLinear", "wdq", List.of("w", "w_scale", "w_zp"), "w_dq").toBuilder()
                .addAttribute(AttributeProto.newBuilder().setName("axis").setI(1).setType(AttributeProto.AttributeType.INT))
                .build());
        g.addNode(node("MatMul", "matmul", List.of("x_dq", "w_dq"), "mm"));
        g.addNode(node("QuantizeLinear", "yq", List.of("mm", "y_scale", "y_zp"), "y_q"));
        g.addNode(node("DequantizeLinear", "ydq", List.of("y_q", "y_scale", "y_zp"), "y"));
        return model(g);
    }

    /** A 1x1 Conv over K input channels with the same codes: the QLinearConv path. */
    private static ModelProto qdqConv() {
        GraphProto.Builder g = GraphProto.newBuilder().setName("saturating_conv");
        g.addInput(valueInfo("x", 1, K, 2, 2));
        g.addOutput(valueInfo("y", 1, 1, 2, 2));
        g.addInitializer(scalarF("x_scale", 1f / 255));
        g.addInitializer(scalarU8("x_zp"));
        byte[] w = new byte[K];
        java.util.Arrays.fill(w, (byte) 127);
        g.addInitializer(OnnxTensors.toProto("w", Tensor.ofBytes(DType.INT8, Shape.of(1, K, 1, 1), w)));
        g.addInitializer(OnnxTensors.toProto("w_scale", Tensor.ofFloats(Shape.of(1), 1f / 127)));
        g.addInitializer(OnnxTensors.toProto("w_zp", Tensor.ofBytes(DType.INT8, Shape.of(1), new byte[1])));
        g.addInitializer(scalarF("y_scale", (float) K / 255));
        g.addInitializer(scalarU8("y_zp"));
        g.addNode(node("QuantizeLinear", "xq", List.of("x", "x_scale", "x_zp"), "x_q"));
        g.addNode(node("DequantizeLinear", "xdq", List.of("x_q", "x_scale", "x_zp"), "x_dq"));
        g.addNode(node("DequantizeLinear", "wdq", List.of("w", "w_scale", "w_zp"), "w_dq").toBuilder()
                .addAttribute(AttributeProto.newBuilder().setName("axis").setI(0).setType(AttributeProto.AttributeType.INT))
                .build());
        g.addNode(node("Conv", "conv", List.of("x_dq", "w_dq"), "c"));
        g.addNode(node("QuantizeLinear", "yq", List.of("c", "y_scale", "y_zp"), "y_q"));
        g.addNode(node("DequantizeLinear", "ydq", List.of("y_q", "y_scale", "y_zp"), "y"));
        return model(g);
    }

    private Map<String, Tensor> ones(long... dims) {
        int n = (int) Shape.of(dims).numElements();
        float[] f = new float[n];
        java.util.Arrays.fill(f, 1f);
        return Map.of("x", Tensor.ofFloats(Shape.of(dims), f));
    }

    private static Tensor run(Path p, Map<String, Tensor> in, IntegerKernels kernels) {
        return run(p, in, kernels, "y");
    }

    private static Tensor run(Path p, Map<String, Tensor> in, IntegerKernels kernels, String output) {
        try (OnnxRunner r = OnnxRunner.open(p, 1, true, kernels)) {
            return r.run(in).get(output);
        }
    }

    private void exactOnEveryMachineAndFlagged(ModelProto m, Map<String, Tensor> in, String what) throws Exception {
        Path onnx = dir.resolve(what + ".onnx");
        Path sim = dir.resolve(what + "-sim.onnx");
        Files.write(onnx, m.toByteArray());
        Files.write(sim, QdqSimulation.simulate(m).toByteArray());
        float step = (float) K / 255;
        Tensor simulated = run(sim, in, IntegerKernels.EXACT);
        assertEquals(K, simulated.floats()[0], 1e-4, "the simulation computes 255 x 127 x K exactly");

        Tensor exact = run(onnx, in, IntegerKernels.EXACT);
        TensorComparison c = TensorComparison.compare(simulated, exact);
        System.out.println(what + ": ORT with " + OnnxRunner.EXACT_INT8_OPTION + "=1 vs simulation: " + c);
        assertTrue(c.maxAbsError() <= step, what + ": " + c + " > one step " + step);

        assertEquals(IntegerKernels.EXACT, OnnxRunner.resolve(onnx, IntegerKernels.AUTO), "not saturation-safe");
        TensorComparison auto = TensorComparison.compare(simulated, run(onnx, in, IntegerKernels.AUTO));
        assertTrue(auto.maxAbsError() <= step, what + " with Kiln's default (AUTO) kernels: " + auto);

        Int8Saturation s = Int8Saturation.check(m);
        System.out.println(what + ": " + s.summary() + " " + s.atRisk());
        assertFalse(s.safe(), s.summary());
        assertEquals(1, s.integerLayers());
        assertEquals(1, s.atRisk().size());
        assertEquals(254, s.atRisk().get(0).worstPairSum());

        CpuFeatures cpu = CpuFeatures.host();
        Tensor stock = run(onnx, in, IntegerKernels.STOCK);
        TensorComparison cs = TensorComparison.compare(simulated, stock);
        System.out.println(what + ": ORT stock settings on this CPU (" + cpu.summary() + ") vs simulation: " + cs);
        if (cpu.u8s8Saturates()) {
            assertTrue(cs.maxAbsError() > 10 * step, "stock U8S8 kernels saturate on this CPU: " + cs);
        } else {
            assertTrue(cs.maxAbsError() <= step, "VNNI/AMX/non-x86 kernels are exact: " + cs);
        }
    }

    @Test
    void matMulWhosePairsOverflowInt16IsExactWithKilnsSessionOptionAndFlaggedAtRisk() throws Exception {
        exactOnEveryMachineAndFlagged(qdqMatMul((byte) 127), ones(1, K), "matmul");
    }

    @Test
    void convWhosePairsOverflowInt16IsExactWithKilnsSessionOptionAndFlaggedAtRisk() throws Exception {
        exactOnEveryMachineAndFlagged(qdqConv(), ones(1, K, 2, 2), "conv");
    }

    @Test
    void pairSumOf128IsSafeAnd129IsNot() {
        assertTrue(Int8Saturation.check(qdqMatMul((byte) 64)).safe(), "64 + 64 = 128: 255 x 128 fits int16");
        Int8Saturation s = Int8Saturation.check(qdqMatMul((byte) 65));
        assertFalse(s.safe());
        assertEquals(130, s.atRisk().get(0).worstPairSum());
        assertEquals(1, s.atRisk().get(0).channelsAtRisk(), "only column 0; column 1 has |w| = 1");
        assertEquals(2, s.atRisk().get(0).channels());
    }

    @Test
    void defaultOnnxRuntimeExportIsSaturationSafeAndExactWithStockSettings() throws Exception {
        Graph g = TestGraphs.cnn(6);
        Map<String, Tensor> in = RandomInputs.forSignature(g.inputs(), 12, 4);
        Map<String, Float> outAmax = MinMaxCalibration.minMax(g, in, MinMaxCalibration.ortFp32(in),
                Int8Target.ONNXRUNTIME);
        Path reduced = dir.resolve("reduced.onnx");
        ExportResult r = OnnxExporter.builder().precision(Precision.INT8).int8Target(Int8Target.ONNXRUNTIME).build()
                .export(g, reduced);
        System.out.println("default ORT-layout export: " + r.saturation().summary());
        assertTrue(r.saturation().safe(), r.saturation().summary());
        assertEquals(4, r.saturation().integerLayers(), "3 Conv + 1 MatMul");
        assertTrue(OnnxReader.read(reduced).getMetadataPropsList().stream()
                .anyMatch(p -> p.getKey().equals("kiln.int8_weight_range") && p.getValue().equals("REDUCED")));

        Path sim = dir.resolve("reduced-sim.onnx");
        Files.write(sim, QdqSimulation.simulate(OnnxReader.read(reduced)).toByteArray());
        float step = outAmax.get("probs") / 255f;
        TensorComparison c = TensorComparison.compare(run(sim, in, IntegerKernels.EXACT, "probs"),
                run(reduced, in, IntegerKernels.STOCK, "probs"));
        System.out.println("7-bit weights, ORT stock settings vs simulation: " + c + ", one step " + step);
        assertTrue(c.maxAbsError() <= step, c + " > one step " + step);

        ExportResult full = OnnxExporter.builder().precision(Precision.INT8).int8Target(Int8Target.ONNXRUNTIME)
                .int8WeightRange(Int8WeightRange.FULL).build().export(g, dir.resolve("full.onnx"));
        assertEquals(IntegerKernels.STOCK, OnnxRunner.resolve(reduced, IntegerKernels.AUTO), "safe: the fast kernels");
        assertEquals(IntegerKernels.EXACT, OnnxRunner.resolve(full.path(), IntegerKernels.AUTO));
        System.out.println("full-range ORT-layout export: " + full.saturation().summary());
        assertFalse(full.saturation().safe(), "full-range weights put pairs of 127s together");
        assertEquals(4, full.saturation().atRisk().size());

        ExportResult trt = OnnxExporter.builder().precision(Precision.INT8).build().export(g, dir.resolve("trt.onnx"));
        assertEquals(Int8WeightRange.FULL, OnnxExporter.builder().precision(Precision.INT8).build().int8WeightRange());
        assertFalse(trt.saturation().safe(), "TensorRT layout keeps full-range weights (Q of float weights read)");

        ExportResult f32 = OnnxExporter.fp32().export(g, dir.resolve("f32.onnx"));
        assertTrue(f32.saturation().safe());
        assertEquals(0, f32.saturation().integerLayers());
    }

    @Test
    void checkAnswersForAQdqModelFromAnotherTool() {
        Path p = OnnxReferenceTest.shared().resolve("onnx_qdq_polygraphy_qdq_conv/qdq_conv.onnx");
        assumeTrue(Files.isRegularFile(p), "skipped: " + p + " is absent (the shared ONNX test data)");
        Int8Saturation s = Int8Saturation.check(OnnxReader.read(p));
        System.out.println("Polygraphy's qdq_conv.onnx: " + s);
        // Q/DQ on the weights only, float activations: ORT runs the Conv in float, nothing to saturate
        assertEquals(0, s.integerLayers(), s.toString());
        assertTrue(s.safe());
    }

    @Test
    void activationTimesActivationMatMulCannotBeJudgedAndSaysWhy() {
        GraphProto.Builder g = GraphProto.newBuilder().setName("act_matmul");
        g.addInput(valueInfo("a", 2, 2));
        g.addInput(valueInfo("b", 2, 2));
        g.addOutput(valueInfo("y", 2, 2));
        g.addInitializer(scalarF("s", 0.1f));
        g.addInitializer(OnnxTensors.toProto("zp", Tensor.ofBytes(DType.INT8, Shape.of(), new byte[1])));
        g.addNode(node("QuantizeLinear", "aq", List.of("a", "s", "zp"), "a_q"));
        g.addNode(node("DequantizeLinear", "adq", List.of("a_q", "s", "zp"), "a_dq"));
        g.addNode(node("QuantizeLinear", "bq", List.of("b", "s", "zp"), "b_q"));
        g.addNode(node("DequantizeLinear", "bdq", List.of("b_q", "s", "zp"), "b_dq"));
        g.addNode(node("MatMul", "attention_scores", List.of("a_dq", "b_dq"), "y"));
        Int8Saturation s = Int8Saturation.check(model(g));
        assertFalse(s.safe());
        assertEquals(1, s.undetermined().size());
        assertTrue(s.summary().contains("cannot tell") && s.summary().contains("attention_scores")
                && s.summary().contains("run time"), s.summary());
    }

    @Test
    void cpuFeaturesReadFlags() {
        CpuFeatures zen3 = CpuFeatures.of("amd64", "fpu sse2 avx avx2 fma bmi2");
        assertTrue(zen3.u8s8Saturates());
        assertEquals("AVX2 yes, AVX-512 no, VNNI no, AMX no", zen3.summary());
        CpuFeatures skx = CpuFeatures.of("amd64", "avx2 avx512f avx512bw avx512dq");
        assertTrue(skx.u8s8Saturates(), "AVX-512 without VNNI still uses VPMADDUBSW");
        assertFalse(CpuFeatures.of("amd64", "avx2 avx512f avx512bw avx512_vnni").u8s8Saturates());
        assertFalse(CpuFeatures.of("amd64", "avx2 avx_vnni").u8s8Saturates());
        assertFalse(CpuFeatures.of("aarch64", "fp asimd asimddp").u8s8Saturates());
        System.out.println("this machine: " + CpuFeatures.host().summary() + "; " + CpuFeatures.host()
                .onnxRuntimeInt8Note());
    }

    // ---- ONNX building helpers ----

    private static ModelProto model(GraphProto.Builder g) {
        return ModelProto.newBuilder().setIrVersion(8).setProducerName("test")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(17)).setGraph(g).build();
    }

    private static NodeProto node(String op, String name, List<String> in, String out) {
        return NodeProto.newBuilder().setOpType(op).setName(name).addAllInput(in).addOutput(out).build();
    }

    private static ValueInfoProto valueInfo(String name, long... dims) {
        TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
        for (long d : dims) {
            s.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(d));
        }
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(
                TypeProto.Tensor.newBuilder().setElemType(TensorProto.DataType.FLOAT_VALUE).setShape(s))).build();
    }

    private static TensorProto scalarF(String name, float v) {
        return OnnxTensors.toProto(name, Tensor.scalar(v));
    }

    private static TensorProto scalarU8(String name) {
        return OnnxTensors.toProto(name, Tensor.ofBytes(DType.UINT8, Shape.of(), new byte[1]));
    }
}
