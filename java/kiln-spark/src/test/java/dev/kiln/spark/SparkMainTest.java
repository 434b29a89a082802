package dev.kiln.spark;

import dev.kiln.data.DataSources;
import dev.kiln.data.FloatConversion;
import dev.kiln.pipeline.CalibrateJob;
import dev.kiln.tensorflow.TfImporter;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code kiln spark calibrate} in-process on local[2]: kiln calibrate's files, and one-line errors. */
class SparkMainTest {
    @TempDir
    Path tmp;

    @Test
    void calibrateWritesTheTablesOfKilnCalibrate() throws Exception {
        Path model = SparkTestSupport.model("kotlindl_mnist1_saved_model");
        Path images = SparkTestSupport.mnist("images_u8.npy");
        SparkTestSupport.local("local[2]");
        Path table = tmp.resolve("spark/table.json");
        Files.createDirectories(table.getParent());
        String[] out = run("calibrate", model.toString(), "--data", images.toString(), "--data-scale", "0.00392156862745098",
                "--calib-range", "100:250", "--calib-method", "percentile:99.9", "--master", "local[2]",
                "--partitions", "3", "-o", table.toString());
        assertEquals("0", out[0], out[2]);
        assertTrue(out[1].contains("table      " + table), out[1]);
        assertTrue(out[2].contains("calibrate  task 3/3 done"), "progress lines: " + out[2]);
        // kiln calibrate MODEL --data images_u8.npy --data-scale 1/255 --calib-range 100:250
        //     --calib-method percentile:99.9 -o table.json
        CalibrateJob.Result single = CalibrateJob.builder(model).withOutputs(true)
                .method(dev.kiln.calib.ThresholdMethod.parse("percentile:99.9"))
                .data(DataSources.parse(images.toString(), Path.of(""), TfImporter.load(model).inputs(),
                        FloatConversion.of(0.00392156862745098, 0)).range(100, 250).build()).build().run();
        Path dir = tmp.resolve("single");
        single.write(dir);
        for (String f : new String[] {"table_tensorrt.json", "table_onnxruntime.json", "calibration_tensorrt.cache",
            "calibration.json", "statistics.json"}) {
            assertArrayEquals(Files.readAllBytes(dir.resolve(f)), Files.readAllBytes(table.resolveSibling(f)), f);
        }
        assertArrayEquals(Files.readAllBytes(dir.resolve("table_tensorrt.json")), Files.readAllBytes(table));
    }

    @Test
    void badInputIsOneLineAndAnExitStatus() throws Exception {
        Path model = SparkTestSupport.model("kotlindl_mnist1_saved_model");
        String[] out = run("calibrate", model.toString(), "--data", tmp.resolve("missing.npy").toString(),
                "--master", "local[2]", "-o", tmp.resolve("t.json").toString());
        assertTrue(!out[0].equals("0"));
        assertTrue(out[2].strip().startsWith("kiln: error: ") && out[2].contains("missing.npy")
                && out[2].strip().lines().count() == 1, out[2]);
        String[] rnn = run("calibrate", model.toString(), "--data", tmp.resolve("missing.npy").toString(),
                "--rnn", "sometimes", "--master", "local[2]", "-o", tmp.resolve("t.json").toString());
        assertTrue(!rnn[0].equals("0"));
        assertTrue(rnn[2].contains("sometimes") && rnn[2].contains("unroll"), rnn[2]);
        Path list = tmp.resolve("none.csv");
        String[] conv = run("convert", list.toString(), "--master", "local[2]", "-o", tmp.resolve("o").toString());
        assertTrue(conv[2].contains("none.csv does not exist"), conv[2]);
    }

    @Test
    void convertWritesResultsAndExitsOneWhenARowFailed() throws Exception {
        Path model = SparkTestSupport.model("tfserving_half_plus_two_cpu");
        Path list = tmp.resolve("models.csv");
        Files.write(list, java.util.List.of("model,options", model + ",--format onnx", tmp.resolve("gone") + ","));
        Path out = tmp.resolve("out");
        String[] r = run("convert", list.toString(), "--master", "local[2]", "-o", out.toString());
        assertEquals("1", r[0], r[2]);
        assertTrue(r[1].contains("converted " + model) && r[1].contains("failed    " + tmp.resolve("gone")), r[1]);
        assertTrue(r[2].contains("convert    task 2/2 done"), r[2]);
        java.util.List<String> csv = Files.readAllLines(out.resolve("results.csv"));
        assertEquals(3, csv.size());
        assertTrue(csv.get(1).contains(",converted,") && csv.get(2).contains(",failed,"), csv.toString());
        assertTrue(Files.readString(out.resolve("results.json")).contains("does not exist"));
    }

    /** Exit status, stdout and stderr of one command. */
    private static String[] run(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int status;
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            status = SparkMain.execute(args);
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
        return new String[] {String.valueOf(status), out.toString(StandardCharsets.UTF_8),
            err.toString(StandardCharsets.UTF_8)};
    }
}
