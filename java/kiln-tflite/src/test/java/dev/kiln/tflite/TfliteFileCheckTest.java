package dev.kiln.tflite;

import dev.kiln.KilnException;
import dev.kiln.calib.CalibrationTable;
import dev.kiln.calib.ThresholdMethod;
import dev.kiln.data.RepresentativeData;
import dev.kiln.graph.Graph;
import dev.kiln.tflite.TfliteModelBuilder.TensorSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

import static dev.kiln.tflite.TfliteSchema.*;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The structural check of a .tflite file ({@link TfliteFileCheck}) that runs before the interpreter reads it: every
 * file Kiln exports passes it and loads; a truncated, garbage or mutated file is a {@link KilnException} naming the
 * file, from the check or from the interpreter, and the JVM survives; hand-made files with one bad index or size are
 * refused with the place named.
 */
class TfliteFileCheckTest {
    @TempDir
    Path dir;

    /** Kiln's own exports of two graphs in every precision (also the seeds of TfliteReadersFuzzTest). */
    private Map<String, byte[]> kilnExports() {
        Graph mlp = TestGraphs.mlp(2);
        Graph optimized = TestGraphs.mlp(2);
        dev.kiln.passes.Passes.optimizeForInference().run(optimized);
        CalibrationTable table = Mnist.calibrate(optimized, RepresentativeData.random(optimized.inputs(), 1, 32)
                .withBatchSize(16), ThresholdMethod.minmax());
        Map<String, byte[]> out = new LinkedHashMap<>();
        out.put("mlp_fp32.tflite", TfliteExporter.fp32().toBytes(mlp));
        out.put("mlp_fp16.tflite", TfliteExporter.builder().precision(TflitePrecision.FP16).build().toBytes(mlp));
        out.put("mlp_dynamic_range.tflite", TfliteExporter.builder().precision(TflitePrecision.DYNAMIC_RANGE).build()
                .toBytes(mlp));
        out.put("mlp_int8.tflite", TfliteExporter.builder().precision(TflitePrecision.INT8).table(table).build()
                .toBytes(optimized));
        out.put("coverage_fp32.tflite", TfliteExporter.fp32().toBytes(TestGraphs.coverage(7)));
        return out;
    }

    @Test
    void everyKilnExportPassesTheCheckAndLoads() throws Exception {
        String seeds = System.getProperty("kiln.tflite.writeSeeds"); // where to copy them as fuzz seeds, if set
        for (Map.Entry<String, byte[]> e : kilnExports().entrySet()) {
            TfliteFileCheck.check(e.getValue(), e.getKey());
            try (TfliteRunner r = TfliteRunner.of(e.getValue(), 1, e.getKey())) {
                assertFalse(r.inputNames().isEmpty(), e.getKey());
            }
            if (seeds != null) {
                Files.write(Path.of(seeds).resolve(e.getKey()), e.getValue());
            }
        }
    }

    @Test
    void truncatedGarbageAndMutatedFilesAreKilnExceptionsNamingTheFile() throws Exception {
        byte[] good = TfliteExporter.fp32().toBytes(TestGraphs.mlp(2));
        Random random = new Random(14);
        int refused = 0;
        int tried = 0;
        for (int cut = 0; cut < 16; cut++, tried++) {
            refused += opens(Arrays.copyOf(good, good.length * cut / 16), "truncated" + cut + ".tflite") ? 0 : 1;
        }
        for (int i = 0; i < 8; i++, tried++) {
            byte[] garbage = new byte[1 + random.nextInt(4096)];
            random.nextBytes(garbage);
            if (i % 2 == 0 && garbage.length >= 8) { // with the identifier, so the check looks further
                System.arraycopy(FILE_IDENTIFIER.getBytes(), 0, garbage, 4, 4);
            }
            refused += opens(garbage, "garbage" + i + ".tflite") ? 0 : 1;
        }
        for (int i = 0; i < 150; i++, tried++) { // a few bytes of the FlatBuffer's structure (not its weights) changed
            byte[] m = good.clone();
            for (int k = 0, n = 1 + random.nextInt(4); k < n; k++) {
                int at = random.nextBoolean() ? random.nextInt(Math.min(m.length, 512))
                        : m.length - 1 - random.nextInt(Math.min(m.length, 2048));
                m[at] = (byte) random.nextInt(256);
            }
            refused += opens(m, "mutated" + i + ".tflite") ? 0 : 1;
        }
        System.out.println("TfliteFileCheckTest: " + refused + " of " + tried + " damaged files refused, the rest loaded");
        assertTrue(refused >= 24, "every truncated and garbage file is refused: " + refused);
    }

