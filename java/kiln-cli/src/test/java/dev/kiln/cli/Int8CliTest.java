package dev.kiln.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.calib.TensorRtCalibrationCache;
import dev.kiln.data.NpyWriter;
import dev.kiln.graph.DType;
import dev.kiln.tensorflow.ExampleModels;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static dev.kiln.cli.CliTest.kiln;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** kiln calibrate, export --precision int8 and optimize --precision int8 from the command line, and their errors. */
class Int8CliTest {
    @TempDir
    static Path tmp;
    static Path model;
    static Path other;
    static Path images;
    static Path labels;

    @BeforeAll
    static void setUp() {
        model = ExampleModels.exampleCnn(tmp.resolve("example_cnn"));
        other = ExampleModels.convBnReluPoolDense(tmp.resolve("other"));
        Random r = new Random(5);
        float[] x = new float[300 * 32 * 32 * 3];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        images = tmp.resolve("images.npy");
        NpyWriter.write(images, x, 300, 32, 32, 3);
        byte[] l = new byte[300];
        for (int i = 0; i < l.length; i++) {
            l[i] = (byte) r.nextInt(10);
        }
        labels = tmp.resolve("labels.npy");
        NpyWriter.write(labels, DType.UINT8, l, 300);
    }

    @Test
    void calibrateWritesTheTableTheCachesAndTheStatistics() throws Exception {
        Path t = tmp.resolve("cal/table.json");
        Files.createDirectories(t.getParent());
        CliTest.Run r = kiln("calibrate", model.toString(), "--data", images.toString(), "--calib-range", "0:100",
                "-o", t.toString(), "--trt-cache-version", "8.6.1");
        assertEquals(0, r.status(), r.err());
        assertTrue(Files.isRegularFile(t));
        for (String f : new String[] {"table_tensorrt.json", "table_onnxruntime.json", "calibration_tensorrt.cache",
                "calibration.json", "calibration.cache", "statistics.json"}) {
            assertTrue(Files.isRegularFile(t.resolveSibling(f)), f);
        }
        TensorRtCalibrationCache cache = TensorRtCalibrationCache.read(t.resolveSibling("calibration_tensorrt.cache"));
        assertEquals("TRT-8601-EntropyCalibration2", cache.header());
        JsonNode table = new ObjectMapper().readTree(t.toFile());
        assertEquals(100, table.at("/tensors/input/samples").asInt(), table.toString());

        // the table drives an INT8 export, and a TensorRT cache does too
        Path onnx = tmp.resolve("cal/model.onnx");
        CliTest.Run e = kiln("export", model.toString(), "-o", onnx.toString(), "--precision", "int8", "--table",
                t.toString());
        assertEquals(0, e.status(), e.err());
        assertTrue(Files.isRegularFile(onnx));
        CliTest.Run io = kiln("export", model.toString(), "-o", tmp.resolve("cal/int8io.onnx").toString(),
                "--precision", "int8", "--int8-target", "onnxruntime", "--int8-io", "--table",
                t.resolveSibling("table_onnxruntime.json").toString());
        assertEquals(0, io.status(), "calibrate's tables include the outputs, for --int8-io: " + io.err());
        CliTest.Run c = kiln("export", model.toString(), "-o", tmp.resolve("cal/from-cache.onnx").toString(),
                "--precision", "int8", "--table", t.resolveSibling("calibration_tensorrt.cache").toString());
        assertEquals(0, c.status(), c.err());
    }

