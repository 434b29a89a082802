package dev.kiln.onnx;

import dev.kiln.KilnException;
import dev.kiln.eval.RandomInputs;
import dev.kiln.eval.TensorComparison;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Tensor;
import dev.kiln.onnx.proto.Onnx.AttributeProto;
import dev.kiln.onnx.proto.Onnx.GraphProto;
import dev.kiln.onnx.proto.Onnx.ModelProto;
import dev.kiln.onnx.proto.Onnx.NodeProto;
import dev.kiln.onnx.proto.Onnx.StringStringEntryProto;
import dev.kiln.onnx.proto.Onnx.TensorProto;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Reading ONNX external data: Kiln's own split export, onnx.save_model's per-tensor layout, and broken references. */
class OnnxExternalDataReadTest {
    @TempDir
    Path dir;

    /** float32 bytes of the dense test model's weights (two kernels and a bias). */
    private static final long WEIGHTS = 4L * (1024 * 2048 + 2048 + 2048 * 512);

    private Path exportWhole(Graph g) {
        Path whole = dir.resolve("whole.onnx");
        OnnxExporter.fp32().export(g, whole);
        return whole;
    }

    private Path exportExternal(Graph g) throws IOException {
        Path ext = Files.createDirectories(dir.resolve("ext")).resolve("model.onnx");
        OnnxExporter.builder().externalData(true).build().export(g, ext);
        return ext;
    }

    private static void assertSameInitializers(Map<String, Tensor> expected, Map<String, Tensor> actual) {
        assertEquals(expected.keySet(), actual.keySet());
        for (String k : expected.keySet()) {
            Tensor a = expected.get(k);
            Tensor b = actual.get(k);
            assertEquals(a.dtype(), b.dtype(), k);
            assertEquals(a.shape(), b.shape(), k);
            assertEquals(a.bytes(), b.bytes(), k + ": the bytes differ"); // ByteBuffer.equals: byte for byte
        }
    }

    private static long externalTensors(Path onnx) throws IOException {
        return ModelProto.parseFrom(Files.readAllBytes(onnx)).getGraph().getInitializerList().stream()
                .filter(t -> t.getDataLocation() == TensorProto.DataLocation.EXTERNAL).count();
    }

    @Test
    void kilnsSplitExportReadsByteEqualToTheWholeExportWithoutCopyingTheWeights() throws IOException {
        Graph g = OnnxExternalDataTest.dense();
        Path whole = exportWhole(g);
        Path ext = exportExternal(g);
        assertEquals(3, externalTensors(ext), "two kernels and the bias are in model.onnx.data");

        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        OnnxReader.initializers(ext); // class loading outside the measurement
        long before = threads.getCurrentThreadAllocatedBytes();
        Map<String, Tensor> split = OnnxReader.initializers(ext);
        long allocated = threads.getCurrentThreadAllocatedBytes() - before;
        // the tensors are views of the mapped data file: the heap holds neither the file nor a copy of it
        assertTrue(allocated < WEIGHTS / 8, "reading allocated " + allocated + " bytes for " + WEIGHTS
                + " bytes of weights");
        assertSameInitializers(OnnxReader.initializers(whole), split);

        // the model as read is whole: written to another directory, ONNX Runtime runs it like the split original
        Path copy = Files.createDirectories(dir.resolve("elsewhere")).resolve("resolved.onnx");
        Files.write(copy, OnnxReader.read(ext).toByteArray());
        Map<String, Tensor> in = RandomInputs.forSignature(g.inputs(), 3, 7);
        try (OnnxRunner a = OnnxRunner.open(ext, 1); OnnxRunner b = OnnxRunner.open(copy, 1)) {
            TensorComparison c = TensorComparison.compare(a.run(in).get("y"), b.run(in).get("y"));
            assertTrue(c.shapeAndTypeMatch() && c.maxAbsError() == 0, c.toString());
        }
        assertEquals(OnnxReader.summarize(whole).initializers(), OnnxReader.summarize(ext).initializers());
    }

