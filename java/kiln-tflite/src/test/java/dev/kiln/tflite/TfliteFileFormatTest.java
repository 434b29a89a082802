package dev.kiln.tflite;

import dev.kiln.calib.CalibrationTable;
import dev.kiln.calib.ThresholdMethod;
import dev.kiln.data.RepresentativeData;
import dev.kiln.graph.Graph;
import dev.kiln.passes.Passes;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static dev.kiln.tflite.TfliteSchema.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the file holds, read back by field slot without the interpreter: identifier and schema version, the empty
 * sentinel buffer and 16-byte aligned constants, inputs/outputs and the SignatureDef named after the signature,
 * min_runtime_version metadata, operator codes in both code fields, and INT8's per-channel weights and int32 biases.
 */
class TfliteFileFormatTest {

    @Test
    void fp32FileHasSignatureMetadataAndAlignedBuffers() {
        Graph g = TestGraphs.cnn(3);
        Passes.optimizeForInference().run(g);
        byte[] file = TfliteExporter.fp32().toBytes(g);
        assertEquals("TFL3", new String(file, 4, 4, StandardCharsets.US_ASCII));
        FlatBufferReader model = FlatBufferReader.root(file);
        assertEquals(3, model.int32(MODEL_VERSION, -1));
        assertFalse(model.table(MODEL_BUFFERS, 0).has(BUFFER_DATA), "buffer 0 is the empty sentinel");
        for (int i = 1; i < model.length(MODEL_BUFFERS); i++) {
            int[] p = model.table(MODEL_BUFFERS, i).vectorPosition(BUFFER_DATA);
            assertTrue(p == null || p[0] % 16 == 0, "buffer " + i + " data at " + (p == null ? -1 : p[0]));
        }
        assertEquals(1, model.length(MODEL_SUBGRAPHS));
        FlatBufferReader sg = model.table(MODEL_SUBGRAPHS, 0);
        int[] ins = sg.ints(SUBGRAPH_INPUTS);
        int[] outs = sg.ints(SUBGRAPH_OUTPUTS);
        assertEquals(1, ins.length);
        assertEquals("image", sg.table(SUBGRAPH_TENSORS, ins[0]).string(TENSOR_NAME));
        assertArrayEquals(new int[] {1, 16, 16, 3}, sg.table(SUBGRAPH_TENSORS, ins[0]).ints(TENSOR_SHAPE));
        assertArrayEquals(new int[] {-1, 16, 16, 3}, sg.table(SUBGRAPH_TENSORS, ins[0])
                .ints(TENSOR_SHAPE_SIGNATURE));

        FlatBufferReader sig = model.table(MODEL_SIGNATURE_DEFS, 0);
        assertEquals("serving_default", sig.string(SIGNATURE_KEY));
        assertEquals("image", sig.table(SIGNATURE_INPUTS, 0).string(TENSORMAP_NAME));
        assertEquals(ins[0], sig.table(SIGNATURE_INPUTS, 0).int32(TENSORMAP_TENSOR_INDEX, 0));
        assertEquals("probs", sig.table(SIGNATURE_OUTPUTS, 0).string(TENSORMAP_NAME));
        assertEquals(outs[0], sig.table(SIGNATURE_OUTPUTS, 0).int32(TENSORMAP_TENSOR_INDEX, 0));

        FlatBufferReader meta = model.table(MODEL_METADATA, 0);
        assertEquals("min_runtime_version", meta.string(METADATA_NAME));
        byte[] v = model.table(MODEL_BUFFERS, meta.int32(METADATA_BUFFER, 0)).bytes(BUFFER_DATA);
        assertEquals("1.14.0", new String(v, StandardCharsets.US_ASCII).trim().replace("\0", ""));

        Set<Integer> codes = new HashSet<>();
        for (int i = 0; i < model.length(MODEL_OPERATOR_CODES); i++) {
            FlatBufferReader c = model.table(MODEL_OPERATOR_CODES, i);
            int code = c.int32(OPCODE_BUILTIN_CODE, 0);
            assertEquals(code, c.int8(OPCODE_DEPRECATED_BUILTIN_CODE, (byte) 0), "both code fields");
            codes.add(code);
        }
        assertTrue(codes.containsAll(List.of(CONV_2D, DEPTHWISE_CONV_2D, FULLY_CONNECTED, SOFTMAX, MAX_POOL_2D,
                AVERAGE_POOL_2D, CONCATENATION, MEAN)), codes.toString());
        // the fused bias+activation chains are single operators: no RELU, RELU6 or separate bias ADD left
        assertFalse(codes.contains(RELU) || codes.contains(RELU6), codes.toString());
        FlatBufferReader conv = firstOperator(model, CONV_2D);
        FlatBufferReader opts = conv.table(OPERATOR_BUILTIN_OPTIONS);
        assertEquals(OPT_CONV_2D, conv.int8(OPERATOR_BUILTIN_OPTIONS_TYPE, (byte) 0));
        assertEquals(ACT_RELU, opts.int8(3, ACT_NONE), "Conv2DOptions.fused_activation_function");
        assertEquals(1, opts.int32(1, 0), "stride_w");
        // conv1 is SAME (the schema default, 0, left out), conv2 VALID (written)
        Set<Byte> paddings = new HashSet<>();
        FlatBufferReader sg0 = model.table(MODEL_SUBGRAPHS, 0);
        for (int i = 0; i < sg0.length(SUBGRAPH_OPERATORS); i++) {
            FlatBufferReader op = sg0.table(SUBGRAPH_OPERATORS, i);
            if (model.table(MODEL_OPERATOR_CODES, op.int32(OPERATOR_OPCODE_INDEX, 0)).int32(OPCODE_BUILTIN_CODE, 0)
                    == CONV_2D) {
                paddings.add(op.table(OPERATOR_BUILTIN_OPTIONS).int8(0, PADDING_SAME));
            }
        }
        assertEquals(Set.of(PADDING_SAME, PADDING_VALID), paddings);
    }

