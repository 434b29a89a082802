package dev.kiln.tensorflow;

import dev.kiln.KilnException;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

/** Frozen GraphDef files written node by node, for what {@link ExampleModels}' SavedModels cannot show. */
public final class FrozenGraphExamples {
    private FrozenGraphExamples() {
    }

    private static AttrValue type(DataType t) {
        return AttrValue.newBuilder().setType(t).build();
    }

    private static NodeDef constant(String name, Tensor value) {
        return NodeDef.newBuilder().setName(name).setOp("Const").putAttr("dtype", type(DataType.forNumber(
                value.dtype().tfCode()))).putAttr("value", AttrValue.newBuilder().setTensor(GraphDefs.toProto(value))
                .build()).build();
    }

    private static NodeDef op(String name, String op, DataType t, String... inputs) {
        NodeDef.Builder b = NodeDef.newBuilder().setName(name).setOp(op).putAttr("T", type(t));
        for (String in : inputs) {
            b.addInput(in);
        }
        return b.build();
    }

    /**
     * A frozen graph shaped like a keyword-spotting model with its audio front end, for cutting at an inner tensor:
     * wav (string [8]) → StringToNumber → Reshape_1 [1,8] (a constant shape, or {@code dims} fed at run time when
     * {@code dynamicShape}) → [1,2,4,1] → Conv2D 1×1 1→3 → Relu → [1,24] → MatMul 24×4 → labels_softmax.
     */
    public static Path stringFrontEnd(Path pb, boolean dynamicShape) {
        Random r = new Random(7);
        float[] w = new float[3];
        float[] fc = new float[24 * 4];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) r.nextGaussian();
        }
        for (int i = 0; i < fc.length; i++) {
            fc[i] = (float) r.nextGaussian();
        }
        GraphDef.Builder g = GraphDef.newBuilder();
        g.addNode(NodeDef.newBuilder().setName("wav").setOp("Placeholder").putAttr("dtype", type(DataType.DT_STRING))
                .putAttr("shape", AttrValue.newBuilder().setShape(GraphDefs.toProto(Shape.of(8))).build()));
        g.addNode(NodeDef.newBuilder().setName("features").setOp("StringToNumber").addInput("wav")
                .putAttr("out_type", type(DataType.DT_FLOAT)));
        if (dynamicShape) {
            g.addNode(NodeDef.newBuilder().setName("dims").setOp("Placeholder").putAttr("dtype",
                    type(DataType.DT_INT32)));
            g.addNode(op("Reshape_1", "Reshape", DataType.DT_FLOAT, "features", "dims")
                    .toBuilder().putAttr("Tshape", type(DataType.DT_INT32)).build());
        } else {
            g.addNode(constant("shape_1", Tensor.ofInts(Shape.of(2), 1, 8)));
            g.addNode(op("Reshape_1", "Reshape", DataType.DT_FLOAT, "features", "shape_1")
                    .toBuilder().putAttr("Tshape", type(DataType.DT_INT32)).build());
        }
        g.addNode(constant("image_shape", Tensor.ofInts(Shape.of(4), 1, 2, 4, 1)));
        g.addNode(op("image", "Reshape", DataType.DT_FLOAT, "Reshape_1", "image_shape")
                .toBuilder().putAttr("Tshape", type(DataType.DT_INT32)).build());
        g.addNode(constant("conv/w", Tensor.ofFloats(Shape.of(1, 1, 1, 3), w)));
        g.addNode(op("conv", "Conv2D", DataType.DT_FLOAT, "image", "conv/w").toBuilder()
                .putAttr("strides", AttrValue.newBuilder().setList(AttrValue.ListValue.newBuilder().addI(1).addI(1)
                        .addI(1).addI(1)).build())
                .putAttr("padding", AttrValue.newBuilder().setS(com.google.protobuf.ByteString.copyFromUtf8("VALID"))
                        .build()).build());
        g.addNode(op("relu", "Relu", DataType.DT_FLOAT, "conv"));
        g.addNode(constant("flat_shape", Tensor.ofInts(Shape.of(2), 1, 24)));
        g.addNode(op("flat", "Reshape", DataType.DT_FLOAT, "relu", "flat_shape")
                .toBuilder().putAttr("Tshape", type(DataType.DT_INT32)).build());
        g.addNode(constant("fc/w", Tensor.ofFloats(Shape.of(24, 4), fc)));
        g.addNode(op("logits", "MatMul", DataType.DT_FLOAT, "flat", "fc/w"));
        g.addNode(op("labels_softmax", "Softmax", DataType.DT_FLOAT, "logits"));
        try {
            Files.createDirectories(pb.toAbsolutePath().getParent());
            Files.write(pb, g.build().toByteArray());
        } catch (IOException e) {
            throw KilnException.io("cannot write " + pb + ": " + e.getMessage(), e);
        }
        return pb;
    }
}