    /**
     * An INT8 export for ONNX Runtime with its int8 weights in the data file is judged like the same export in one
     * file: the saturation check reads the weights, and the integer kernels Kiln picks for it are the same.
     */
    @Test
    void int8WeightsInTheDataFileAreJudgedLikeTheWholeFiles() throws IOException {
        Graph g = OnnxExternalDataTest.dense();
        Map<String, Tensor> in = RandomInputs.forSignature(g.inputs(), 4, 5);
        MinMaxCalibration.minMax(g, in, MinMaxCalibration.ortFp32(in), Int8Target.ONNXRUNTIME);
        for (Int8WeightRange range : Int8WeightRange.values()) {
            OnnxExporter.Builder b = OnnxExporter.builder().precision(Precision.INT8).int8Target(Int8Target.ONNXRUNTIME)
                    .int8WeightRange(range);
            Path whole = dir.resolve(range + ".onnx");
            Path ext = Files.createDirectories(dir.resolve(range.toString())).resolve("model.onnx");
            b.build().export(g, whole);
            b.externalData(true).build().export(g, ext);
            assertTrue(externalTensors(ext) >= 2, "the int8 kernels are external data");
            Int8Saturation a = Int8Saturation.check(OnnxReader.read(whole));
            Int8Saturation c = Int8Saturation.check(OnnxReader.read(ext));
            assertEquals(a, c, range.toString());
            assertEquals(2, c.integerLayers(), c.summary());
            assertTrue(c.undetermined().isEmpty(), c.summary());
            assertEquals(range == Int8WeightRange.REDUCED, c.safe(), c.summary());
            assertEquals(OnnxRunner.resolve(whole, OnnxRunner.IntegerKernels.AUTO),
                    OnnxRunner.resolve(ext, OnnxRunner.IntegerKernels.AUTO), range.toString());
        }
    }

    /**
     * The layout of {@code onnx.save_model(m, save_as_external_data=True, all_tensors_to_one_file=False)}: one file per
     * tensor in a subdirectory, location only (offset and length absent), and a Constant node's value kept external.
     */
    @Test
    void onnxSaveModelsPerTensorLayoutWithoutOffsetOrLengthReadsTheSameAndRunsInOnnxRuntime() throws IOException {
        Graph g = OnnxExternalDataTest.dense();
        Path whole = exportWhole(g);
        ModelProto m = OnnxReader.read(whole);
        Path out = Files.createDirectories(dir.resolve("pertensor/weights")).getParent().resolve("model.onnx");
        GraphProto.Builder gb = m.getGraph().toBuilder().clearInitializer();
        int external = 0;
        for (TensorProto t : m.getGraph().getInitializerList()) {
            if (t.getRawData().size() < 1024) {
                gb.addInitializer(t);
                continue;
            }
            String location = "weights/" + t.getName().replaceAll("[^A-Za-z0-9]", "_") + ".bin";
            Files.write(out.resolveSibling(location), t.getRawData().toByteArray());
            TensorProto ref = t.toBuilder().clearRawData().setDataLocation(TensorProto.DataLocation.EXTERNAL)
                    .addExternalData(entry("location", location)).build();
            if (external++ == 0) {
                // the first as a Constant node's value instead of an initializer
                gb.addNode(0, NodeProto.newBuilder().setOpType("Constant").setName("const_" + t.getName())
                        .addOutput(t.getName()).addAttribute(AttributeProto.newBuilder().setName("value")
                                .setType(AttributeProto.AttributeType.TENSOR).setT(ref)));
            } else {
                gb.addInitializer(ref);
            }
        }
        Files.write(out, m.toBuilder().setGraph(gb).build().toByteArray());
        assertEquals(3, external);

        ModelProto read = OnnxReader.read(out);
        Map<String, Tensor> inits = OnnxReader.initializers(read);
        for (NodeProto n : read.getGraph().getNodeList()) {
            if (n.getOpType().equals("Constant")) {
                inits.put(n.getOutput(0), OnnxTensors.fromProto(n.getAttribute(0).getT()));
            }
        }
        assertSameInitializers(OnnxReader.initializers(whole), new java.util.TreeMap<>(inits));
        Map<String, Tensor> in = RandomInputs.forSignature(g.inputs(), 2, 9);
        try (OnnxRunner a = OnnxRunner.open(whole, 1); OnnxRunner b = OnnxRunner.open(out, 1)) {
            TensorComparison c = TensorComparison.compare(a.run(in).get("y"), b.run(in).get("y"));
            assertTrue(c.shapeAndTypeMatch() && c.maxAbsError() == 0, c.toString());
        }
    }

    /** Ways a reference to external data can be broken. */
    enum Broken { DATA_FILE_MISSING, DATA_FILE_TRUNCATED, OFFSET_BEYOND_THE_END, PARENT_LOCATION, ABSOLUTE_LOCATION,
        LINK_OUT_OF_THE_DIRECTORY, LENGTH_NOT_THE_TENSORS }

