package dev.kiln.onnx;

import dev.kiln.eval.RandomInputs;
import dev.kiln.eval.TensorComparison;
import dev.kiln.graph.Graph;
import dev.kiln.graph.HandBuiltGraphs;
import dev.kiln.graph.Tensor;
import dev.kiln.onnx.proto.Onnx.ModelProto;
import dev.kiln.onnx.proto.Onnx.StringStringEntryProto;
import dev.kiln.onnx.proto.Onnx.TensorProto;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Writing ONNX files: whole, with external data, and without copying the weights. */
class OnnxExternalDataTest {
    @TempDir
    Path dir;

    /** x [?, 1024] → dense 1024×2048 + bias → Relu → dense 2048×512 → "y": 3.1 M float32 weights (12.6 MB). */
    static Graph dense() {
        HandBuiltGraphs t = new HandBuiltGraphs(11);
        String x = t.input("x", -1, 1024);
        String h = t.op("hidden", "Relu", t.bias("fc1/bias", t.add(t.builder("fc1", "MatMul", x,
                t.weights("fc1/kernel", 0.1f, 1024, 2048)).attr("transpose_a", false).attr("transpose_b", false)),
                2048));
        String y = t.add(t.builder("fc2", "MatMul", h, t.weights("fc2/kernel", 0.1f, 2048, 512))
                .attr("transpose_a", false).attr("transpose_b", false));
        t.output("y", y, -1, 512);
        return t.graph();
    }

    @Test
    void wholeFileIsExactlyTheModelsSerialization() throws IOException {
        Graph g = dense();
        OnnxExporter x = OnnxExporter.fp32();
        Path out = dir.resolve("m.onnx");
        ExportResult r = x.export(g, out);
        assertNull(r.externalData());
        assertArrayEquals(x.toModel(g).toByteArray(), Files.readAllBytes(out));
        // and deterministic: a second export writes the same bytes
        Path again = dir.resolve("again.onnx");
        x.export(g, again);
        assertArrayEquals(Files.readAllBytes(out), Files.readAllBytes(again));
    }

    @Test
    void externalDataRunsInOnnxRuntimeLikeTheSingleFile() throws IOException {
        Graph g = dense();
        Path whole = dir.resolve("whole.onnx");
        OnnxExporter.fp32().export(g, whole);
        Path ext = Files.createDirectory(dir.resolve("ext")).resolve("model.onnx");
        ExportResult r = OnnxExporter.builder().externalData(true).build().export(g, ext);
        Path data = ext.resolveSibling("model.onnx.data");
        assertEquals(data, r.externalData());
        assertTrue(Files.size(ext) < 64 * 1024, "the model file keeps no weights: " + Files.size(ext) + " bytes");

        // every initializer of 1 KB or more points into the data file and holds exactly the single file's bytes
        ModelProto single = ModelProto.parseFrom(Files.readAllBytes(whole));
        ModelProto split = ModelProto.parseFrom(Files.readAllBytes(ext));
        Map<String, TensorProto> byName = new HashMap<>();
        single.getGraph().getInitializerList().forEach(t -> byName.put(t.getName(), t));
        int external = 0;
        try (FileChannel ch = FileChannel.open(data)) {
            for (TensorProto t : split.getGraph().getInitializerList()) {
                TensorProto orig = byName.get(t.getName());
                if (orig.getRawData().size() < OnnxFileWriter.EXTERNAL_THRESHOLD) {
                    assertEquals(orig, t, t.getName() + " stays inline");
                    continue;
                }
                external++;
                assertEquals(TensorProto.DataLocation.EXTERNAL, t.getDataLocation());
                assertFalse(t.hasRawData());
                Map<String, String> e = new HashMap<>();
                for (StringStringEntryProto kv : t.getExternalDataList()) {
                    e.put(kv.getKey(), kv.getValue());
                }
                assertEquals("model.onnx.data", e.get("location"));
                long offset = Long.parseLong(e.get("offset"));
                int length = Integer.parseInt(e.get("length"));
                assertEquals(orig.getRawData().size(), length);
                if (length > OnnxFileWriter.ALIGN_THRESHOLD) {
                    assertEquals(0, offset % OnnxFileWriter.ALIGNMENT, t.getName() + " is 64 KiB-aligned");
                }
                ByteBuffer b = ByteBuffer.allocate(length);
                ch.read(b, offset);
                assertArrayEquals(orig.getRawData().toByteArray(), b.array(), t.getName());
            }
        }
        assertEquals(3, external, "two kernels and the 2048-float bias");

        // ONNX Runtime finds the data beside the model and computes the same outputs, bit for bit
        Map<String, Tensor> in = RandomInputs.forSignature(g.inputs(), 5, 3);
        Tensor a;
        Tensor b;
        try (OnnxRunner run = OnnxRunner.open(whole, 1)) {
            a = run.run(in).get("y");
        }
        try (OnnxRunner run = OnnxRunner.open(ext, 1)) {
            b = run.run(in).get("y");
        }
        TensorComparison c = TensorComparison.compare(a, b);
        assertTrue(c.shapeAndTypeMatch() && c.maxAbsError() == 0, c.toString());
    }

