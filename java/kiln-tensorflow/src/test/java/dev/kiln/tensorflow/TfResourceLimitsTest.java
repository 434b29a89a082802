package dev.kiln.tensorflow;

import dev.kiln.ErrorCode;
import dev.kiln.KilnException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.TensorProto;
import org.tensorflow.proto.TensorShapeProto;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A GraphDef declaring absurd sizes is refused before anything is allocated, naming the file, node and limit. */
class TfResourceLimitsTest {
    @TempDir
    Path tmp;

    private Path write(GraphDef gd) throws Exception {
        Path f = tmp.resolve("absurd.pb");
        Files.write(f, gd.toByteArray());
        return f;
    }

    private static AttrValue type(DataType t) {
        return AttrValue.newBuilder().setType(t).build();
    }

    /** x + c, where c is a float constant of {@code dims} holding one value (TensorFlow fills the rest with it). */
    private static GraphDef addConstant(long... dims) {
        TensorShapeProto.Builder s = TensorShapeProto.newBuilder();
        for (long d : dims) {
            s.addDimBuilder().setSize(d);
        }
        TensorProto value = TensorProto.newBuilder().setDtype(DataType.DT_FLOAT).setTensorShape(s).addFloatVal(1f)
                .build();
        return GraphDef.newBuilder()
                .addNode(NodeDef.newBuilder().setName("x").setOp("Placeholder").putAttr("dtype", type(DataType.DT_FLOAT)))
                .addNode(NodeDef.newBuilder().setName("c").setOp("Const").putAttr("dtype", type(DataType.DT_FLOAT))
                        .putAttr("value", AttrValue.newBuilder().setTensor(value).build()))
                .addNode(NodeDef.newBuilder().setName("out").setOp("AddV2").addInput("x").addInput("c")
                        .putAttr("T", type(DataType.DT_FLOAT)))
                .build();
    }

    @Test
    void aConstantOf2To40ElementsIsRefusedNamingTheLimit() throws Exception {
        Path f = write(addConstant(1L << 20, 1L << 20));
        KilnException e = assertThrows(KilnException.class, () -> TfImporter.load(f));
        assertTrue(e.getMessage().contains("'c'") && e.getMessage().contains("2 GiB"), e.getMessage());
        assertEquals(ErrorCode.RESOURCE_LIMIT, e.code());
    }

    @Test
    void aConstantWithANegativeDimensionIsRefused() throws Exception {
        Path f = write(addConstant(4, -3));
        KilnException e = assertThrows(KilnException.class, () -> TfImporter.load(f));
        assertEquals(ErrorCode.INVALID_MODEL, e.code());
        assertTrue(e.getMessage().contains("absurd.pb") && e.getMessage().contains("node c")
                && e.getMessage().contains("-3"), e.getMessage());
    }

    @Test
    void aMillionNodesIsRefusedNamingTheLimit() throws Exception {
        GraphDef.Builder g = GraphDef.newBuilder();
        for (int i = 0; i < 1_000_000; i++) {
            g.addNode(NodeDef.newBuilder().setName("n" + i).setOp("NoOp"));
        }
        Path f = write(g.build());
        KilnException e = assertThrows(KilnException.class, () -> TfImporter.load(f));
        assertEquals(ErrorCode.RESOURCE_LIMIT, e.code());
        assertTrue(e.getMessage().contains("absurd.pb") && e.getMessage().contains("1000000 nodes")
                && e.getMessage().contains("kiln.maxNodes"), e.getMessage());
    }
}
