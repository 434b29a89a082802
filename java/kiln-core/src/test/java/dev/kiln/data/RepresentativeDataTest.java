package dev.kiln.data;

import dev.kiln.KilnArgumentException;
import dev.kiln.graph.DType;
import dev.kiln.graph.Shape;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RepresentativeDataTest {
    @TempDir
    Path dir;

    private static byte[] u8(int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i * 7);
        }
        return b;
    }

    private static float[] scaled(byte[] b, double scale) {
        float[] f = new float[b.length];
        for (int i = 0; i < b.length; i++) {
            f[i] = (float) ((b[i] & 0xFF) * scale);
        }
        return f;
    }

    @Test
    void npyBatchesCoverTheDataWithAShortLastBatch() {
        byte[] data = u8(10 * 4 * 4 * 1);
        Path p = dir.resolve("imgs.npy");
        NpyWriter.write(p, DType.UINT8, data, 10, 4, 4, 1);
        List<SignatureTensor> inputs = List.of(TestData.input("x", DType.FLOAT, -1, 16));
        RepresentativeData d = DataSources.parse("imgs.npy", dir, inputs, FloatConversion.scale(0.5)).build();
        assertEquals(10, d.sampleCount());
        assertEquals(32, d.batchSize());
        assertFalse(d.isRandom());
        assertEquals(List.of("input 'x': data [4,4,1] reshaped to [16]"), d.notes());
        assertTrue(d.description().contains("imgs.npy (uint8 samples of [4,4,1]), x * 0.5 -> float, reshaped to"
                + " [16]; 10 samples in batches of 32"), d.description());
        for (int batch : new int[] {1, 3, 4, 10, 64}) {
            List<Integer> sizes = new ArrayList<>();
            Tensor all = TestData.concatAll(d.withBatchSize(batch), sizes).get("x");
            assertEquals(Shape.of(10, 16), all.shape());
            assertArrayEquals(scaled(data, 0.5), all.floats(), "batch " + batch);
            assertEquals(10 % batch == 0 || batch > 10 ? Math.min(batch, 10) : 10 % batch,
                    sizes.get(sizes.size() - 1));
        }
    }

    @Test
    void sliceTakesARangeForCalibrationAndAnotherForEvaluation() {
        byte[] data = u8(20 * 3);
        Path p = dir.resolve("d.npy");
        NpyWriter.write(p, DType.UINT8, data, 20, 3);
        List<SignatureTensor> inputs = List.of(TestData.input("x", DType.FLOAT, -1, 3));
        RepresentativeData all = ArrayData.builder(inputs).input("x", ArraySource.npy(p)).batchSize(4).build();
        RepresentativeData calib = all.slice(0, 5);
        RepresentativeData eval = all.slice(12, 8);
        assertEquals(5, calib.sampleCount());
        List<Integer> sizes = new ArrayList<>();
        assertArrayEquals(scaled(Arrays.copyOfRange(data, 0, 15), 1), TestData.concatAll(calib, sizes).get("x")
                .floats());
        assertEquals(List.of(4, 1), sizes);
        assertArrayEquals(scaled(Arrays.copyOfRange(data, 36, 60), 1), TestData.concatAll(eval, new ArrayList<>())
                .get("x").floats());
        // the builder's range and a slice of a slice agree
        RepresentativeData viaBuilder = ArrayData.builder(inputs).input("x", ArraySource.npy(p)).range(12, 8).build();
        assertArrayEquals(TestData.concatAll(eval, new ArrayList<>()).get("x").floats(),
                TestData.concatAll(viaBuilder, new ArrayList<>()).get("x").floats());
        assertArrayEquals(scaled(Arrays.copyOfRange(data, 42, 48), 1),
                TestData.concatAll(eval.slice(2, 2), new ArrayList<>()).get("x").floats());
        KilnArgumentException e = assertThrows(KilnArgumentException.class, () -> all.slice(15, 10));
        assertTrue(e.getMessage().contains("outside the 20 samples of"), e.getMessage());
    }

    @Test
    void severalInputsFromFilesAndFromOneNpz() throws IOException {
        float[] a = TestData.iota(7 * 2);
        byte[] b = u8(7);
        NpyWriter.write(dir.resolve("a.npy"), a, 7, 2);
        NpyWriter.write(dir.resolve("b.npy"), DType.INT8, b, 7, 1);
        List<SignatureTensor> inputs = List.of(TestData.input("a", DType.FLOAT, -1, 2),
                TestData.input("b", DType.FLOAT, -1));
        RepresentativeData fromFiles = DataSources.parse("a=a.npy, b=b.npy", dir, inputs,
                FloatConversion.identity()).batchSize(3).build();
        Map<String, Tensor> got = TestData.concatAll(fromFiles, new ArrayList<>());
        assertArrayEquals(a, got.get("a").floats());
        assertEquals(Shape.of(7), got.get("b").shape());
        Map<String, Tensor> arrays = new LinkedHashMap<>();
        arrays.put("b", Tensor.ofBytes(DType.INT8, Shape.of(7, 1), b));
        arrays.put("a", Tensor.ofFloats(Shape.of(7, 2), a));
        arrays.put("labels", Tensor.ofBytes(DType.UINT8, Shape.of(7), b));
        for (boolean deflate : new boolean[] {false, true}) {
            TestData.npz(dir.resolve("all.npz"), arrays, deflate);
            RepresentativeData fromNpz = DataSources.parse("all.npz", dir, inputs, FloatConversion.identity())
                    .batchSize(2).build();
            Map<String, Tensor> n = TestData.concatAll(fromNpz, new ArrayList<>());
            assertArrayEquals(a, n.get("a").floats());
            assertArrayEquals(got.get("b").floats(), n.get("b").floats());
            RepresentativeData picked = DataSources.parse("a=all.npz:a,b=all.npz", dir, inputs,
                    FloatConversion.identity()).build();
            assertArrayEquals(a, TestData.concatAll(picked, new ArrayList<>()).get("a").floats());
        }
    }

    @Test
    void badSpecificationsNameWhatIsWrong() {
        NpyWriter.write(dir.resolve("a.npy"), TestData.iota(6), 3, 2);
        NpyWriter.write(dir.resolve("b4.npy"), TestData.iota(8), 4, 2);
        NpyWriter.write(dir.resolve("empty.npy"), new float[0], 0, 2);
        List<SignatureTensor> two = List.of(TestData.input("a", DType.FLOAT, -1, 2),
                TestData.input("b", DType.FLOAT, -1, 2));
        FloatConversion id = FloatConversion.identity();
        assertMessage("is one array, but the model has 2 inputs [a, b]",
                () -> DataSources.parse("a.npy", dir, two, id));
        assertMessage("--data names input 'c', but the model's inputs are [a, b]",
                () -> DataSources.parse("c=a.npy", dir, two, id));
        assertMessage("input 'b' has no data", () -> DataSources.parse("a=a.npy", dir, two, id).build());
        assertMessage("input 'b': data " + dir.resolve("b4.npy") + " has 4 samples, but " + dir.resolve("a.npy")
                + " has 3", () -> DataSources.parse("a=a.npy,b=b4.npy", dir, two, id).build());
        assertMessage("does not exist", () -> DataSources.parse("a=nope.npy", dir, two, id));
        assertMessage("empty.npy has 0 samples", () -> DataSources.parse("a=empty.npy,b=a.npy", dir, two, id)
                .build());
        List<SignatureTensor> ints = List.of(TestData.input("ids", DType.INT32, -1, 2));
        assertMessage("input 'ids' is int32, but data " + dir.resolve("a.npy") + " is float",
                () -> DataSources.parse("a.npy", dir, ints, id).build());
        List<SignatureTensor> wide = List.of(TestData.input("x", DType.FLOAT, -1, 3));
        assertMessage("input 'x': data " + dir.resolve("a.npy") + " has per-sample shape [2]",
                () -> DataSources.parse("a.npy", dir, wide, id).build());
    }

    @Test
    void integerDataFeedsIntegerInputsAsIsAndHalfInputsAreConverted() {
        NpyWriter.write(dir.resolve("u.npy"), DType.UINT8, new byte[] {1, 2, 3, (byte) 200}, 2, 2);
        Tensor raw = TestData.concatAll(DataSources.parse("u.npy", dir,
                List.of(TestData.input("q", DType.UINT8, -1, 2)), FloatConversion.identity()).build(),
                new ArrayList<>()).get("q");
        assertEquals(DType.UINT8, raw.dtype());
        assertArrayEquals(new long[] {1, 2, 3, 200}, raw.asLongs());
        Tensor half = TestData.concatAll(DataSources.parse("u.npy", dir,
                List.of(TestData.input("h", DType.HALF, -1, 2)), FloatConversion.scale(0.5)).build(),
                new ArrayList<>()).get("h");
        assertEquals(DType.HALF, half.dtype());
        assertArrayEquals(new float[] {0.5f, 1, 1.5f, 100}, FloatConversion.identity().apply(half).floats());
    }

    @Test
    void fixedBatchDimensionSetsTheBatchAndDropsAShortLastBatch() {
        NpyWriter.write(dir.resolve("a.npy"), TestData.iota(10), 5, 2);
        List<SignatureTensor> fixed = List.of(TestData.input("x", DType.FLOAT, 2, 2));
        RepresentativeData d = DataSources.parse("a.npy", dir, fixed, FloatConversion.identity()).build();
        assertEquals(2, d.batchSize());
        List<Integer> sizes = new ArrayList<>();
        TestData.concatAll(d, sizes);
        assertEquals(List.of(2, 2), sizes);
        assertTrue(d.notes().get(0).contains("the last 1 samples (a short batch) are not used"), d.notes().toString());
        assertMessage("batch size 3 does not fit the model", () -> d.withBatchSize(3));
    }

    @Test
    void iterableBatchesPassThroughOrAreRecut() {
        List<Map<String, Tensor>> given = new ArrayList<>();
        float[] all = TestData.iota(11 * 2);
        int[] cuts = {0, 4, 5, 11};
        for (int i = 0; i + 1 < cuts.length; i++) {
            int n = cuts[i + 1] - cuts[i];
            given.add(Map.of("x", Tensor.ofFloats(Shape.of(n, 2), Arrays.copyOfRange(all, 2 * cuts[i],
                    2 * cuts[i + 1]))));
        }
        RepresentativeData d = RepresentativeData.of(given, "API batches");
        assertEquals(-1, d.sampleCount());
        assertEquals(-1, d.batchSize());
        List<Integer> sizes = new ArrayList<>();
        assertArrayEquals(all, TestData.concatAll(d, sizes).get("x").floats());
        assertEquals(List.of(4, 1, 6), sizes);
        sizes.clear();
        assertArrayEquals(all, TestData.concatAll(d.withBatchSize(3), sizes).get("x").floats());
        assertEquals(List.of(3, 3, 3, 2), sizes);
        sizes.clear();
        RepresentativeData mid = d.withBatchSize(2).slice(3, 5);
        assertArrayEquals(Arrays.copyOfRange(all, 6, 16), TestData.concatAll(mid, sizes).get("x").floats());
        assertEquals(List.of(2, 2, 1), sizes);
        assertTrue(mid.description().startsWith("API batches, samples 3..7, in batches of 2"), mid.description());
    }

    @Test
    void randomDataIsSeededAndFlagged() {
        List<SignatureTensor> inputs = List.of(TestData.input("x", DType.FLOAT, -1, 3),
                TestData.input("ids", DType.INT32, -1));
        RepresentativeData r = RepresentativeData.random(inputs, 7, 10).withBatchSize(4);
        assertTrue(r.isRandom());
        assertTrue(r.description().startsWith("RANDOM data (seed 7"), r.description());
        List<Integer> sizes = new ArrayList<>();
        Map<String, Tensor> a = TestData.concatAll(r, sizes);
        assertEquals(List.of(4, 4, 2), sizes);
        assertEquals(Shape.of(10, 3), a.get("x").shape());
        assertArrayEquals(a.get("x").floats(), TestData.concatAll(r, new ArrayList<>()).get("x").floats());
        float[] other = TestData.concatAll(RepresentativeData.random(inputs, 8, 10).withBatchSize(4),
                new ArrayList<>()).get("x").floats();
        assertFalse(Arrays.equals(a.get("x").floats(), other));
        assertMessage("at least 1 sample", () -> RepresentativeData.random(inputs, 7, 0));
    }

    static void assertMessage(String part, org.junit.jupiter.api.function.Executable run) {
        KilnArgumentException e = assertThrows(KilnArgumentException.class, run);
        assertTrue(e.getMessage().contains(part), "'" + e.getMessage() + "' lacks '" + part + "'");
    }
}
