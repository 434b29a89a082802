package dev.kiln.pipeline;

import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;
import dev.kiln.calib.CalibrationStatistics;
import dev.kiln.calib.CalibrationTable;
import dev.kiln.calib.TensorRtCalibrationCache;
import dev.kiln.calib.ThresholdMethod;
import dev.kiln.data.DataSources;
import dev.kiln.data.FloatConversion;
import dev.kiln.data.NpyWriter;
import dev.kiln.data.RepresentativeData;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import dev.kiln.onnx.Int8Target;
import dev.kiln.passes.Passes;
import dev.kiln.tensorflow.ExampleModels;
import dev.kiln.tensorflow.TfImporter;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The calibrate job on a real SavedModel (the example CNN, written by TF Java) and data files written by the test:
 * tables independent of batch size and order, exact merging, TensorRT cache round trip, and every bad input.
 */
class CalibrateJobTest {
    @TempDir
    static Path dir;
    static Path model;
    static Graph optimized;
    static float[] images; // 96 samples of [32,32,3]
    static final int N = 96;

    @BeforeAll
    static void setUp() {
        model = ExampleModels.exampleCnn(dir.resolve("cnn"));
        optimized = TfImporter.load(model);
        Passes.optimizeForInference().run(optimized);
        Random r = new Random(3);
        images = new float[N * 32 * 32 * 3];
        for (int i = 0; i < images.length; i++) {
            images[i] = (float) r.nextGaussian();
        }
        NpyWriter.write(dir.resolve("images.npy"), images, N, 32, 32, 3);
    }

    private static RepresentativeData npy(Path file, int batch) {
        return DataSources.parse(file.toString(), Path.of(""), optimized.inputs(), FloatConversion.identity())
                .batchSize(batch).build();
    }

    private static CalibrateJob.Result calibrate(RepresentativeData data) {
        return CalibrateJob.builder(model).data(data).build().calibrate(optimized, "sha256:test");
    }

    /** The same samples as API batches of {@code batch} in the row order {@code order}. */
    private static RepresentativeData reordered(int[] order, int batch) {
        List<Map<String, Tensor>> batches = new ArrayList<>();
        int per = 32 * 32 * 3;
        for (int s = 0; s < N; s += batch) {
            int n = Math.min(batch, N - s);
            float[] b = new float[n * per];
            for (int i = 0; i < n; i++) {
                System.arraycopy(images, order[s + i] * per, b, i * per, per);
            }
            batches.add(Map.of("input", Tensor.ofFloats(Shape.of(n, 32, 32, 3), b)));
        }
        return RepresentativeData.of(batches, "the test's 96 images");
    }

    @Test
    void sameDataInAnotherBatchSizeOrOrderGivesTheSameTableByteForByte() {
        int[] identity = new int[N];
        Arrays.setAll(identity, i -> i);
        List<Integer> shuffled = new ArrayList<>();
        for (int i = 0; i < N; i++) {
            shuffled.add(i);
        }
        Collections.shuffle(shuffled, new Random(11));
        int[] order = shuffled.stream().mapToInt(Integer::intValue).toArray();

        CalibrateJob.Result a = calibrate(reordered(identity, 1));
        CalibrateJob.Result b = calibrate(reordered(identity, 7));
        CalibrateJob.Result c = calibrate(reordered(order, 64));
        for (Int8Target t : Int8Target.values()) {
            byte[] ta = a.tables().get(t).toJson();
            assertArrayEquals(ta, b.tables().get(t).toJson(), t + ": batch 1 vs 7");
            assertArrayEquals(ta, c.tables().get(t).toJson(), t + ": batch 1 vs 64, shuffled");
        }
        // .npy files in two batch sizes: the same bytes as well
        assertArrayEquals(calibrate(npy(dir.resolve("images.npy"), 5)).tables().get(Int8Target.TENSORRT).toJson(),
                calibrate(npy(dir.resolve("images.npy"), 32)).tables().get(Int8Target.TENSORRT).toJson());
        assertEquals(N, a.summary().samples());
        assertTrue(a.tables().get(Int8Target.TENSORRT).symmetric());
        assertFalse(a.tables().get(Int8Target.ONNXRUNTIME).symmetric());
        assertEquals("mse", a.summary().method(), "the default activation method");
    }

    @Test
    void statisticsOfTwoRunsMergeIntoTheTableOfOneRun() throws Exception {
        CalibrateJob.Result whole = calibrate(npy(dir.resolve("images.npy"), 16));
        Path first = dir.resolve("first.npy");
        Path second = dir.resolve("second.npy");
        int half = N / 3 * 32 * 32 * 3; // uneven split: 32 and 64 samples
        NpyWriter.write(first, Arrays.copyOfRange(images, 0, half), N / 3, 32, 32, 3);
        NpyWriter.write(second, Arrays.copyOfRange(images, half, images.length), N - N / 3, 32, 32, 3);
        CalibrateJob.Result a = calibrate(npy(first, 16));
        CalibrateJob.Result b = calibrate(npy(second, 16));
        Path sa = dir.resolve("stats-a.json");
        Path sb = dir.resolve("stats-b.json");
        a.statistics().save(sa);
        b.statistics().save(sb);
        CalibrationStatistics merged = CalibrationStatistics.load(sa, dev.kiln.kernels.KernelBackends.get(),
                t -> true).merge(CalibrationStatistics.load(sb, dev.kiln.kernels.KernelBackends.get(), t -> true));
        for (boolean symmetric : new boolean[] {true, false}) {
            CalibrationTable fromMerged = CalibrationTable.compute(merged, t -> ThresholdMethod.mse(), symmetric,
                    whole.tables().get(Int8Target.TENSORRT).metadata());
            CalibrationTable fromWhole = CalibrationTable.compute(whole.statistics(), t -> ThresholdMethod.mse(),
                    symmetric, whole.tables().get(Int8Target.TENSORRT).metadata());
            assertArrayEquals(fromWhole.toJson(), fromMerged.toJson(), "symmetric " + symmetric);
        }
    }

