package dev.kiln.spark;

import dev.kiln.data.DataSources;
import dev.kiln.data.FloatConversion;
import dev.kiln.pipeline.CalibrateJob;
import dev.kiln.tensorflow.TfImporter;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Distributed calibration gives the bytes of a single-process {@code kiln calibrate} (CalibrateJob) on the real MNIST
 * calibration images, whatever the partitioning: uneven pieces (1 to 8 batches of 32) dealt in shuffled order to
 * local[2] and local[4]; a split that would cut a batch is refused, saying why.
 */
class SparkCalibrationTest {
    private static final long SAMPLES = 600;
    private static Path model;
    private static Path data;
    private static Path single;

    @TempDir
    static Path tmp;

    @BeforeAll
    static void singleProcessRun() {
        model = SparkTestSupport.model("kotlindl_mnist1_saved_model");
        data = SparkTestSupport.mnist("calib_1000_f32.npy");
        // what kiln calibrate MODEL --data calib_1000_f32.npy --calib-range 0:600 -o table.json runs
        CalibrateJob.Result r = CalibrateJob.builder(model).withOutputs(true)
                .data(DataSources.parse(data.toString(), Path.of(""), TfImporter.load(model).inputs(),
                        FloatConversion.identity()).range(0, SAMPLES).build())
                .build().run();
        single = tmp.resolve("single");
        r.write(single);
    }

    /** The spec carries --rnn to the import each executor makes (auto when not given). */
    @Test
    void theRecurrentLayerModeReachesTheImport() {
        CalibrationSpec spec = CalibrationSpec.of("model");
        assertEquals(dev.kiln.tensorflow.RecurrentLayers.AUTO, spec.importOptions().recurrentLayers());
        CalibrationSpec keep = new CalibrationSpec("model", List.of("serve"), null, List.of(), List.of(), List.of(),
                dev.kiln.tensorflow.RecurrentLayers.KEEP, spec.targets(), true, 2048);
        assertEquals(dev.kiln.tensorflow.RecurrentLayers.KEEP, keep.importOptions().recurrentLayers());
        assertEquals(keep, keep.withTargets(spec.targets()));
        assertTrue(!keep.equals(spec.withTargets(spec.targets())), "the mode is part of the model cache's key");
    }

    @Test
    void unevenShuffledPartitionsInLocal2GiveTheSingleProcessBytes() throws IOException {
        int loadsBefore = ExecutorModels.loads();
        SparkCalibration.Result r = run("local[2]", 3, 1, 32, 256, 96, 216);
        assertSameFiles(r, "local2");
        assertEquals(3, r.totals().partitions());
        assertEquals(SAMPLES, r.totals().samples());
        // a second job on the same executors reuses their loaded model
        SparkCalibration.Result again = run("local[2]", 2, 5, 288, 312);
        assertSameFiles(again, "local2-again");
        assertTrue(ExecutorModels.loads() - loadsBefore <= 1, "one model load per executor JVM, reused");
        assertEquals(0, again.totals().loadNanos(), "the second job's partitions found the model loaded");
    }

    @Test
    void unevenShuffledPartitionsInLocal4GiveTheSingleProcessBytes() throws IOException {
        SparkCalibration.Result r = run("local[4]", 4, 11, 32, 64, 32, 224, 32, 64, 96, 56);
        assertSameFiles(r, "local4");
        assertEquals(4, r.totals().partitions());
    }

    @Test
    void dataFrameRowsGiveTheStatisticsOfOneProcessOverTheSameSamples() {
        int n = 256;
        String input = TfImporter.load(model).inputs().get(0).name();
        List<org.apache.spark.sql.Row> rows = new java.util.ArrayList<>();
        try (dev.kiln.data.NpyFile f = dev.kiln.data.NpyFile.open(data)) {
            float[] all = f.read(0, n).floats();
            int per = all.length / n;
            for (int i = 0; i < n; i++) {
                rows.add(org.apache.spark.sql.RowFactory.create((Object) java.util.Arrays.copyOfRange(all, i * per,
                        (i + 1) * per)));
            }
        }
        org.apache.spark.sql.SparkSession spark = SparkTestSupport.local("local[2]");
        org.apache.spark.sql.types.StructType schema = new org.apache.spark.sql.types.StructType().add(input,
                org.apache.spark.sql.types.DataTypes.createArrayType(org.apache.spark.sql.types.DataTypes.FloatType));
        // 4 partitions of 64 rows: whole batches of 32, as the single run's
        org.apache.spark.sql.Dataset<org.apache.spark.sql.Row> df = spark.createDataFrame(
                org.apache.spark.api.java.JavaSparkContext.fromSparkContext(spark.sparkContext())
                        .parallelize(rows, 4), schema);
        SparkCalibration.Result r = SparkCalibration.builder(CalibrationSpec.of(model.toString()))
                .rows(df, "MNIST rows").build().run(spark);
        assertEquals(4, r.totals().partitions());
        CalibrateJob.Result single = CalibrateJob.builder(model).withOutputs(true)
                .data(DataSources.parse(data.toString(), Path.of(""), TfImporter.load(model).inputs(),
                        FloatConversion.identity()).range(0, n).build()).build().run();
        assertArrayEquals(single.statistics().toJson(), r.calibration().statistics().toJson());
        assertTrue(r.calibration().tables().values().iterator().next().metadata().data()
                .equals("MNIST rows; 256 samples"));
    }

    @Test
    void aSplitThatCutsABatchIsRefused() {
        dev.kiln.KilnException e = org.junit.jupiter.api.Assertions.assertThrows(dev.kiln.KilnException.class,
                () -> run("local[2]", 2, 1, 37, 563));
        assertTrue(e.getMessage().contains("multiples of the batch size 32"), e.getMessage());
    }

    private static SparkCalibration.Result run(String master, int partitions, long seed, long... splits) {
        return SparkCalibration.builder(CalibrationSpec.of(model.toString()))
                .data(DataSpec.of(data.toString())).range(0, SAMPLES).splits(splits).shuffle(seed)
                .partitions(partitions).build().run(SparkTestSupport.local(master));
    }

    private static void assertSameFiles(SparkCalibration.Result r, String name) throws IOException {
        Path dir = tmp.resolve(name);
        List<Path> written = r.calibration().write(dir);
        List<String> expected = files(single);
        assertEquals(expected, files(dir));
        assertTrue(expected.contains("table_tensorrt.json") && expected.contains("statistics.json"), "" + expected);
        for (String f : expected) {
            assertArrayEquals(Files.readAllBytes(single.resolve(f)), Files.readAllBytes(dir.resolve(f)),
                    f + " differs from the single-process run (" + name + ")");
        }
        assertEquals(expected.size(), written.size());
    }

    private static List<String> files(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}
