package dev.kiln.onnx;

import dev.kiln.KilnException;
import dev.kiln.eval.RandomInputs;
import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.Tensor;
import dev.kiln.onnx.proto.Onnx.ModelProto;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class OnnxExporterTest {
    @TempDir
    Path dir;

    @Test
    void cnnExportsWithOneLayoutTransposeAndRunsInOrt() {
        Graph g = TestGraphs.cnn(1);
        Path out = dir.resolve("cnn.onnx");
        ExportResult r = OnnxExporter.fp32().export(g, out);
        System.out.println(r + " " + r.onnxOps());
        assertEquals(1, r.layoutTransposes(), "only the NHWC input is transposed: " + r.onnxOps());
        assertEquals(17, r.opset());
        assertEquals(8, r.irVersion());
        OnnxModelSummary s = OnnxReader.summarize(out);
        assertEquals(java.util.List.of("image: float[batch,16,16,3]"), s.inputs());
        assertEquals(java.util.List.of("probs: float[batch,10]"), s.outputs());
        assertEquals(3, s.count("Conv"));
        assertEquals(1, s.count("BatchNormalization"), "the un-folded BN of the hand-built graph");
        assertEquals(0, s.count("BiasAdd"));
        Map<String, Tensor> in = RandomInputs.forSignature(g.inputs(), 7, 2);
        try (OnnxRunner run = OnnxRunner.open(out, 1)) {
            Tensor y = run.run(in).get("probs");
            assertArrayEquals(new long[] {2, 10}, y.shape().dims());
            float sum = 0;
            for (float v : y.floats()) {
                sum += v;
            }
            assertEquals(2f, sum, 1e-4f);
        }
    }

    @Test
    void unmappedOpsAreAllNamedAndNothingIsWritten() throws Exception {
        Graph g = TestGraphs.cnn(1);
        Node relu = g.node("relu1");
        g.replace(relu.toBuilder().op("FFT").build());
        Node gap = g.node("gap");
        g.replace(gap.toBuilder().op("Bucketize").build());
        Path out = dir.resolve("bad.onnx");
        KilnException e = assertThrows(KilnException.class, () -> OnnxExporter.fp32().export(g, out));
        assertTrue(e.getMessage().contains("'FFT' (node 'relu1')"), e.getMessage());
        assertTrue(e.getMessage().contains("'Bucketize' (node 'gap')"), e.getMessage());
        assertFalse(Files.exists(out));
        try (var files = Files.list(dir)) {
            assertEquals(0, files.count(), "no temporary file left");
        }
    }

    @Test
    void unwritablePathIsAClearErrorWithoutPartialFile() throws Exception {
        Graph g = TestGraphs.cnn(1);
        // a missing directory is made, as for every other output; a file in the way is a clear I/O error
        Path missing = dir.resolve("no/such/dir/model.onnx");
        OnnxExporter.fp32().export(g, missing);
        assertEquals(OnnxReader.summarize(missing).ops(), OnnxReader.summarize(OnnxExporter.fp32().toModel(g)).ops());
        Path blocker = Files.writeString(dir.resolve("blocker"), "a file");
        KilnException e = assertThrows(KilnException.class,
                () -> OnnxExporter.fp32().export(g, blocker.resolve("model.onnx")));
        assertEquals(dev.kiln.ErrorCode.IO, e.code());
        assertTrue(e.getMessage().contains("cannot write " + blocker.resolve("model.onnx")), e.getMessage());
        assertEquals("a file", Files.readString(blocker));
        Path ro = Files.createDirectory(dir.resolve("ro"));
        ro.toFile().setWritable(false);
        try {
            if (!Files.isWritable(ro)) { // root can write anyway; then only the missing-directory case applies
                KilnException e2 = assertThrows(KilnException.class,
                        () -> OnnxExporter.fp32().export(g, ro.resolve("m.onnx")));
                assertEquals(dev.kiln.ErrorCode.IO, e2.code());
                try (var files = Files.list(ro)) {
                    assertEquals(0, files.count());
                }
            }
        } finally {
            ro.toFile().setWritable(true);
        }
        KilnException e3 = assertThrows(KilnException.class, () -> OnnxExporter.fp32().export(g, ro));
        assertTrue(e3.getMessage().contains("is a directory"), e3.getMessage());
    }

    @Test
    void opsetTooLowForAnOpIsAClearError() {
        TestGraphs t = new TestGraphs(3);
        t.graph().add(Node.builder("a", "Placeholder").attr("dtype", DType.INT32).build());
        t.graph().addInput(new dev.kiln.graph.SignatureTensor("a", dev.kiln.graph.TensorRef.of("a", 0),
                dev.kiln.graph.TensorType.of(DType.INT32, -1, 4)));
        t.constant("mask", Tensor.ofInts(dev.kiln.graph.Shape.of(4), 1, 2, 4, 8));
        t.graph().add(Node.builder("and", "BitwiseAnd").attr("T", DType.INT32).input("a").input("mask").build());
        t.graph().addOutput(new dev.kiln.graph.SignatureTensor("y", dev.kiln.graph.TensorRef.of("and", 0),
                dev.kiln.graph.TensorType.of(DType.INT32, -1, 4)));
        KilnException e = assertThrows(KilnException.class,
                () -> OnnxExporter.builder().opset(17).build().toModel(t.graph()));
        assertTrue(e.getMessage().contains("'BitwiseAnd' (node 'and') needs opset >= 18"), e.getMessage());
        ModelProto m = OnnxExporter.builder().opset(18).build().toModel(t.graph());
        assertEquals(18, m.getOpsetImport(0).getVersion());
        assertThrows(dev.kiln.KilnArgumentException.class, () -> OnnxExporter.builder().opset(12));
        assertThrows(dev.kiln.KilnArgumentException.class, () -> OnnxExporter.builder().opset(99));
    }

    @Test
    void everySupportedOpsetLoadsInOrt() {
        Graph g = TestGraphs.cnn(2);
        Map<String, Tensor> in = RandomInputs.forSignature(g.inputs(), 7, 1);
        float[] ref = null;
        for (int opset = OnnxOpSupport.MIN_OPSET; opset <= OnnxOpSupport.MAX_OPSET; opset++) {
            Path p = dir.resolve("o" + opset + ".onnx");
            OnnxExporter.builder().opset(opset).build().export(g, p);
            try (OnnxRunner r = OnnxRunner.open(p, 1)) {
                float[] y = r.run(in).get("probs").floats();
                if (ref == null) {
                    ref = y;
                } else {
                    assertArrayEquals(ref, y, 1e-6f, "opset " + opset);
                }
            }
        }
    }

    @Test
    void opSupportListsTheIssueOps() {
        for (String op : Set.of("Conv2D", "DepthwiseConv2dNative", "MatMul", "BatchMatMulV2", "BiasAdd", "AddV2",
                "RealDiv", "Relu6", "Elu", "LeakyRelu", "LogSoftmax", "MaxPool", "AvgPool", "Mean", "Sum", "Max",
                "Reshape", "Squeeze", "ExpandDims", "Transpose", "ConcatV2", "Pad", "Slice", "StridedSlice", "Cast",
                "Pack", "Shape", "Identity", "Const", "Placeholder", "FusedBatchNormV3", "Rsqrt", "Sqrt", "Square",
                "Maximum", "Minimum", "Neg", "Exp", "Log")) {
            assertTrue(OnnxOpSupport.isSupported(op), op);
        }
        assertFalse(OnnxOpSupport.isSupported("DecodeWav"));
    }
}
