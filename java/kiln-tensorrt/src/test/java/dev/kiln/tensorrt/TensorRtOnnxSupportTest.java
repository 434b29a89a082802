package dev.kiln.tensorrt;

import dev.kiln.eval.RandomInputs;
import dev.kiln.graph.Graph;
import dev.kiln.graph.HandBuiltGraphs;
import dev.kiln.graph.Tensor;
import dev.kiln.onnx.Int8Target;
import dev.kiln.onnx.MinMaxCalibration;
import dev.kiln.onnx.OnnxExporter;
import dev.kiln.onnx.OnnxRunner;
import dev.kiln.onnx.Precision;
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

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * TensorRT's ONNX support table applied to real exports (Kiln's FP32 and both INT8 layouts of a CNN) and to small
 * models made by hand, each loaded by ONNX Runtime first so that every model judged is valid ONNX.
 */
class TensorRtOnnxSupportTest {
    @TempDir
    Path dir;

    @Test
    void tableIsTensorRt1015sMatrix() {
        assertTrue(TensorRtOnnxSupport.table().size() > 190, "rows: " + TensorRtOnnxSupport.table().size());
        assertTrue(TensorRtOnnxSupport.supportsOperator("Conv"));
        assertTrue(TensorRtOnnxSupport.supportsOperator("LayerNormalization"));
        assertFalse(TensorRtOnnxSupport.supportsOperator("MatMulInteger"));
        assertFalse(TensorRtOnnxSupport.supportsOperator("BitwiseAnd"));
        assertFalse(TensorRtOnnxSupport.supportsOperator("NoSuchOp"));
        assertEquals("1-D or 2-D spatial input; equal begin and end pads per axis",
                TensorRtOnnxSupport.operator("DeformConv").restriction());
    }

    @Test
    void kilnsFp32AndTensorRtInt8ExportsOfACnnBuild() throws IOException {
        Graph g = HandBuiltGraphs.cnn(3);
        ModelProto fp32 = OnnxExporter.fp32().toModel(g);
        TensorRtOnnxSupport.Report r = TensorRtOnnxSupport.check(fp32);
        assertTrue(r.buildable(), r.summary() + " " + r.problems());
        assertEquals(fp32.getGraph().getNodeCount(), r.nodes());
        assertTrue(r.summary().startsWith("TensorRT 10.15 ONNX parser: all " + r.nodes() + " nodes supported"),
                r.summary());

        ModelProto int8 = int8(HandBuiltGraphs.cnn(3), Int8Target.TENSORRT);
        TensorRtOnnxSupport.Report q = TensorRtOnnxSupport.check(int8);
        assertTrue(q.buildable(), q.summary() + " " + q.problems());
        assertTrue(int8.getGraph().getNodeList().stream().anyMatch(n -> n.getOpType().equals("DequantizeLinear")));
    }

    @Test
    void onnxRuntimeLayoutInt8IsRefusedForItsUint8Activations() throws IOException {
        ModelProto ort = int8(HandBuiltGraphs.cnn(3), Int8Target.ONNXRUNTIME);
        TensorRtOnnxSupport.Report r = TensorRtOnnxSupport.check(ort);
        assertFalse(r.buildable());
        // uint8 codes with zero points: TensorRT dequantizes INT8, FP8, FP4, INT4 only
        TensorRtOnnxSupport.NodeProblem p = r.problems().stream()
                .filter(x -> x.op().equals("DequantizeLinear") && x.elementType().equals("UINT8")).findFirst()
                .orElseThrow(() -> new AssertionError("no uint8 DequantizeLinear flagged: " + r.problems()));
        assertEquals(TensorRtOnnxSupport.Problem.ELEMENT_TYPE, p.problem());
        assertTrue(p.reason().contains("INT8"), p.reason());
        assertTrue(r.summary().contains("DequantizeLinear"), r.summary());
    }

