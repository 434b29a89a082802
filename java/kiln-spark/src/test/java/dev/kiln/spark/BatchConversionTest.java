package dev.kiln.spark;

import dev.kiln.KilnException;
import dev.kiln.pipeline.OptimizeJob;
import dev.kiln.pipeline.OptimizeReport;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Batch conversion of every shared model in local[2]: each row's artifacts are the bytes of a serial optimize of the
 * same model, a model that fails (serially too) gets its reason while the others finish, and a re-run reuses the
 * content-addressed outputs.
 */
class BatchConversionTest {
    private static final String OPTIONS = "--format onnx";

    @TempDir
    Path tmp;

    @Test
    void everySharedModelConvertsAsTheSerialOptimizeAndFailuresStayInTheirRows() throws IOException {
        Path models = SparkTestSupport.shared().resolve("models");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isDirectory(models), "../shared/models is absent");
        List<Path> dirs;
        try (Stream<Path> s = Files.list(models)) {
            dirs = s.filter(Files::isDirectory).sorted().toList();
        }
        Path broken = tmp.resolve("broken_model");
        Files.createDirectories(broken);
        Files.write(broken.resolve("saved_model.pb"), new byte[] {1, 2, 3, 4, 5, 6, 7, 8, 9});
        List<String> csv = new ArrayList<>(List.of("model,options"));
        dirs.forEach(d -> csv.add(d + "," + OPTIONS));
        csv.add(broken + "," + OPTIONS);
        Path list = tmp.resolve("models.csv");
        Files.write(list, csv);

        // the oracle: kiln optimize --format onnx, one model after the other in this JVM
        Map<String, Object> serial = new LinkedHashMap<>();
        for (Path d : dirs) {
            serial.put(d.toString(), serial(d, tmp.resolve("serial").resolve(d.getFileName().toString())));
        }
        serial.put(broken.toString(), serial(broken, tmp.resolve("serial/broken")));

        SparkSession spark = SparkTestSupport.local("local[2]");
        Path out = tmp.resolve("out");
        Dataset<Row> results = BatchConversion.run(spark, BatchConversion.read(spark, list.toString()),
                out.toString(), s -> { });
        List<Path> written = BatchConversion.write(results, out);
        List<ConversionRow> rows = results.collectAsList().stream().map(ConversionRow::of).toList();
        assertEquals(dirs.size() + 1, rows.size());
        int converted = 0;
        for (ConversionRow r : rows) {
            Object expected = serial.get(r.model());
            if (expected instanceof String reason) {
                assertEquals("failed", r.status(), r.model());
                assertEquals(reason, r.reason(), r.model() + ": the serial run's reason");
            } else {
                assertEquals("converted", r.status(), r.model() + ": " + r.reason());
                assertNull(r.reason());
                assertEquals(expected, digests(Path.of(r.output()), "report.json", ConversionTask.ROW_FILE),
                        r.model() + ": artifacts differ from the serial optimize");
                assertTrue(r.artifactBytes() > 0 && r.modelBytes() > 0 && r.artifacts().contains("model.onnx"));
                assertTrue(Files.readString(Path.of(r.output(), "report.json")).contains("\"outputDir\" : \".\""),
                        "report.json names its files relative to the output");
                converted++;
            }
        }
        assertTrue(converted >= 10, "most shared models convert: " + converted);
        assertEquals("failed", rows.get(rows.size() - 1).status(), "the broken model");
        assertTrue(Files.readString(written.get(0)).lines().count() == rows.size() + 1);
        assertTrue(Files.readString(written.get(1)).contains("\"status\" : \"failed\""));