    @Test
    void writesTablesCachesAndStatisticsThatReadBack() {
        CalibrateJob.Result r = calibrate(npy(dir.resolve("images.npy"), 32));
        Path out = dir.resolve("tables");
        List<Path> written = r.write(out);
        assertEquals(6, written.size(), written.toString());
        CalibrationTable trt = CalibrationTable.load(out.resolve("table_tensorrt.json"));
        assertEquals(r.tables().get(Int8Target.TENSORRT), trt);
        TensorRtCalibrationCache cache = TensorRtCalibrationCache.read(out.resolve("calibration_tensorrt.cache"));
        assertTrue(cache.header().startsWith("TRT-"), cache.header());
        for (Map.Entry<String, Float> e : cache.scales().entrySet()) {
            assertEquals(trt.entry(e.getKey()).scale(), e.getValue(), 0f, e.getKey());
        }
        assertTrue(Files.isRegularFile(out.resolve("calibration.json")));
        assertTrue(Files.isRegularFile(out.resolve("statistics.json")));
    }

    @Test
    void nanAndInfInDataAreCountedAndExcluded() {
        float[] bad = images.clone();
        bad[5] = Float.NaN;
        bad[77] = Float.POSITIVE_INFINITY;
        bad[1000] = Float.NEGATIVE_INFINITY;
        Path p = dir.resolve("with-nan.npy");
        NpyWriter.write(p, bad, N, 32, 32, 3);
        CalibrateJob.Result r = calibrate(npy(p, 32));
        assertTrue(r.summary().nanCount() >= 1 && r.summary().infCount() >= 2, r.summary().toString());
        CalibrationTable.Entry in = r.tables().get(Int8Target.TENSORRT).entry("input");
        assertEquals(1, in.nanCount());
        assertEquals(2, in.infCount());
        assertTrue(Float.isFinite(in.amax()) && in.amax() > 0);
    }

    @Test
    void dataThatIsAllNanIsAnErrorNamingTheTensor() {
        float[] nan = new float[4 * 32 * 32 * 3];
        Arrays.fill(nan, Float.NaN);
        Path p = dir.resolve("all-nan.npy");
        NpyWriter.write(p, nan, 4, 32, 32, 3);
        KilnException e = assertThrows(KilnException.class, () -> calibrate(npy(p, 2)));
        assertTrue(e.getMessage().contains("no finite value"), e.getMessage());
    }

    @Test
    void dataOfTheWrongShapeSaysWhichInputAndWhatWasExpected() {
        Path p = dir.resolve("wrong.npy");
        NpyWriter.write(p, new float[4 * 28 * 28], 4, 28, 28);
        KilnArgumentException e = assertThrows(KilnArgumentException.class, () -> npy(p, 2));
        assertTrue(e.getMessage().contains("'input'") && e.getMessage().contains("[28,28]")
                && e.getMessage().contains("32"), e.getMessage());
    }

    @Test
    void anEmptyDataSetIsAnError() {
        Path p = dir.resolve("empty.npy");
        NpyWriter.write(p, new float[0], 0, 32, 32, 3);
        KilnArgumentException e = assertThrows(KilnArgumentException.class, () -> npy(p, 2));
        assertTrue(e.getMessage().contains("0 samples"), e.getMessage());
    }

    @Test
    void aTableFromAnotherModelOrMissingTensorsIsRefused() {
        CalibrationTable t = calibrate(npy(dir.resolve("images.npy"), 32)).tables().get(Int8Target.TENSORRT);
        KilnArgumentException other = assertThrows(KilnArgumentException.class, () -> t.validateAgainst(
                t.entries().keySet(), t.entries().keySet(), "sha256:another-model"));
        assertTrue(other.getMessage().contains("another-model") || other.getMessage().contains("fingerprint"),
                other.getMessage());
        KilnArgumentException missing = assertThrows(KilnArgumentException.class, () -> t.validateAgainst(
                t.entries().keySet(), java.util.Set.of("conv9/Conv2D"), "sha256:test"));
        assertTrue(missing.getMessage().contains("conv9/Conv2D"), missing.getMessage());
    }

    @Test
    void perTensorMethodsApplyAndUnknownTensorsAreRefused() {
        CalibrateJob.Result r = CalibrateJob.builder(model).data(npy(dir.resolve("images.npy"), 32))
                .targets(EnumSet.of(Int8Target.TENSORRT)).method(ThresholdMethod.entropy())
                .methods(Map.of("input", ThresholdMethod.minmax())).build().calibrate(optimized, "sha256:test");
        CalibrationTable t = r.tables().get(Int8Target.TENSORRT);
        assertEquals("minmax", t.entry("input").method());
        assertTrue(t.entries().values().stream().filter(e -> e != t.entry("input"))
                .allMatch(e -> e.method().equals("entropy")), t.toString());
        KilnArgumentException e = assertThrows(KilnArgumentException.class, () -> CalibrateJob.builder(model)
                .data(npy(dir.resolve("images.npy"), 32)).methods(Map.of("nope", ThresholdMethod.mse())).build()
                .calibrate(optimized, "x"));
        assertTrue(e.getMessage().contains("'nope'"), e.getMessage());
    }
}
