package dev.kiln.spark;

import dev.kiln.KilnException;
import dev.kiln.data.DataSources;
import dev.kiln.data.FloatConversion;
import dev.kiln.data.NpyFile;
import dev.kiln.data.NpyWriter;
import dev.kiln.pipeline.CalibrateJob;
import dev.kiln.tensorflow.TfImporter;

import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Shard files on a Hadoop file system (file:// URIs, read through Hadoop's FileSystem as hdfs:// or s3a:// would be):
 * the statistics equal one process over the same samples; a corrupt shard, a missing file and a glob that matches
 * nothing fail with one line naming them.
 */
class ShardedCalibrationTest {
    /**
     * Uneven shards of the MNIST calibration images, the first 360; whole batches of 32 but the last, as the single
     * run's batches (TensorFlow is not batch invariant to the last bit).
     */
    private static final int[] SIZES = {32, 160, 96, 72};
    private static Path model;
    private static Path calib;

    @TempDir
    static Path tmp;

    @BeforeAll
    static void shards() throws IOException {
        model = SparkTestSupport.model("kotlindl_mnist1_saved_model");
        calib = SparkTestSupport.mnist("calib_1000_f32.npy");
        Path dir = Files.createDirectories(tmp.resolve("shards"));
        try (NpyFile f = NpyFile.open(calib)) {
            long at = 0;
            for (int i = 0; i < SIZES.length; i++) {
                NpyWriter.write(dir.resolve("part-" + i + ".npy"), f.read(at, SIZES[i]));
                at += SIZES[i];
            }
        }
    }

    @Test
    void shardsOnAHadoopPathGiveTheStatisticsOfOneProcess() throws IOException {
        SparkCalibration.Result r = SparkCalibration.builder(CalibrationSpec.of(model.toString()))
                .data(DataSpec.of(tmp.resolve("shards").toUri() + "part-*.npy")).build()
                .run(SparkTestSupport.local("local[2]"));
        assertEquals(SIZES.length, r.totals().partitions());
        assertEquals(360, r.totals().samples());
        CalibrateJob.Result single = CalibrateJob.builder(model).withOutputs(true)
                .data(DataSources.parse(calib.toString(), Path.of(""), TfImporter.load(model).inputs(),
                        FloatConversion.identity()).range(0, 360).build()).build().run();
        assertArrayEquals(single.statistics().toJson(), r.calibration().statistics().toJson());
        assertTrue(r.calibration().tables().values().iterator().next().metadata().toString()
                .contains("4 shards"), "the table says what the data was");
    }

    @Test
    void aCorruptShardIsNamedInTheError() throws IOException {
        Path dir = Files.createDirectories(tmp.resolve("corrupt"));
        for (int i = 0; i < SIZES.length; i++) {
            Files.copy(tmp.resolve("shards/part-" + i + ".npy"), dir.resolve("part-" + i + ".npy"));
        }
        byte[] bad = Files.readAllBytes(dir.resolve("part-2.npy"));
        bad[8] = 'x'; // breaks the header length / dictionary
        bad[12] = '!';
        Files.write(dir.resolve("part-2.npy"), java.util.Arrays.copyOf(bad, 200));
        KilnException e = assertThrows(KilnException.class, () -> SparkCalibration.builder(
                CalibrationSpec.of(model.toString())).data(DataSpec.of(dir + "/part-*.npy")).partitions(2).build()
                .run(SparkTestSupport.local("local[2]")));
        assertTrue(e.getMessage().startsWith("shard 2 (") && e.getMessage().contains("part-2.npy"), e.getMessage());
        assertTrue(!e.getMessage().contains("\n"), "one line: " + e.getMessage());
    }

    @Test
    void aMissingShardOrAnEmptyGlobIsNamed() {
        String missing = tmp.resolve("nowhere/part-0.npy").toUri().toString();
        KilnException e = assertThrows(KilnException.class, () -> SparkCalibration.builder(
                CalibrationSpec.of(model.toString())).data(DataSpec.of(missing)).build()
                .run(SparkTestSupport.local("local[2]")));
        assertTrue(e.getMessage().contains(missing) && e.getMessage().contains("does not exist"), e.getMessage());
        KilnException none = assertThrows(KilnException.class, () -> SparkCalibration.builder(
                CalibrationSpec.of(model.toString())).data(DataSpec.of(tmp + "/shards/nothing-*.npy")).build()
                .run(SparkTestSupport.local("local[2]")));
        assertTrue(none.getMessage().contains("nothing-*.npy") && none.getMessage().contains("matches no file"),
                none.getMessage());
    }
}
