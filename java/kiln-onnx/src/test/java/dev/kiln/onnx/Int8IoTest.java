package dev.kiln.onnx;

import dev.kiln.KilnArgumentException;
import dev.kiln.eval.RandomInputs;
import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.Tensor;
import dev.kiln.onnx.proto.Onnx.ModelProto;
import dev.kiln.onnx.proto.Onnx.NodeProto;
import dev.kiln.onnx.proto.Onnx.StringStringEntryProto;
import dev.kiln.onnx.proto.Onnx.TensorProto;
import dev.kiln.onnx.proto.Onnx.ValueInfoProto;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.function.LongFunction;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * INT8 exports with integer graph inputs and outputs ({@link OnnxExporter.Builder#int8IO}): declared types, the
 * metadata callers quantize with, and ONNX Runtime agreeing with the float-IO INT8 export on the same data.
 */
class Int8IoTest {
    @TempDir
    Path dir;

    @Test
    void cnnWithUint8IoForOnnxRuntimeMatchesTheFloatIoExport() {
        check(TestGraphs::cnn, Int8Target.ONNXRUNTIME);
    }

    @Test
    void cnnWithInt8IoForTensorRtMatchesTheFloatIoExport() {
        check(TestGraphs::cnn, Int8Target.TENSORRT);
    }

    @Test
    void mlpQuantizesItsDataInputAndBothOutputsButLeavesTheMaskFloat() {
        for (Int8Target t : Int8Target.values()) {
            ModelProto m = check(TestGraphs::mlp, t);
            assertEquals(TensorProto.DataType.FLOAT_VALUE, elemType(m, "mask"), "mask feeds no quantized op");
            assertFalse(metadata(m).containsKey("kiln.io.mask.scale"));
        }
    }

    @Test
    void anOutputWithoutACalibratedRangeIsAnErrorNamingIt() {
        Graph g = TestGraphs.cnn(3);
        Map<String, Tensor> in = RandomInputs.forSignature(g.inputs(), 12, 4);
        MinMaxCalibration.minMax(g, in, MinMaxCalibration.ortFp32(in), Int8Target.TENSORRT); // not the outputs
        OnnxExporter x = OnnxExporter.builder().precision(Precision.INT8).int8IO(true).build();
        KilnArgumentException e = assertThrows(KilnArgumentException.class, () -> x.toModel(g));
        assertTrue(e.getMessage().contains("int8 I/O needs a calibrated range for output 'probs'"), e.getMessage());
    }

    @Test
    void int8IoWithAnotherPrecisionIsRefusedAtBuild() {
        KilnArgumentException e = assertThrows(KilnArgumentException.class,
                () -> OnnxExporter.builder().precision(Precision.FP16).int8IO(true).build());
        assertTrue(e.getMessage().contains("INT8"), e.getMessage());
    }

    @Test
    void outputsAreAddedToThePlacementOnlyOnRequest() {
        Graph g = TestGraphs.cnn(1);
        for (Int8Target t : Int8Target.values()) {
            assertFalse(Int8Placement.quantizable(g, t).contains(g.outputs().get(0).tensor()), t.name());
            assertTrue(Int8Placement.quantizableWithOutputs(g, t).contains(g.outputs().get(0).tensor()), t.name());
        }
    }

    /**
     * Calibrates with the outputs, exports with float and with integer I/O, checks the declarations and metadata,
     * runs both on ONNX Runtime (integer inputs quantized in Java from the metadata) and compares the dequantized
     * integer outputs with the float ones: within one output step.
     */
    private ModelProto check(LongFunction<Graph> model, Int8Target target) {
        Graph g = model.apply(5);
        Map<String, Tensor> in = RandomInputs.forSignature(g.inputs(), 12, 4);
        MinMaxCalibration.minMax(g, in, MinMaxCalibration.ortFp32(in), target, true);
        OnnxExporter.Builder b = OnnxExporter.builder().precision(Precision.INT8).int8Target(target);
        Path floatIo = dir.resolve("float-io-" + target + ".onnx");
        Path intIo = dir.resolve("int8-io-" + target + ".onnx");
        b.build().export(g, floatIo);
        b.int8IO(true).build().export(g, intIo);

        ModelProto m = OnnxReader.read(intIo);
        Map<String, String> meta = metadata(m);
        boolean signed = target == Int8Target.TENSORRT;
        int want = signed ? TensorProto.DataType.INT8_VALUE : TensorProto.DataType.UINT8_VALUE;
        DType dtype = signed ? DType.INT8 : DType.UINT8;
        Map<String, Tensor> intIn = new HashMap<>();
        for (SignatureTensor s : g.inputs()) {
            if (!g.quantization().containsKey(s.tensor().toString())) {
                intIn.put(s.name(), in.get(s.name()));
                continue;
            }
            assertEquals(want, elemType(m, s.name()), s.name());
            assertEquals("DequantizeLinear", consumer(m, s.name()).getOpType(), "no QuantizeLinear on " + s.name());
            float scale = Float.parseFloat(meta.get("kiln.io." + s.name() + ".scale"));
            int zp = Integer.parseInt(meta.get("kiln.io." + s.name() + ".zero_point"));
            assertEquals(g.quantization().get(s.tensor().toString()).scale()[0], scale);
            float[] x = in.get(s.name()).floats();
            byte[] q = new byte[x.length];
            for (int i = 0; i < x.length; i++) {
                q[i] = (byte) QuantMath.quantize(x[i], scale, zp, signed ? -128 : 0, signed ? 127 : 255);
            }
            intIn.put(s.name(), Tensor.ofBytes(dtype, in.get(s.name()).shape(), q));
        }
        Map<String, Tensor> expected = run(floatIo, in);
        Map<String, Tensor> actual = run(intIo, intIn);
        for (SignatureTensor s : g.outputs()) {
            assertEquals(want, outputElemType(m, s.name()), s.name());
            float scale = Float.parseFloat(meta.get("kiln.io." + s.name() + ".scale"));
            int zp = Integer.parseInt(meta.get("kiln.io." + s.name() + ".zero_point"));
            Tensor q = actual.get(s.name());
            assertEquals(dtype, q.dtype(), s.name());
            float[] e = expected.get(s.name()).floats();
            ByteBuffer qb = q.bytes();
            double worst = 0;
            for (int i = 0; i < e.length; i++) {
                int code = signed ? qb.get(i) : qb.get(i) & 0xff;
                worst = Math.max(worst, Math.abs(QuantMath.dequantize(code, scale, zp) - e[i]));
            }
            System.out.printf("int8 I/O %s %s: max |dequantized - float-IO INT8| = %.3g (%.2f output steps)%n",
                    target, s.name(), worst, worst / scale);
            assertTrue(worst <= scale * 1.001, s.name() + ": " + worst + " > one step " + scale);
        }
        return m;
    }

    private static Map<String, Tensor> run(Path p, Map<String, Tensor> in) {
        try (OnnxRunner r = OnnxRunner.open(p, 1)) {
            return r.run(in);
        }
    }

    private static Map<String, String> metadata(ModelProto m) {
        Map<String, String> meta = new HashMap<>();
        for (StringStringEntryProto e : m.getMetadataPropsList()) {
            meta.put(e.getKey(), e.getValue());
        }
        return meta;
    }

    private static int elemType(ModelProto m, String input) {
        for (ValueInfoProto v : m.getGraph().getInputList()) {
            if (v.getName().equals(input)) {
                return v.getType().getTensorType().getElemType();
            }
        }
        throw new AssertionError("no input " + input);
    }

    private static int outputElemType(ModelProto m, String output) {
        for (ValueInfoProto v : m.getGraph().getOutputList()) {
            if (v.getName().equals(output)) {
                return v.getType().getTensorType().getElemType();
            }
        }
        throw new AssertionError("no output " + output);
    }

    private static NodeProto consumer(ModelProto m, String value) {
        for (NodeProto n : m.getGraph().getNodeList()) {
            if (n.getInputList().contains(value)) {
                return n;
            }
        }
        throw new AssertionError("nothing reads " + value);
    }
}
