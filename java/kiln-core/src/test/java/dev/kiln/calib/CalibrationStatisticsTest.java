package dev.kiln.calib;

import dev.kiln.ErrorCode;
import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;
import dev.kiln.kernels.JavaKernels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.SplittableRandom;
import java.util.function.Function;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CalibrationStatisticsTest {
    private static final long SEED = System.nanoTime();
    private static final String[] TENSORS = {"conv1/Relu:0", "dense/BiasAdd:0", "input"};
    private static final int ROW = 50;

    /** Rows of activations per tensor: [tensor][row][element], with a few NaN and Inf in one tensor. */
    static float[][][] rows(int nbRows) {
        SplittableRandom rnd = new SplittableRandom(SEED);
        float[][][] x = new float[TENSORS.length][nbRows][ROW];
        for (int r = 0; r < nbRows; r++) {
            for (int i = 0; i < ROW; i++) {
                x[0][r][i] = (float) Math.max(0, rnd.nextGaussian() * 2); // ReLU output
                x[1][r][i] = (float) (rnd.nextGaussian() * Math.pow(2, rnd.nextInt(8) - 3) + 0.3);
                x[2][r][i] = (float) rnd.nextDouble(-1, 3);
                if (rnd.nextInt(400) == 0) {
                    x[1][r][i] = rnd.nextBoolean() ? Float.NaN : Float.NEGATIVE_INFINITY;
                }
            }
        }
        return x;
    }

    /** Feeds rows (in the given order) in batches of {@code batch} rows. */
    static CalibrationStatistics feed(CalibrationStatistics s, float[][][] x, List<Integer> order, int batch) {
        for (int start = 0; start < order.size(); start += batch) {
            int end = Math.min(order.size(), start + batch);
            for (int t = 0; t < TENSORS.length; t++) {
                float[] v = new float[(end - start) * ROW];
                for (int r = start; r < end; r++) {
                    System.arraycopy(x[t][order.get(r)], 0, v, (r - start) * ROW, ROW);
                }
                s.add(TENSORS[t], v, end - start);
            }
        }
        return s;
    }

    static List<Integer> order(int n, long shuffleSeed) {
        List<Integer> o = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            o.add(i);
        }
        if (shuffleSeed != 0) {
            Collections.shuffle(o, new Random(shuffleSeed));
        }
        return o;
    }

    static CalibrationStatistics fresh() {
        return CalibrationStatistics.create(new JavaKernels(), 2048, name -> true);
    }

    static final Function<String, ThresholdMethod> METHODS = name -> switch (name) {
        case "conv1/Relu:0" -> ThresholdMethod.entropy();
        case "dense/BiasAdd:0" -> ThresholdMethod.percentile(99.99);
        default -> ThresholdMethod.mse();
    };

    static final CalibrationTable.Metadata META =
            new CalibrationTable.Metadata("sha256:abc", "random rows, seed fixed", true, "test", 8);

    static byte[] tableBytes(CalibrationStatistics s, boolean symmetric) {
        return CalibrationTable.compute(s, METHODS, symmetric, META).toJson();
    }

    @Test
    void batchSizeAndRowOrderGiveTheSameTableBytes() {
        float[][][] x = rows(500);
        for (boolean symmetric : new boolean[] {true, false}) {
            byte[] ref = tableBytes(feed(fresh(), x, order(500, 0), 500), symmetric);
            for (int batch : new int[] {1, 7, 64}) {
                byte[] got = tableBytes(feed(fresh(), x, order(500, SEED + batch), batch), symmetric);
                assertArrayEquals(ref, got, "batch " + batch + ", seed " + SEED + ", symmetric " + symmetric);
            }
        }
    }

    @Test
    void mergingThreePartsInAnyOrderEqualsOnePass() {
        float[][][] x = rows(300);
        List<Integer> all = order(300, SEED);
        CalibrationStatistics one = feed(fresh(), x, all, 300);
        CalibrationStatistics[] parts = {
            feed(fresh(), x, all.subList(0, 40), 3),
            feed(fresh(), x, all.subList(40, 220), 64),
            feed(fresh(), x, all.subList(220, 300), 1),
        };
        int[][] orders = {{0, 1, 2}, {2, 1, 0}, {1, 2, 0}};
        for (int[] o : orders) {
            CalibrationStatistics merged = fresh();
            for (int i : o) {
                merged.merge(parts[i]);
            }
            assertArrayEquals(one.toJson(), merged.toJson(), "statistics, order " + Arrays.toString(o));
            assertArrayEquals(tableBytes(one, true), tableBytes(merged, true), "order " + Arrays.toString(o));
            assertArrayEquals(tableBytes(one, false), tableBytes(merged, false), "order " + Arrays.toString(o));
        }
        // merging leaves the other side unchanged
        assertEquals(40, parts[0].get("input").samples());
    }

    @Test
    void savedStatisticsFromSeveralProcessesMergeToTheSameTable(@TempDir Path dir) {
        float[][][] x = rows(200);
        List<Integer> all = order(200, SEED);
        feed(fresh(), x, all.subList(0, 120), 16).save(dir.resolve("a.json"));
        feed(fresh(), x, all.subList(120, 200), 5).save(dir.resolve("b.json"));
        CalibrationStatistics merged = CalibrationStatistics.load(dir.resolve("b.json"))
                .merge(CalibrationStatistics.load(dir.resolve("a.json")));
        CalibrationStatistics one = feed(fresh(), x, all, 200);
        assertArrayEquals(one.toJson(), merged.toJson());
        assertArrayEquals(tableBytes(one, false), tableBytes(merged, false));
    }

    @Test
    void statisticsSentAsBytesMergeToTheSameTableAndBadBytesNameTheirSource() {
        float[][][] x = rows(150);
        List<Integer> all = order(150, SEED);
        byte[] a = feed(fresh(), x, all.subList(0, 70), 8).toJson();   // as executors send them
        byte[] b = feed(fresh(), x, all.subList(70, 150), 3).toJson();
        CalibrationStatistics merged = CalibrationStatistics.fromJson(a, "part a")
                .merge(CalibrationStatistics.fromJson(b, "part b"));
        CalibrationStatistics one = feed(fresh(), x, all, 150);
        assertArrayEquals(one.toJson(), merged.toJson());
        KilnException e = assertThrows(KilnException.class, () -> CalibrationStatistics.fromJson(
                Arrays.copyOf(a, a.length / 2), "statistics from partition 3"));
        assertTrue(e.getMessage().contains("statistics from partition 3"), e.getMessage());
    }

    @Test
    void saveThenLoadGivesTheSameBytesAndData(@TempDir Path dir) throws Exception {
        CalibrationStatistics s = feed(fresh(), rows(100), order(100, 0), 10);
        s.add("zeros", new float[] {0f, -0f, 0f}, 1);
        Path f = dir.resolve("stats.json");
        s.save(f);
        assertArrayEquals(s.toJson(), Files.readAllBytes(f));
        CalibrationStatistics back = CalibrationStatistics.load(f);
        assertArrayEquals(s.toJson(), back.toJson());
        assertArrayEquals(s.get("input").signedHistogram().negCounts(), back.get("input").signedHistogram().negCounts());
        assertEquals(s.get("zeros").range(), back.get("zeros").range());
        assertEquals(0f, back.get("zeros").absHistogram().range());
        try (var files = Files.list(dir)) {
            assertEquals(1, files.count(), "no temporary file is left");
        }
    }

    @Test
    void nanAndInfAreCountedAndNotBinned() {
        CalibrationStatistics s = CalibrationStatistics.create(4, true);
        s.add("t", new float[] {Float.NaN, 1f, Float.POSITIVE_INFINITY, -2f, Float.NEGATIVE_INFINITY, Float.NaN}, 2);
        TensorStatistics t = s.get("t");
        assertEquals(2, t.nanCount());
        assertEquals(2, t.infCount());
        assertEquals(6, t.elements());
        assertEquals(2, t.samples());
        assertEquals(2, t.absHistogram().total());
        assertEquals(-2f, t.range().min());
        assertEquals(1f, t.range().max());
        CalibrationTable table = CalibrationTable.compute(s, n -> ThresholdMethod.minmax(), true, META);
        CalibrationTable.Entry e = table.entry("t");
        assertEquals(2f, e.amax());
        assertEquals(2f / 127f, e.scale());
        assertEquals(2, e.nanCount());
        assertEquals(2, e.infCount());
    }

    @Test
    void aTensorWithNoFiniteValueIsAnErrorNamingIt() {
        CalibrationStatistics s = CalibrationStatistics.create();
        s.add("ok", new float[] {1f}, 1);
        s.add("bad/all_nan:0", new float[] {Float.NaN, Float.POSITIVE_INFINITY}, 1);
        KilnArgumentException e = assertThrows(KilnArgumentException.class,
                () -> CalibrationTable.compute(s, n -> ThresholdMethod.entropy(), true, META));
        assertTrue(e.getMessage().contains("'bad/all_nan:0'") && e.getMessage().contains("no finite value"),
                e.getMessage());
    }

    @Test
    void asymmetricNeedsSignedHistograms() {
        CalibrationStatistics s = CalibrationStatistics.create();
        s.add("x", new float[] {1f, -1f}, 1);
        KilnArgumentException e = assertThrows(KilnArgumentException.class,
                () -> CalibrationTable.compute(s, n -> ThresholdMethod.minmax(), false, META));
        assertTrue(e.getMessage().contains("'x'") && e.getMessage().contains("signed"), e.getMessage());
    }

    @Test
    void mergeRejectsOtherBinsOrSidedness() {
        CalibrationStatistics a = CalibrationStatistics.create(2048, false).add("x", new float[] {1f}, 1);
        CalibrationStatistics b = CalibrationStatistics.create(1024, false).add("x", new float[] {1f}, 1);
        assertTrue(assertThrows(KilnArgumentException.class, () -> a.merge(b)).getMessage().contains("1024 bins"));
        CalibrationStatistics c = CalibrationStatistics.create(2048, true).add("x", new float[] {1f}, 1);
        assertTrue(assertThrows(KilnArgumentException.class, () -> a.merge(c)).getMessage().contains("'x'"));
    }

    @Test
    void badArgumentsNameWhatIsWrong() {
        CalibrationStatistics s = CalibrationStatistics.create();
        assertThrows(KilnArgumentException.class, () -> s.add(null, new float[1], 1));
        assertTrue(assertThrows(KilnArgumentException.class, () -> s.add("t", new float[1], -1)).getMessage()
                .contains("'t'"));
        assertTrue(assertThrows(KilnArgumentException.class, () -> s.get("nope")).getMessage().contains("'nope'"));
    }

    private static String loadError(Path dir, String json) throws Exception {
        Path f = dir.resolve("bad-stats.json");
        Files.writeString(f, json, StandardCharsets.UTF_8);
        KilnException e = assertThrows(KilnException.class, () -> CalibrationStatistics.load(f));
        assertEquals(ErrorCode.IO, e.code());
        assertTrue(e.getMessage().contains(f.toString()), e.getMessage());
        return e.getMessage();
    }

    @Test
    void corruptOrTruncatedFilesAreErrorsNamingTheFile(@TempDir Path dir) throws Exception {
        CalibrationStatistics s = CalibrationStatistics.create(8, true).add("t", new float[] {0.5f, -1.5f, 3f}, 1);
        String good = new String(s.toJson(), StandardCharsets.UTF_8);
        assertTrue(loadError(dir, good.substring(0, good.length() / 2)).contains("truncated"));
        assertTrue(loadError(dir, "").contains("empty"));
        assertTrue(loadError(dir, "{\"format\": 3").contains("JSON"));
        assertTrue(loadError(dir, good + "}").contains("malformed"));
        assertTrue(loadError(dir, good.replace("kiln-calibration-statistics", "other")).contains("format"));
        assertTrue(loadError(dir, good.replace("\"version\" : 1", "\"version\" : 9")).contains("version 9"));
        assertTrue(loadError(dir, good.replace("\"samples\" : 1,", "")).contains("'samples'"));
        // a bin count changed: the counts no longer add up
        String changed = good.replaceFirst("\"counts\" : \\[ ([0-9]+), ([0-9]+)", "\"counts\" : [ $1, 7");
        assertFalse(changed.equals(good));
        assertTrue(loadError(dir, changed).contains("add up"));
        assertTrue(loadError(dir, good.replace("\"absMax\" : \"40400000\"", "\"absMax\" : \"zz\""))
                .contains("'absMax'"));
    }
}