    @Test
    void unsupportedOperatorElementTypeAndRestrictionAreEachNamedWithTheirNode() throws IOException {
        GraphProto.Builder g = GraphProto.newBuilder().setName("t");
        g.addInput(value("a", TensorProto.DataType.INT32_VALUE, 2, 3));
        g.addInput(value("b", TensorProto.DataType.INT32_VALUE, 3, 4));
        g.addInput(value("img", TensorProto.DataType.FLOAT_VALUE, 1, 1, 4, 4));
        g.addInput(value("m", TensorProto.DataType.INT32_VALUE, 2, 3));
        g.addOutput(value("ab", TensorProto.DataType.INT32_VALUE, 2, 4));
        g.addOutput(value("big", TensorProto.DataType.FLOAT_VALUE, 1, 1, 8, 8));
        g.addOutput(value("masked", TensorProto.DataType.INT32_VALUE, 2, 3));
        g.addInitializer(TensorProto.newBuilder().setName("scales").setDataType(TensorProto.DataType.FLOAT_VALUE)
                .addDims(4).addFloatData(1).addFloatData(1).addFloatData(2).addFloatData(2));
        // an integer MatMul: valid ONNX, but TensorRT multiplies floating point only
        g.addNode(NodeProto.newBuilder().setOpType("MatMul").setName("int_matmul").addInput("a").addInput("b")
                .addOutput("ab"));
        // a bicubic resize: TensorRT resizes with nearest or linear
        g.addNode(NodeProto.newBuilder().setOpType("Resize").setName("bicubic").addInput("img").addInput("")
                .addInput("scales").addOutput("big").addAttribute(AttributeProto.newBuilder().setName("mode")
                        .setType(AttributeProto.AttributeType.STRING)
                        .setS(com.google.protobuf.ByteString.copyFromUtf8("cubic"))));
        // bitwise ops: no TensorRT importer
        g.addNode(NodeProto.newBuilder().setOpType("BitwiseAnd").setName("mask_bits").addInput("a").addInput("m")
                .addOutput("masked"));
        ModelProto m = ModelProto.newBuilder().setIrVersion(8).setProducerName("kiln-test")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(18)).setGraph(g).build();
        Path file = dir.resolve("mixed.onnx");
        Files.write(file, m.toByteArray());
        try (OnnxRunner ort = OnnxRunner.open(file, 1)) {
            assertEquals(4, ort.inputInfo().size()); // ONNX Runtime takes it: the model itself is valid
        }

