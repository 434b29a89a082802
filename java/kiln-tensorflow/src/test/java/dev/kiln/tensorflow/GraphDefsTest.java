package dev.kiln.tensorflow;

import com.google.protobuf.ByteString;
import dev.kiln.graph.AttrValue;
import dev.kiln.graph.DType;
import dev.kiln.graph.Node;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import org.junit.jupiter.api.Test;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.TensorProto;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

class GraphDefsTest {

    @Test
    void typedValueFieldsBroadcastTheLastValue() {
        TensorProto p = TensorProto.newBuilder().setDtype(DataType.DT_FLOAT)
                .setTensorShape(GraphDefs.toProto(Shape.of(2, 2))).addFloatVal(1.5f).addFloatVal(2f).build();
        assertArrayEquals(new float[] {1.5f, 2f, 2f, 2f}, GraphDefs.fromProto(p, "c").floats());
        TensorProto z = TensorProto.newBuilder().setDtype(DataType.DT_INT32)
                .setTensorShape(GraphDefs.toProto(Shape.of(3))).build();
        assertArrayEquals(new int[] {0, 0, 0}, GraphDefs.fromProto(z, "z").ints());
        TensorProto b = TensorProto.newBuilder().setDtype(DataType.DT_BOOL)
                .setTensorShape(GraphDefs.toProto(Shape.scalar())).addBoolVal(true).build();
        assertEquals(1, GraphDefs.fromProto(b, "b").asLongs()[0]);
    }

    @Test
    void tensorContentAndStringsRoundTrip() {
        Tensor t = Tensor.ofFloats(Shape.of(2, 3), 1, 2, 3, 4, 5, 6);
        Tensor back = GraphDefs.fromProto(GraphDefs.toProto(t), "t");
        assertEquals(t.type(), back.type());
        assertArrayEquals(t.floats(), back.floats());
        Tensor s = Tensor.ofStrings(Shape.of(2), List.of("a".getBytes(), "bc".getBytes()));
        assertEquals("bc", GraphDefs.fromProto(GraphDefs.toProto(s), "s").stringValue(1));
    }

    @Test
    void nodesKeepAttrsAndDropInternalOnes() {
        NodeDef nd = NodeDef.newBuilder().setName("conv").setOp("Conv2D").addInput("x").addInput("w")
                .putAttr("T", org.tensorflow.proto.AttrValue.newBuilder().setType(DataType.DT_FLOAT).build())
                .putAttr("strides", org.tensorflow.proto.AttrValue.newBuilder().setList(
                        org.tensorflow.proto.AttrValue.ListValue.newBuilder().addI(1).addI(2).addI(2).addI(1)).build())
                .putAttr("padding", org.tensorflow.proto.AttrValue.newBuilder().setS(ByteString.copyFromUtf8("SAME"))
                        .build())
                .putAttr("_output_shapes", org.tensorflow.proto.AttrValue.newBuilder().build()).build();
        Node n = GraphDefs.fromNodeDef(nd, List.of());
        assertEquals(DType.FLOAT, n.attrType("T"));
        assertArrayEquals(new long[] {1, 2, 2, 1}, n.attrInts("strides"));
        assertEquals("SAME", n.attrString("padding"));
        assertFalse(n.hasAttr("_output_shapes"));
        NodeDef again = GraphDefs.toNodeDef(n);
        assertEquals(List.of("x", "w"), again.getInputList());
        assertEquals(nd.getAttrOrThrow("strides"), again.getAttrOrThrow("strides"));
        assertEquals(AttrValue.of("SAME").getClass(), GraphDefs.fromProto(again.getAttrOrThrow("padding"), "c")
                .getClass());
    }

    @Test
    void largeConstantsLoseOnlyTheirValuesForShapeInference() {
        Tensor big = Tensor.ofFloats(Shape.of(128, 128), new float[128 * 128]);
        Tensor small = Tensor.ofInts(Shape.of(2), -1, 4);
        org.tensorflow.proto.GraphDef gd = org.tensorflow.proto.GraphDef.newBuilder()
                .addNode(GraphDefs.toNodeDef(Node.builder("w", "Const").attr("dtype", DType.FLOAT)
                        .attr("value", new AttrValue.TensorValue(big)).build()))
                .addNode(GraphDefs.toNodeDef(Node.builder("s", "Const").attr("dtype", DType.INT32)
                        .attr("value", new AttrValue.TensorValue(small)).build())).build();
        org.tensorflow.proto.GraphDef stripped = GraphDefs.withoutLargeConstantValues(gd);
        TensorProto w = stripped.getNode(0).getAttrOrThrow("value").getTensor();
        assertEquals(0, w.getTensorContent().size());
        assertEquals(GraphDefs.toProto(big.shape()), w.getTensorShape());
        assertEquals(gd.getNode(1), stripped.getNode(1));
        assertEquals(64 * 1024, gd.getNode(0).getAttrOrThrow("value").getTensor().getTensorContent().size());
    }
}