    @Test
    void int8FileHasPerChannelWeightsAndInt32Biases() {
        Graph g = TestGraphs.cnn(3);
        Passes.optimizeForInference().run(g);
        CalibrationTable t = Mnist.calibrate(g, RepresentativeData.random(g.inputs(), 1, 32).withBatchSize(16),
                ThresholdMethod.minmax());
        byte[] file = TfliteExporter.builder().precision(TflitePrecision.INT8).table(t).int8IO(true).build()
                .toBytes(g);
        FlatBufferReader model = FlatBufferReader.root(file);
        FlatBufferReader sg = model.table(MODEL_SUBGRAPHS, 0);
        FlatBufferReader conv = firstOperator(model, CONV_2D);
        int[] in = conv.ints(OPERATOR_INPUTS);
        FlatBufferReader x = sg.table(SUBGRAPH_TENSORS, in[0]);
        FlatBufferReader w = sg.table(SUBGRAPH_TENSORS, in[1]);
        FlatBufferReader b = sg.table(SUBGRAPH_TENSORS, in[2]);
        assertEquals(INT8, x.int8(TENSOR_TYPE, (byte) 0));
        assertEquals(INT8, w.int8(TENSOR_TYPE, (byte) 0));
        assertEquals(INT32, b.int8(TENSOR_TYPE, (byte) 0));
        int outChannels = w.ints(TENSOR_SHAPE)[0];
        FlatBufferReader wq = w.table(TENSOR_QUANTIZATION);
        assertEquals(outChannels, wq.floats(QUANT_SCALE).length, "per output channel");
        assertEquals(0, wq.int32(QUANT_QUANTIZED_DIMENSION, 0));
        for (long zp : wq.longs(QUANT_ZERO_POINT)) {
            assertEquals(0, zp);
        }
        float inScale = x.table(TENSOR_QUANTIZATION).floats(QUANT_SCALE)[0];
        float[] bs = b.table(TENSOR_QUANTIZATION).floats(QUANT_SCALE);
        for (int c = 0; c < outChannels; c++) {
            assertEquals(inScale * wq.floats(QUANT_SCALE)[c], bs[c], 0f, "bias scale = input × weight scale");
        }
        // int8 I/O: the signature's input is int8 itself, with the calibrated parameters
        FlatBufferReader input = sg.table(SUBGRAPH_TENSORS, sg.ints(SUBGRAPH_INPUTS)[0]);
        assertEquals(INT8, input.int8(TENSOR_TYPE, (byte) 0));
        assertNotNull(input.table(TENSOR_QUANTIZATION));
        assertEquals("2.1.0", runtimeVersion(model));
    }

    @Test
    void fp16FileHasHalfConstantsBehindDequantize() {
        Graph g = TestGraphs.cnn(3);
        Passes.optimizeForInference().run(g);
        FlatBufferReader model = FlatBufferReader.root(TfliteExporter.builder().precision(TflitePrecision.FP16)
                .build().toBytes(g));
        FlatBufferReader sg = model.table(MODEL_SUBGRAPHS, 0);
        List<Integer> halves = new ArrayList<>();
        for (int i = 0; i < sg.length(SUBGRAPH_TENSORS); i++) {
            if (sg.table(SUBGRAPH_TENSORS, i).int8(TENSOR_TYPE, (byte) 0) == FLOAT16) {
                halves.add(i);
            }
        }
        assertFalse(halves.isEmpty());
        int dequantizes = 0;
        for (int i = 0; i < sg.length(SUBGRAPH_OPERATORS); i++) {
            FlatBufferReader op = sg.table(SUBGRAPH_OPERATORS, i);
            int code = model.table(MODEL_OPERATOR_CODES, op.int32(OPERATOR_OPCODE_INDEX, 0))
                    .int32(OPCODE_BUILTIN_CODE, 0);
            if (code == DEQUANTIZE) {
                assertTrue(halves.contains(op.ints(OPERATOR_INPUTS)[0]));
                dequantizes++;
            }
        }
        assertEquals(halves.size(), dequantizes, "one DEQUANTIZE per float16 constant");
    }

    private static String runtimeVersion(FlatBufferReader model) {
        FlatBufferReader meta = model.table(MODEL_METADATA, 0);
        byte[] v = model.table(MODEL_BUFFERS, meta.int32(METADATA_BUFFER, 0)).bytes(BUFFER_DATA);
        return new String(v, StandardCharsets.US_ASCII).replace("\0", "");
    }

    private static FlatBufferReader firstOperator(FlatBufferReader model, int builtin) {
        FlatBufferReader sg = model.table(MODEL_SUBGRAPHS, 0);
        for (int i = 0; i < sg.length(SUBGRAPH_OPERATORS); i++) {
            FlatBufferReader op = sg.table(SUBGRAPH_OPERATORS, i);
            if (model.table(MODEL_OPERATOR_CODES, op.int32(OPERATOR_OPCODE_INDEX, 0))
                    .int32(OPCODE_BUILTIN_CODE, 0) == builtin) {
                return op;
            }
        }
        throw new AssertionError("no operator " + builtin);
    }
}
