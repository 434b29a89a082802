package dev.kiln.tflite;

import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;
import dev.kiln.calib.CalibrationTable;
import dev.kiln.calib.ThresholdMethod;
import dev.kiln.data.RepresentativeData;
import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import dev.kiln.tflite.TfliteModelBuilder.TensorSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

import static dev.kiln.tflite.TfliteSchema.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Bad input gives a clear error and leaves nothing half-written: an unmapped op (named with its node), a table missing
 * a tensor, ranges TFLite cannot express, an unwritable output; and the runner reports the interpreter's own words
 * for a corrupted file or a model whose AllocateTensors fails, without ending the JVM.
 */
class TfliteErrorsTest {
    @TempDir
    Path dir;

    @Test
    void unmappedOpIsNamedWithItsNodeAndNothingIsWritten() {
        TestGraphs t = new TestGraphs(1);
        String x = t.input("x", -1, 4);
        String c = t.op("my_erf", "Erf", x);
        String ok = t.op("relu", "Relu", c);
        t.output("y", ok, -1, 4);
        Path out = dir.resolve("model.tflite");
        KilnException e = assertThrows(KilnException.class, () -> TfliteExporter.fp32().export(t.graph(), out));
        assertTrue(e.getMessage().contains("'Erf'") && e.getMessage().contains("'my_erf'"), e.getMessage());
        assertTrue(e.getMessage().contains("nothing written"), e.getMessage());
        assertFalse(Files.exists(out), "no file for a failed export");
        assertEquals(0, dir.toFile().list().length, "no temporary file left either");
    }

    @Test
    void bicubicResizeIsRefusedWithTheReason() {
        TestGraphs t = new TestGraphs(1);
        String x = t.input("image", -1, 5, 6, 3);
        String r = t.op("upscale", "ResizeBicubic", x, t.ints("size", 10, 12));
        t.output("y", r, -1, 10, 12, 3);
        Path out = dir.resolve("model.tflite");
        KilnException e = assertThrows(KilnException.class, () -> TfliteExporter.fp32().export(t.graph(), out));
        assertTrue(e.getMessage().contains("'ResizeBicubic' (node 'upscale')")
                && e.getMessage().contains("no bicubic resize builtin"), e.getMessage());
        assertFalse(Files.exists(out));
    }

    @Test
    void tableMissingATensorIsNamedAndNothingIsWritten() {
        Graph g = TestGraphs.mlp(2);
        CalibrationTable full = Mnist.calibrate(g, RepresentativeData.random(g.inputs(), 1, 32).withBatchSize(16),
                ThresholdMethod.minmax());
        Map<String, CalibrationTable.Entry> entries = new LinkedHashMap<>(full.entries());
        assertTrue(entries.remove("hidden") != null, "the table has the hidden layer: " + entries.keySet());
        CalibrationTable partial = new CalibrationTable(full.metadata(), true, entries);
        Path out = dir.resolve("int8.tflite");
        KilnArgumentException e = assertThrows(KilnArgumentException.class, () -> TfliteExporter.builder()
                .precision(TflitePrecision.INT8).table(partial).build().export(g, out));
        assertTrue(e.getMessage().contains("'hidden'"), e.getMessage());
        assertFalse(Files.exists(out));
        KilnArgumentException v = assertThrows(KilnArgumentException.class,
                () -> TfliteInt8Placement.validate(partial, g));
        assertTrue(v.getMessage().contains("'hidden'"), v.getMessage());
    }

    @Test
    void rangesTfliteCannotExpressAreRefused() {
        Graph g = TestGraphs.mlp(2);
        dev.kiln.passes.Passes.optimizeForInference().run(g); // biases fused: int32 inputs of FULLY_CONNECTED
        CalibrationTable full = Mnist.calibrate(g, RepresentativeData.random(g.inputs(), 1, 32).withBatchSize(16),
                ThresholdMethod.minmax());
        CalibrationTable.Metadata m = full.metadata();
        CalibrationTable sixteen = new CalibrationTable(new CalibrationTable.Metadata(m.modelFingerprint(), m.data(),
                m.random(), m.kilnVersion(), 16), true, full.entries());
        KilnException e = assertThrows(KilnException.class, () -> TfliteExporter.builder()
                .precision(TflitePrecision.INT8).table(sixteen).build().toBytes(g));
        assertTrue(e.getMessage().contains("16-bit"), e.getMessage());

        // a bias that int32 cannot hold at input scale × weight scale: a tiny input range and a huge bias
        Map<String, CalibrationTable.Entry> tiny = new LinkedHashMap<>(full.entries());
        tiny.put("x", new CalibrationTable.Entry("minmax", 1e-30f, 1e-30f / 127, 0, -1e-30f, 1e-30f, 1, 0, 0));
        CalibrationTable bad = new CalibrationTable(m, true, tiny);
        KilnException b = assertThrows(KilnException.class, () -> TfliteExporter.builder()
                .precision(TflitePrecision.INT8).table(bad).build().toBytes(g));
        assertTrue(b.getMessage().contains("fc1/bias") && b.getMessage().contains("int32"), b.getMessage());
    }