    /** Opens the bytes as a file: true if it loads, false for a KilnException naming it; anything else fails. */
    private boolean opens(byte[] bytes, String name) throws Exception {
        Path file = dir.resolve(name);
        Files.write(file, bytes);
        try (TfliteRunner r = TfliteRunner.open(file, 1, false)) {
            r.inputSignature();
            return true;
        } catch (KilnException e) {
            assertTrue(e.getMessage().contains(name), "names the file: " + e.getMessage());
            assertFalse(e.getMessage().contains("\n"), "one line: " + e.getMessage());
            return false;
        }
    }

    @Test
    void badIndicesShapesAndSizesAreRefusedWithThePlaceNamed() {
        assertRefused(model(99, 1, new int[] {1, 4}, 16), "tensors[1] 'w'.buffer is 99");
        assertRefused(model(1, 99, new int[] {1, 4}, 16), "operators[0].inputs[1] is 99");
        assertRefused(model(1, 1, new int[] {1, -3}, 16), "dimension -3");
        assertRefused(model(1, 1, new int[] {1, 4}, 12), "holds 12 bytes of data for a shape of 4 elements");
        byte[] notTflite = model(1, 1, new int[] {1, 4}, 16);
        notTflite[4] = 'X';
        assertRefused(notTflite, "no 'TFL3' identifier");
        // the same model with nothing wrong passes and runs
        byte[] ok = model(1, 1, new int[] {1, 4}, 16);
        TfliteFileCheck.check(ok, "ok.tflite");
        try (TfliteRunner r = TfliteRunner.of(ok, 1, "ok.tflite")) {
            assertEquals(java.util.List.of("x"), r.inputNames());
        }
    }

    private static void assertRefused(byte[] bytes, String expected) {
        KilnException e = assertThrows(KilnException.class, () -> TfliteRunner.of(bytes, 1, "bad.tflite"));
        assertTrue(e.getMessage().contains("bad.tflite") && e.getMessage().contains(expected), e.getMessage());
    }

    /** x [1,4] + w (a constant of {@code dataBytes} bytes, shape {@code shape}, in buffer {@code buffer}) -> y. */
    private static byte[] model(int buffer, int secondInput, int[] shape, int dataBytes) {
        TfliteModelBuilder mb = new TfliteModelBuilder();
        int x = mb.addTensor(new TensorSpec("x", FLOAT32, new int[] {1, 4}, null, 0, null));
        int data = mb.addBuffer(ByteBuffer.allocate(dataBytes).order(ByteOrder.LITTLE_ENDIAN));
        int w = mb.addTensor(new TensorSpec("w", FLOAT32, shape, null, buffer == 1 ? data : buffer, null));
        int y = mb.addTensor(new TensorSpec("y", FLOAT32, new int[] {1, 4}, null, 0, null));
        mb.addOperator(ADD, 1, new int[] {x, secondInput == 1 ? w : secondInput}, new int[] {y},
                BuiltinOptions.arithmetic(OPT_ADD, ACT_NONE));
        mb.addInput("x", x);
        mb.addOutput("y", y);
        return mb.build();
    }
}