    @Test
    void weightsBeyondProtobufsLimitGoToExternalData() {
        ModelProto m = OnnxExporter.fp32().toModel(dense());
        assertFalse(OnnxFileWriter.exceedsOneFile(m, OnnxFileWriter.PROTOBUF_LIMIT));
        // the same test with a limit just below this model's weights (the real one is 2 GiB)
        assertTrue(OnnxFileWriter.exceedsOneFile(m, 8L << 20));
    }

    /**
     * The weights are streamed from the graph's buffers to the file: the export allocates its buffers (about 2 MB)
     * and the graph's structure, not a copy of the weights.
     */
    @Test
    void exportDoesNotCopyTheWeights() {
        Graph g = dense();
        long weights = 4L * (1024 * 2048 + 2048 + 2048 * 512);
        OnnxExporter x = OnnxExporter.fp32();
        x.export(g, dir.resolve("warm.onnx")); // class loading and JIT outside the measurement
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        for (boolean external : new boolean[] {false, true}) {
            long before = threads.getCurrentThreadAllocatedBytes();
            OnnxExporter.builder().externalData(external).build().export(g, dir.resolve("m" + external + ".onnx"));
            long allocated = threads.getCurrentThreadAllocatedBytes() - before;
            assertTrue(allocated < weights / 2, (external ? "external" : "whole") + " export allocated " + allocated
                    + " bytes for " + weights + " bytes of weights");
        }
    }

    /** Reading a model back, held in one file or with external data, maps the weights: no heap copy of them. */
    @Test
    void readingDoesNotCopyTheWeights() {
        Graph g = dense();
        long weights = 4L * (1024 * 2048 + 2048 + 2048 * 512);
        OnnxExporter.fp32().export(g, dir.resolve("rwhole.onnx"));
        OnnxExporter.builder().externalData(true).build().export(g, dir.resolve("rext.onnx"));
        OnnxReader.initializers(dir.resolve("rwhole.onnx")); // class loading and JIT outside the measurement
        var threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        for (String name : new String[] {"rwhole.onnx", "rext.onnx"}) {
            long before = threads.getCurrentThreadAllocatedBytes();
            Map<String, Tensor> read = OnnxReader.initializers(dir.resolve(name));
            long allocated = threads.getCurrentThreadAllocatedBytes() - before;
            assertEquals(weights, read.values().stream().mapToLong(Tensor::byteSize).sum(), name);
            assertTrue(allocated < weights / 10, name + ": reading allocated " + allocated + " bytes for " + weights
                    + " bytes of weights");
        }
        // the two files read back to the same values
        Map<String, Tensor> whole = OnnxReader.initializers(dir.resolve("rwhole.onnx"));
        Map<String, Tensor> ext = OnnxReader.initializers(dir.resolve("rext.onnx"));
        assertEquals(whole.keySet(), ext.keySet());
        whole.forEach((name, t) -> assertEquals(t.bytes(), ext.get(name).bytes(), name));
    }
}
