package dev.kiln.onnx;

import dev.kiln.ErrorCode;
import dev.kiln.KilnException;
import dev.kiln.onnx.proto.Onnx.GraphProto;
import dev.kiln.onnx.proto.Onnx.ModelProto;
import dev.kiln.onnx.proto.Onnx.NodeProto;
import dev.kiln.onnx.proto.Onnx.OperatorSetIdProto;
import dev.kiln.onnx.proto.Onnx.TensorProto;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** An ONNX file declaring absurd sizes is refused before anything is allocated, naming the file and the limit. */
class OnnxResourceLimitsTest {
    @TempDir
    Path tmp;

    private Path model(GraphProto.Builder g) throws Exception {
        ModelProto m = ModelProto.newBuilder().setIrVersion(8)
                .addOpsetImport(OperatorSetIdProto.newBuilder().setVersion(17)).setGraph(g).build();
        Path f = tmp.resolve("model.onnx");
        Files.write(f, m.toByteArray());
        return f;
    }

    private static TensorProto.Builder floatTensor(String name, long... dims) {
        TensorProto.Builder t = TensorProto.newBuilder().setName(name).setDataType(TensorProto.DataType.FLOAT_VALUE);
        for (long d : dims) {
            t.addDims(d);
        }
        return t;
    }

    @Test
    void anInitializerOf2To40ElementsIsRefusedNamingTheLimit() throws Exception {
        Path f = model(GraphProto.newBuilder().addInitializer(floatTensor("w", 1L << 40).addFloatData(1f)));
        KilnException e = assertThrows(KilnException.class, () -> OnnxReader.initializers(f));
        assertEquals(ErrorCode.RESOURCE_LIMIT, e.code());
        assertTrue(e.getMessage().contains("model.onnx") && e.getMessage().contains("'w'")
                && e.getMessage().contains("2 GiB"), e.getMessage());
    }

    @Test
    void aNegativeDimensionIsRefused() throws Exception {
        Path f = model(GraphProto.newBuilder().addInitializer(floatTensor("w", 4, -3).addFloatData(1f)));
        KilnException e = assertThrows(KilnException.class, () -> OnnxReader.initializers(f));
        assertEquals(ErrorCode.INVALID_MODEL, e.code());
        assertTrue(e.getMessage().contains("negative dimension -3"), e.getMessage());
    }

    @Test
    void dataShorterThanTheDeclaredShapeIsRefusedBeforeAllocating() throws Exception {
        // 2^28 floats (1 GiB) declared, 4 bytes present: refused on the mismatch, not after allocating 1 GiB
        Path f = model(GraphProto.newBuilder().addInitializer(floatTensor("w", 1L << 28)
                .setRawData(com.google.protobuf.ByteString.copyFrom(new byte[4]))));
        KilnException e = assertThrows(KilnException.class, () -> OnnxReader.initializers(f));
        assertTrue(e.getMessage().contains("needs 1073741824 bytes of raw_data, has 4"), e.getMessage());
    }

    @Test
    void aMillionNodesIsRefusedNamingTheLimit() throws Exception {
        GraphProto.Builder g = GraphProto.newBuilder();
        NodeProto relu = NodeProto.newBuilder().setOpType("Relu").addInput("x").addOutput("y").build();
        for (int i = 0; i < 1_000_000; i++) {
            g.addNode(relu);
        }
        Path f = model(g);
        KilnException e = assertThrows(KilnException.class, () -> OnnxReader.read(f));
        assertEquals(ErrorCode.RESOURCE_LIMIT, e.code());
        assertTrue(e.getMessage().contains("1000000 nodes") && e.getMessage().contains("kiln.maxNodes"),
                e.getMessage());
    }
}
