package dev.kiln.tensorrt;

import dev.kiln.onnx.proto.Onnx.GraphProto;
import dev.kiln.onnx.proto.Onnx.ModelProto;
import dev.kiln.onnx.proto.Onnx.NodeProto;
import dev.kiln.onnx.proto.Onnx.OperatorSetIdProto;
import dev.kiln.onnx.proto.Onnx.TensorProto;
import dev.kiln.onnx.proto.Onnx.TensorShapeProto;
import dev.kiln.onnx.proto.Onnx.TypeProto;
import dev.kiln.onnx.proto.Onnx.ValueInfoProto;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Small ONNX models made by code for the tests: y = Relu(x · W) with x [batch, 4] (batch dynamic or fixed), W [4, 3];
 * optionally with Q/DQ on x (the INT8 layout) or a float16 input cast to float32 (the FP16 layout).
 */
final class TestOnnx {
    enum Kind { FP32, QDQ, FP16 }

    static final float[] W = {0.5f, -1f, 2f, 1f, 0.25f, -0.5f, -2f, 1.5f, 0f, 0.75f, -0.25f, 1f};

    private TestOnnx() {
    }

    /** Writes the model; {@code batch} -1 makes the batch dimension dynamic ("N"). */
    static Path write(Path file, Kind kind, long batch) throws IOException {
        GraphProto.Builder g = GraphProto.newBuilder().setName("test");
        int inType = kind == Kind.FP16 ? TensorProto.DataType.FLOAT16_VALUE : TensorProto.DataType.FLOAT_VALUE;
        g.addInput(value("x", inType, batch, 4));
        g.addOutput(value("y", TensorProto.DataType.FLOAT_VALUE, batch, 3));
        TensorProto.Builder w = TensorProto.newBuilder().setName("W").addDims(4).addDims(3)
                .setDataType(TensorProto.DataType.FLOAT_VALUE);
        for (float v : W) {
            w.addFloatData(v);
        }
        g.addInitializer(w);
        String x = "x";
        if (kind == Kind.FP16) {
            g.addNode(NodeProto.newBuilder().setOpType("Cast").setName("cast_x").addInput("x").addOutput("x32")
                    .addAttribute(dev.kiln.onnx.proto.Onnx.AttributeProto.newBuilder().setName("to")
                            .setType(dev.kiln.onnx.proto.Onnx.AttributeProto.AttributeType.INT)
                            .setI(TensorProto.DataType.FLOAT_VALUE)));
            x = "x32";
        }
        if (kind == Kind.QDQ) {
            g.addInitializer(TensorProto.newBuilder().setName("x_scale").setDataType(TensorProto.DataType.FLOAT_VALUE)
                    .addFloatData(0.02f));
            g.addInitializer(TensorProto.newBuilder().setName("x_zp").setDataType(TensorProto.DataType.INT8_VALUE)
                    .addInt32Data(0));
            g.addNode(NodeProto.newBuilder().setOpType("QuantizeLinear").setName("x_q").addInput("x")
                    .addInput("x_scale").addInput("x_zp").addOutput("x_quant"));
            g.addNode(NodeProto.newBuilder().setOpType("DequantizeLinear").setName("x_dq").addInput("x_quant")
                    .addInput("x_scale").addInput("x_zp").addOutput("x_deq"));
            x = "x_deq";
        }
        g.addNode(NodeProto.newBuilder().setOpType("MatMul").setName("matmul").addInput(x).addInput("W")
                .addOutput("xw"));
        g.addNode(NodeProto.newBuilder().setOpType("Relu").setName("relu").addInput("xw").addOutput("y"));
        ModelProto m = ModelProto.newBuilder().setIrVersion(8).setProducerName("kiln-test")
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(17)).setGraph(g).build();
        Files.write(file, m.toByteArray());
        return file;
    }

    private static ValueInfoProto value(String name, int type, long batch, long width) {
        TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
        s.addDim(batch < 0 ? TensorShapeProto.Dimension.newBuilder().setDimParam("N")
                : TensorShapeProto.Dimension.newBuilder().setDimValue(batch));
        s.addDim(TensorShapeProto.Dimension.newBuilder().setDimValue(width));
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(
                TypeProto.Tensor.newBuilder().setElemType(type).setShape(s))).build();
    }
}
