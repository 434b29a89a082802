package dev.kiln.cli;

import dev.kiln.onnx.OnnxReader;
import dev.kiln.onnx.proto.Onnx.ModelProto;
import dev.kiln.onnx.proto.Onnx.StringStringEntryProto;
import dev.kiln.onnx.proto.Onnx.TensorProto;
import dev.kiln.tensorflow.ExampleModels;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import static dev.kiln.cli.CliTest.kiln;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code kiln export --precision int8 --int8-io}: integer model inputs and outputs, and its errors. */
class Int8IoCliTest {
    @TempDir
    static Path tmp;
    static Path model;

    @BeforeAll
    static void setUp() {
        model = ExampleModels.exampleCnn(tmp.resolve("example_cnn"));
    }

    @Test
    void int8IoForOnnxRuntimeWritesUint8InputsAndOutputsWithTheirParameters() {
        Path onnx = tmp.resolve("io.onnx");
        CliTest.Run r = kiln("export", model.toString(), "-o", onnx.toString(), "--precision", "int8", "--int8-io",
                "--calib-random", "--int8-target", "onnxruntime");
        assertEquals(0, r.status(), r.err());
        ModelProto m = OnnxReader.read(onnx);
        Map<String, String> meta = new HashMap<>();
        for (StringStringEntryProto e : m.getMetadataPropsList()) {
            meta.put(e.getKey(), e.getValue());
        }
        String in = m.getGraph().getInput(0).getName();
        assertEquals(TensorProto.DataType.UINT8_VALUE, m.getGraph().getInput(0).getType().getTensorType()
                .getElemType());
        assertTrue(Float.parseFloat(meta.get("kiln.io." + in + ".scale")) > 0, meta.toString());
        assertTrue(meta.containsKey("kiln.io." + in + ".zero_point"), meta.toString());
        for (var o : m.getGraph().getOutputList()) {
            assertEquals(TensorProto.DataType.UINT8_VALUE, o.getType().getTensorType().getElemType(), o.getName());
            assertTrue(meta.containsKey("kiln.io." + o.getName() + ".scale"), meta.toString());
        }
    }

    @Test
    void int8IoWithAnotherPrecisionIsAOneLineError() {
        Path onnx = tmp.resolve("fp16.onnx");
        CliTest.Run r = kiln("export", model.toString(), "-o", onnx.toString(), "--precision", "fp16", "--int8-io");
        assertEquals(2, r.status(), r.err());
        assertEquals(1, r.err().strip().lines().count(), "one line: " + r.err());
        assertTrue(r.err().contains("--int8-io needs --precision int8"), r.err());
        assertFalse(Files.exists(onnx));
    }

    @Test
    void int8IoWithVerifyIsRefusedClearly() {
        CliTest.Run r = kiln("export", model.toString(), "-o", tmp.resolve("v.onnx").toString(), "--precision",
                "int8", "--int8-io", "--calib-random", "--verify");
        assertEquals(2, r.status(), r.err());
        assertTrue(r.err().contains("--verify feeds float inputs"), r.err());
    }
}