        // a retry of the list: the same keys, nothing converted again
        List<ConversionRow> again = BatchConversion.run(spark, BatchConversion.read(spark, list.toString()),
                out.toString(), s -> { }).collectAsList().stream().map(ConversionRow::of).toList();
        for (int i = 0; i < rows.size(); i++) {
            assertEquals(rows.get(i).key(), again.get(i).key());
            assertEquals(rows.get(i).status().equals("failed") ? "failed" : "reused", again.get(i).status());
        }
    }

    @Test
    void aMissingModelAndBadOptionsFailOnlyTheirRows() throws IOException {
        Path model = SparkTestSupport.model("tfserving_half_plus_two_cpu");
        Path mnist = SparkTestSupport.model("kotlindl_mnist1_saved_model");
        Path images = SparkTestSupport.mnist("images_u8.npy");
        Path labels = SparkTestSupport.mnist("labels_u8.npy");
        Path list = tmp.resolve("list.csv");
        Files.write(list, List.of("model,options", tmp.resolve("no_such_model") + ",", model
                + ",\"--format onnx --precision fp32,fp17\"", model + ",\"--precision fp32,fp16 --format onnx\"",
                mnist + ",--format onnx --eval-data " + images + " --data-scale 0.00392156862745098 --eval-range "
                        + "5000:500 --labels " + labels));
        SparkSession spark = SparkTestSupport.local("local[2]");
        List<ConversionRow> rows = BatchConversion.run(spark, BatchConversion.read(spark, list.toString()),
                tmp.resolve("out").toString(), s -> { }).collectAsList().stream().map(ConversionRow::of).toList();
        assertEquals("failed", rows.get(0).status());
        assertTrue(rows.get(0).reason().contains("no_such_model") && rows.get(0).reason().contains("does not exist"),
                rows.get(0).reason());
        assertEquals("failed", rows.get(1).status());
        assertTrue(rows.get(1).reason().contains("fp17"), rows.get(1).reason());
        assertEquals("converted", rows.get(2).status(), rows.get(2).reason());
        assertTrue(rows.get(2).artifacts().contains("model_fp16.onnx"), rows.get(2).artifacts());
        assertNotNull(rows.get(2).key());
        assertNull(rows.get(2).accuracy(), "no labels, no accuracy");
        // the real MNIST test images 5000-5499: the trained model's top-1 through ONNX Runtime (97% in TensorFlow)
        assertEquals("converted", rows.get(3).status(), rows.get(3).reason());
        assertTrue(rows.get(3).accuracy() > 0.9 && rows.get(3).accuracy() <= 1, "top-1 " + rows.get(3).accuracy());
    }

    @Test
    void outputsOnAHadoopUriAreUploadedWholeAndReused() throws IOException {
        Path model = SparkTestSupport.model("tfserving_half_plus_two_cpu");
        Path list = tmp.resolve("list.csv");
        Files.write(list, List.of("model,options", model + "," + OPTIONS));
        String root = tmp.resolve("remote").toUri().toString(); // file://, through Hadoop's FileSystem like hdfs://
        SparkSession spark = SparkTestSupport.local("local[2]");
        Dataset<Row> results = BatchConversion.run(spark, BatchConversion.read(spark, list.toString()), root, s -> { });
        ConversionRow r = ConversionRow.of(results.collectAsList().get(0));
        assertEquals("converted", r.status(), r.reason());
        assertTrue(r.output().startsWith("file:") && r.output().endsWith("/artifacts/" + r.key()), r.output());
        Path out = Path.of(java.net.URI.create(r.output()));
        assertEquals(serial(model, tmp.resolve("serial")), digests(out, "report.json", ConversionTask.ROW_FILE,
                ".report.json.crc", "." + ConversionTask.ROW_FILE + ".crc", ".model.onnx.crc"));
        List<String> written = BatchConversion.write(results, root);
        assertTrue(Files.readString(tmp.resolve("remote/results.csv")).contains(",converted,"), written.toString());
        ConversionRow again = ConversionRow.of(BatchConversion.run(spark, BatchConversion.read(spark,
                list.toString()), root, s -> { }).collectAsList().get(0));
        assertEquals("reused", again.status());
        assertEquals(r.key(), again.key());
    }

    /** The serial optimize's file digests, or its failure's message. */
    private static Object serial(Path model, Path out) {
        try {
            OptimizeReport r = OptimizeJob.builder(model).output(out).formats(EnumSet.of(OptimizeJob.Format.ONNX))
                    .build().run();
            assertTrue(r.artifacts().size() > 0);
            return digests(out);
        } catch (KilnException e) {
            return e.getMessage();
        }
    }

    /** Relative path -> bytes of every file under {@code dir}, but the named report files. */
    private static Map<String, String> digests(Path dir, String... except) {
        Map<String, String> m = new TreeMap<>();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.filter(Files::isRegularFile).toList()) {
                String rel = dir.relativize(p).toString();
                if (!List.of(except).contains(rel)) {
                    m.put(rel, HadoopPaths.digest(java.util.HexFormat.of().formatHex(Files.readAllBytes(p))));
                }
            }
        } catch (IOException e) {
            throw new AssertionError(e);
        }
        return m;
    }
}