    @ParameterizedTest
    @EnumSource(Broken.class)
    void aBrokenReferenceIsAOneLineErrorNamingTheModelTheInitializerAndTheDataFile(Broken how) throws IOException {
        Graph g = OnnxExternalDataTest.dense();
        Path ext = exportExternal(g);
        Path data = ext.resolveSibling("model.onnx.data");
        String expected = data.toString(); // the data file, as the error names it
        switch (how) {
            case DATA_FILE_MISSING -> Files.delete(data);
            case DATA_FILE_TRUNCATED -> {
                try (FileChannel ch = FileChannel.open(data, StandardOpenOption.WRITE)) {
                    ch.truncate(ch.size() - 4);
                }
            }
            case OFFSET_BEYOND_THE_END, PARENT_LOCATION, ABSOLUTE_LOCATION, LINK_OUT_OF_THE_DIRECTORY,
                    LENGTH_NOT_THE_TENSORS -> {
                Path outside = Files.copy(data, dir.resolve("outside.data"));
                String location = switch (how) {
                    case PARENT_LOCATION -> "../outside.data";
                    case ABSOLUTE_LOCATION -> outside.toString();
                    case LINK_OUT_OF_THE_DIRECTORY -> "link.data";
                    default -> "model.onnx.data";
                };
                if (how == Broken.LINK_OUT_OF_THE_DIRECTORY) {
                    Files.createSymbolicLink(ext.resolveSibling("link.data"), outside);
                }
                expected = how == Broken.LINK_OUT_OF_THE_DIRECTORY ? ext.resolveSibling("link.data").toString()
                        : how == Broken.PARENT_LOCATION || how == Broken.ABSOLUTE_LOCATION ? "'" + location + "'"
                        : expected;
                rewriteFirstExternal(ext, location, how == Broken.OFFSET_BEYOND_THE_END ? Files.size(data) : -1,
                        how == Broken.LENGTH_NOT_THE_TENSORS ? 12 : -1);
            }
            default -> throw new IllegalStateException();
        }
        for (var read : java.util.List.<Runnable>of(() -> OnnxReader.read(ext), () -> OnnxReader.initializers(ext),
                () -> OnnxReader.summarize(ext))) {
            KilnException e = assertThrows(KilnException.class, read::run, how.toString());
            String msg = e.getMessage();
            System.out.println(how + ": " + msg);
            assertFalse(msg.contains("\n"), "one line: " + msg);
            assertTrue(msg.startsWith(ext + ": initializer '"), how + ": names the model and the initializer: " + msg);
            assertTrue(msg.contains(expected), how + ": names the data file " + expected + ": " + msg);
        }
    }

    /** Points the model's first external initializer at {@code location} (and an offset or length when >= 0). */
    private static void rewriteFirstExternal(Path onnx, String location, long offset, long length) throws IOException {
        ModelProto m = ModelProto.parseFrom(Files.readAllBytes(onnx));
        GraphProto.Builder g = m.getGraph().toBuilder();
        for (int i = 0; i < g.getInitializerCount(); i++) {
            TensorProto t = g.getInitializer(i);
            if (t.getDataLocation() != TensorProto.DataLocation.EXTERNAL) {
                continue;
            }
            TensorProto.Builder b = t.toBuilder().clearExternalData();
            for (StringStringEntryProto e : t.getExternalDataList()) {
                String v = switch (e.getKey()) {
                    case "location" -> location;
                    case "offset" -> offset >= 0 ? Long.toString(offset) : e.getValue();
                    case "length" -> length >= 0 ? Long.toString(length) : e.getValue();
                    default -> e.getValue();
                };
                b.addExternalData(entry(e.getKey(), v));
            }
            g.setInitializer(i, b);
            break;
        }
        Files.write(onnx, m.toBuilder().setGraph(g).build().toByteArray());
    }

    private static StringStringEntryProto entry(String key, String value) {
        return StringStringEntryProto.newBuilder().setKey(key).setValue(value).build();
    }

    @Test
    void aBareTensorProtoWithExternalDataIsReadBesideItsFile() throws IOException {
        float[] v = {1.5f, -2f, 3.25f, 0f};
        ByteBuffer b = ByteBuffer.allocate(16).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        for (float f : v) {
            b.putFloat(f);
        }
        Files.write(dir.resolve("input_0.bin"), new byte[] {9, 9, 9, 9}); // 4 bytes before the tensor: offset 4
        Files.write(dir.resolve("input_0.bin"), b.array(), StandardOpenOption.APPEND);
        TensorProto t = TensorProto.newBuilder().setName("x").setDataType(TensorProto.DataType.FLOAT_VALUE)
                .addDims(2).addDims(2).setDataLocation(TensorProto.DataLocation.EXTERNAL)
                .addExternalData(entry("location", "input_0.bin")).addExternalData(entry("offset", "4")).build();
        Path pb = Files.write(dir.resolve("input_0.pb"), t.toByteArray());
        Tensor x = OnnxReader.readTensor(pb);
        assertEquals(dev.kiln.graph.Shape.of(2, 2), x.shape());
        org.junit.jupiter.api.Assertions.assertArrayEquals(v, x.floats());
        // parsed elsewhere, with no file to resolve it beside, it names the tensor and its location
        KilnException e = assertThrows(KilnException.class, () -> OnnxTensors.fromProto(t));
        assertTrue(e.getMessage().contains("'x'") && e.getMessage().contains("input_0.bin"), e.getMessage());
    }
}