        TensorRtOnnxSupport.Report r = TensorRtOnnxSupport.check(m);
        assertEquals(3, r.problems().size(), r.problems().toString());
        assertEquals(Map.of("BitwiseAnd", 1, "MatMul", 1, "Resize", 1), r.unsupportedOps());
        TensorRtOnnxSupport.NodeProblem matmul = r.problems().get(0);
        assertEquals("int_matmul", matmul.node());
        assertEquals(TensorRtOnnxSupport.Problem.ELEMENT_TYPE, matmul.problem());
        assertEquals("INT32", matmul.elementType());
        TensorRtOnnxSupport.NodeProblem resize = r.problems().get(1);
        assertEquals(TensorRtOnnxSupport.Problem.RESTRICTION, resize.problem());
        assertTrue(resize.toString().contains("'bicubic' (Resize, FP32): mode 'cubic'"), resize.toString());
        TensorRtOnnxSupport.NodeProblem bits = r.problems().get(2);
        assertEquals(TensorRtOnnxSupport.Problem.OPERATOR, bits.problem());
        assertTrue(r.summary().contains("3 of 3 nodes not supported"), r.summary());
    }

    @Test
    void opsetOutsideTheParsersRangeIsNamed() {
        ModelProto m = ModelProto.newBuilder().setIrVersion(3)
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(7))
                .setGraph(GraphProto.newBuilder().setName("empty")).build();
        TensorRtOnnxSupport.Report r = TensorRtOnnxSupport.check(m);
        assertFalse(r.buildable());
        assertTrue(r.summary().contains("opset 7 is outside the parser's range 9 to 24"), r.summary());
    }

    @Test
    void aComputedReduceAxesBreaksTheConstantAxesRestriction() {
        GraphProto.Builder g = GraphProto.newBuilder().setName("t");
        g.addInput(value("x", TensorProto.DataType.FLOAT_VALUE, 2, 3));
        g.addInput(value("axes", TensorProto.DataType.INT64_VALUE, 1));
        g.addOutput(value("s", TensorProto.DataType.FLOAT_VALUE, 2));
        g.addNode(NodeProto.newBuilder().setOpType("ReduceSum").setName("sum").addInput("x").addInput("axes")
                .addOutput("s"));
        ModelProto m = ModelProto.newBuilder().setIrVersion(8)
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(18)).setGraph(g).build();
        TensorRtOnnxSupport.Report r = TensorRtOnnxSupport.check(m);
        assertEquals(1, r.problems().size());
        assertTrue(r.problems().get(0).reason().contains("axes must be a constant ('axes' is computed)"),
                r.problems().toString());
    }

    @Test
    void aKeptLoopWithScanOutputsNeedsATripCountFromShapesAndAKeptLstmPasses() throws IOException {
        // a counted loop (i < n, n read from the input's shape): its Loop gets M from the shapes, which TensorRT takes
        Path counted = dev.kiln.tensorflow.WhileLoopGraphs.rnn(dir.resolve("counted.pb"), -1, true);
        ModelProto withM = OnnxExporter.fp32().toModel(dev.kiln.tensorflow.TfImporter.load(counted));
        NodeProto loopNode = withM.getGraph().getNodeList().stream().filter(n -> n.getOpType().equals("Loop"))
                .findFirst().orElseThrow();
        assertFalse(loopNode.getInput(0).isEmpty(), "a trip count M");
        assertTrue(TensorRtOnnxSupport.check(withM).problems().isEmpty(),
                TensorRtOnnxSupport.check(withM).problems().toString());
        // the same loop with its condition written as LogicalAnd(i < n, i < n): a while loop, no M
        Path other = dev.kiln.tensorflow.WhileLoopGraphs.rnn(dir.resolve("while.pb"), -1, false);
        TensorRtOnnxSupport.Report r = TensorRtOnnxSupport.check(OnnxExporter.fp32().toModel(
                dev.kiln.tensorflow.TfImporter.load(other)));
        assertEquals(1, r.problems().size(), r.problems().toString());
        assertEquals("Loop", r.problems().get(0).op());
        assertTrue(r.problems().get(0).reason().contains("trip count M known from the input shapes (here none"),
                r.problems().toString());

        // a body node TensorRT cannot build is named through its Loop
        int at = withM.getGraph().getNodeList().indexOf(loopNode);
        NodeProto.Builder loop = loopNode.toBuilder();
        for (int i = 0; i < loop.getAttributeCount(); i++) {
            if (loop.getAttribute(i).getName().equals("body")) {
                var body = loop.getAttribute(i).getG().toBuilder().addNode(NodeProto.newBuilder().setName("odd")
                        .setOpType("StringNormalizer").addInput(loop.getAttribute(i).getG().getInput(0).getName())
                        .addOutput("odd_out"));
                loop.setAttribute(i, loop.getAttribute(i).toBuilder().setG(body));
            }
        }
        ModelProto.Builder odd = withM.toBuilder();
        odd.getGraphBuilder().setNode(at, loop);
        TensorRtOnnxSupport.Report inBody = TensorRtOnnxSupport.check(odd.build());
        assertEquals(1, inBody.problems().size(), inBody.problems().toString());
        String loopName = loopNode.getName().isEmpty() ? loopNode.getOutput(0) : loopNode.getName();
        assertEquals(loopName + "/body/odd", inBody.problems().get(0).node());
        assertEquals("StringNormalizer", inBody.problems().get(0).op());

        Path lstm = dev.kiln.tensorflow.KerasLstmModels.anyLength(dev.kiln.tensorflow.KerasLstmModels.shared(),
                dir.resolve("lstm"));
        ModelProto whole = OnnxExporter.fp32().toModel(dev.kiln.tensorflow.TfImporter.load(lstm));
        assertTrue(whole.getGraph().getNodeList().stream().anyMatch(n -> n.getOpType().equals("LSTM")));
        assertTrue(TensorRtOnnxSupport.check(whole).problems().isEmpty(),
                TensorRtOnnxSupport.check(whole).problems().toString());
    }

    private ModelProto int8(Graph g, Int8Target target) {
        Map<String, Tensor> in = RandomInputs.forSignature(g.inputs(), 7, 2);
        MinMaxCalibration.minMax(g, in, MinMaxCalibration.ortFp32(in), target);
        return OnnxExporter.builder().precision(Precision.INT8).int8Target(target).build().toModel(g);
    }

    private static ValueInfoProto value(String name, int type, long... dims) {
        TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
        for (long d : dims) {
            s.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(d));
        }
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(
                TypeProto.Tensor.newBuilder().setElemType(type).setShape(s))).build();
    }
}