    @Test
    void badTablesAndMissingRangesAreClearErrors() throws Exception {
        Path t = tmp.resolve("bad/table.json");
        Files.createDirectories(t.getParent());
        assertEquals(0, kiln("calibrate", other.toString(), "--calib-random", "-o", t.toString()).status());
        CliTest.Run wrongModel = kiln("export", model.toString(), "-o", tmp.resolve("bad/x.onnx").toString(),
                "--precision", "int8", "--table", t.toString());
        assertEquals(2, wrongModel.status(), wrongModel.err());
        assertTrue(wrongModel.err().contains("kiln: error: the calibration table does not fit the model"), wrongModel.err());
        assertFalse(wrongModel.err().contains("\tat "), "no stack trace: " + wrongModel.err());
        assertFalse(Files.exists(tmp.resolve("bad/x.onnx")), "nothing written");

        // a TensorRT cache carries no model hash: a cache of another model is caught by its tensor names
        CliTest.Run wrongCache = kiln("export", model.toString(), "-o", tmp.resolve("bad/c.onnx").toString(),
                "--precision", "int8", "--table", t.resolveSibling("calibration_tensorrt.cache").toString());
        assertEquals(2, wrongCache.status(), wrongCache.err());
        assertTrue(wrongCache.err().contains("tensors needed but missing"), wrongCache.err());
        Path badCache = tmp.resolve("bad/garbage.cache");
        Files.writeString(badCache, "TRT-100900-EntropyCalibration2\ninput: not-hex\n");
        CliTest.Run garbage = kiln("export", model.toString(), "-o", tmp.resolve("bad/g.onnx").toString(),
                "--precision", "int8", "--table", badCache.toString());
        assertTrue(garbage.status() != 0 && garbage.err().contains("garbage.cache") && garbage.err().contains("2"),
                garbage.err());

        Path truncated = tmp.resolve("bad/truncated.json");
        byte[] all = Files.readAllBytes(t);
        Files.write(truncated, java.util.Arrays.copyOf(all, all.length / 2));
        CliTest.Run tr = kiln("export", other.toString(), "-o", tmp.resolve("bad/y.onnx").toString(), "--precision",
                "int8", "--table", truncated.toString());
        assertTrue(tr.status() != 0 && tr.err().contains("truncated.json"), tr.err());

        CliTest.Run none = kiln("export", model.toString(), "-o", tmp.resolve("bad/z.onnx").toString(),
                "--precision", "int8");
        assertEquals(2, none.status());
        assertTrue(none.err().contains("--calib-random") && none.err().contains("--table"), none.err());

        CliTest.Run both = kiln("calibrate", model.toString(), "--calib-random", "--data", images.toString(), "-o",
                tmp.resolve("bad/t2.json").toString());
        assertEquals(2, both.status());
        assertTrue(both.err().contains("contradict"), both.err());
    }

    @Test
    void optimizeInt8WithDataRangesAndLabels() throws Exception {
        Path out = tmp.resolve("opt");
        CliTest.Run r = kiln("optimize", model.toString(), "-o", out.toString(), "--precision", "fp32,int8",
                "--data", images.toString(), "--calib-range", "0:100", "--eval-range", "100:200", "--labels",
                labels.toString(), "--json");
        assertEquals(0, r.status(), r.err());
        JsonNode rep = new ObjectMapper().readTree(r.out());
        assertEquals(100, rep.at("/calibration/samples").asInt());
        assertEquals(200, rep.at("/evaluation/samples").asInt());
        assertTrue(rep.at("/evaluation/labelled").asBoolean());
        assertTrue(Files.isRegularFile(out.resolve("model_int8_onnxruntime.onnx")));

        CliTest.Run overlap = kiln("optimize", model.toString(), "-o", tmp.resolve("opt2").toString(), "--precision",
                "int8", "--data", images.toString(), "--calib-range", "0:100", "--eval-range", "50:100");
        assertEquals(2, overlap.status());
        assertTrue(overlap.err().contains("overlaps"), overlap.err());
    }

    @Test
    void outputDirectoriesOfOtherPeopleAreRefusedUnlessForced() throws Exception {
        Path mine = tmp.resolve("precious");
        Files.createDirectories(mine);
        Files.writeString(mine.resolve("notes.txt"), "keep me");
        CliTest.Run r = kiln("optimize", model.toString(), "-o", mine.toString());
        assertEquals(2, r.status());
        assertTrue(r.err().contains("--force"), r.err());
        assertEquals("keep me", Files.readString(mine.resolve("notes.txt")));
        CliTest.Run f = kiln("optimize", model.toString(), "-o", mine.toString(), "--force");
        assertEquals(0, f.status(), f.err());
        CliTest.Run again = kiln("optimize", model.toString(), "-o", mine.toString());
        assertEquals(0, again.status(), "an earlier Kiln run's directory is rewritten: " + again.err());

        CliTest.Run unknown = kiln("optimize", "--no-such-flag");
        assertEquals(2, unknown.status());
        assertEquals(1, unknown.err().strip().lines().count(), "one line: " + unknown.err());
        assertTrue(unknown.err().contains("--no-such-flag") && unknown.err().contains("--help"), unknown.err());
    }
}