    @Test
    void unwritableOutputIsAnIoErrorNamingIt() throws Exception {
        Graph g = TestGraphs.mlp(2);
        // a missing directory is made (as for every output); a file in its way is the error
        Path missingDir = dir.resolve("no/such/dir/model.tflite");
        TfliteExporter.fp32().export(g, missingDir);
        assertTrue(Files.size(missingDir) > 0);
        Path blocked = Files.writeString(dir.resolve("blocker"), "a file").resolve("model.tflite");
        KilnException e = assertThrows(KilnException.class, () -> TfliteExporter.fp32().export(g, blocked));
        assertTrue(e.getMessage().contains(blocked.toString()), e.getMessage());
        KilnException d = assertThrows(KilnException.class, () -> TfliteExporter.fp32().export(g, dir));
        assertTrue(d.getMessage().contains("is a directory"), d.getMessage());
    }

    @Test
    void corruptedFileGivesTheInterpretersMessage() throws Exception {
        Graph g = TestGraphs.mlp(2);
        Path file = dir.resolve("model.tflite");
        TfliteExporter.fp32().export(g, file);
        byte[] bytes = Files.readAllBytes(file);
        byte[] broken = java.util.Arrays.copyOf(bytes, bytes.length / 3); // truncated: offsets point past the end
        Path bad = dir.resolve("truncated.tflite");
        Files.write(bad, broken);
        KilnException e = assertThrows(KilnException.class, () -> TfliteRunner.open(bad, 1));
        assertTrue(e.getMessage().contains(bad.toString()), e.getMessage());
        assertFalse(e.getMessage().contains("gave no message"), "the interpreter's own words: " + e.getMessage());
        System.out.println("truncated file: " + e.getMessage());
        // the original still loads: the runner failing cleanly left the JVM and the library usable
        try (TfliteRunner r = TfliteRunner.open(file, 1)) {
            assertEquals(java.util.Set.of("x", "mask"), java.util.Set.copyOf(r.inputNames()));
        }
    }

    /** A well-formed file whose FULLY_CONNECTED weights do not fit its input: AllocateTensors fails in a kernel. */
    @Test
    void allocateTensorsFailureCarriesTheKernelsMessage() {
        TfliteModelBuilder mb = new TfliteModelBuilder();
        int x = mb.addTensor(new TensorSpec("x", FLOAT32, new int[] {1, 5}, null, 0, null));
        java.nio.ByteBuffer w = java.nio.ByteBuffer.allocate(4 * 15).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        int weights = mb.addTensor(new TensorSpec("w", FLOAT32, new int[] {3, 5}, null, mb.addBuffer(w), null));
        java.nio.ByteBuffer b = java.nio.ByteBuffer.allocate(4 * 7).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        int bias = mb.addTensor(new TensorSpec("b", FLOAT32, new int[] {7}, null, mb.addBuffer(b), null));
        int y = mb.addTensor(new TensorSpec("y", FLOAT32, new int[] {1, 3}, null, 0, null));
        mb.addOperator(FULLY_CONNECTED, 1, new int[] {x, weights, bias}, new int[] {y},
                BuiltinOptions.fullyConnected(ACT_NONE, false));
        mb.addInput("x", x);
        mb.addOutput("y", y);
        try (TfliteRunner r = TfliteRunner.of(mb.build(), 1, "bad-fc.tflite")) {
            KilnException e = assertThrows(KilnException.class, () -> r.run(Map.of("x",
                    Tensor.ofFloats(Shape.of(1, 5), 1, 2, 3, 4, 5))));
            assertTrue(e.getMessage().contains("AllocateTensors") && e.getMessage().contains("bad-fc.tflite"),
                    e.getMessage());
            assertTrue(e.getMessage().contains("fully_connected") || e.getMessage().contains("FULLY_CONNECTED"),
                    "names the kernel: " + e.getMessage());
            assertFalse(e.getMessage().contains("%d") || e.getMessage().contains("%s"),
                    "formatted, not the printf template: " + e.getMessage());
            System.out.println("AllocateTensors: " + e.getMessage());
        }
    }

    @Test
    void wrongInputTypeOrNameIsAnArgumentError() {
        Graph g = TestGraphs.mlp(2);
        try (TfliteRunner r = TfliteRunner.of(TfliteExporter.fp32().toBytes(g), 1, "mlp")) {
            Tensor ints = Tensor.ofInts(Shape.of(1, 12), new int[12]);
            Tensor mask = Tensor.ofFloats(Shape.of(1, 4), new float[4]);
            KilnArgumentException e = assertThrows(KilnArgumentException.class,
                    () -> r.run(Map.of("x", ints, "mask", mask)));
            assertTrue(e.getMessage().contains("'x'") && e.getMessage().contains(DType.INT32.toString()),
                    e.getMessage());
            KilnArgumentException n = assertThrows(KilnArgumentException.class,
                    () -> r.run(Map.of("nope", mask)));
            assertTrue(n.getMessage().contains("'nope'"), n.getMessage());
        }
    }

    @Test
    void int8NeedsATableAndInt8IoNeedsInt8() {
        assertThrows(KilnArgumentException.class, () -> TfliteExporter.builder().precision(TflitePrecision.INT8)
                .build());
        assertThrows(KilnArgumentException.class, () -> TfliteExporter.builder().int8IO(true).build());
    }
}
