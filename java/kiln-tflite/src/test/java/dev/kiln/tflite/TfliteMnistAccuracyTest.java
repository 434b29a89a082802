package dev.kiln.tflite;

import dev.kiln.calib.CalibrationTable;
import dev.kiln.calib.ThresholdMethod;
import dev.kiln.graph.Graph;
import dev.kiln.passes.Passes;
import dev.kiln.tensorflow.TfImporter;
import dev.kiln.tensorflow.TfRunner;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Issue 10's accuracy bar on the trained MNIST models of ../shared/models: calibrated on images 0-999 of the real MNIST
 * test set, evaluated on images 5000-9999 in the TFLite interpreter. Full INT8 with int8 inputs and outputs within 1
 * point of FP32 TensorFlow top-1 (and with float I/O), dynamic range within 0.5, FP16 within 0.1, FP32 equal within
 * 0.02 (one image in 5000); FP32, FP16 and INT8 on XNNPACK. Prints the README's table and writes it to target/tflite-mnist.md.
 */
class TfliteMnistAccuracyTest {
    private static final List<String> ROWS = new ArrayList<>();
    private static final java.util.Map<String, Boolean> XNNPACK = new java.util.concurrent.ConcurrentSkipListMap<>();

    @TempDir
    static Path dir;

    @TestFactory
    Stream<DynamicTest> trainedMnistModels() {
        assumeTrue(Files.isDirectory(SharedModels.models()) && Files.isDirectory(Mnist.dir()),
                "skipped: ../shared (models and MNIST data) is absent");
        return SharedModels.MNIST.stream().map(name -> DynamicTest.dynamicTest(name, () -> check(name)));
    }

    private void check(String name) {
        Path model = SharedModels.models().resolve(name);
        Graph g = TfImporter.load(model);
        Graph optimized = g.copy();
        Passes.optimizeForInference().run(optimized);
        long[] labels = Mnist.labels(5000, 5000);
        double tf;
        try (TfRunner r = TfRunner.open(model, dev.kiln.tensorflow.ImportOptions.defaults())) {
            tf = Mnist.top1(r, Mnist.images(g, 5000, 5000), labels);
        }
        CalibrationTable table = Mnist.calibrate(optimized, Mnist.images(optimized, 0, 1000), ThresholdMethod.minmax());
        TfliteInt8Placement.validate(table, optimized);
        Path out = Files.isDirectory(dir) ? dir.resolve(name) : dir;
        try {
            Files.createDirectories(out);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        double fp32 = top1(TfliteExporter.fp32(), optimized, out.resolve("fp32.tflite"), labels);
        double fp16 = top1(TfliteExporter.builder().precision(TflitePrecision.FP16).build(), optimized,
                out.resolve("fp16.tflite"), labels);
        double dyn = top1(TfliteExporter.builder().precision(TflitePrecision.DYNAMIC_RANGE).build(), optimized,
                out.resolve("dynamic.tflite"), labels);
        double int8 = top1(TfliteExporter.builder().precision(TflitePrecision.INT8).table(table).build(), optimized,
                out.resolve("int8.tflite"), labels);
        TfliteExporter io = TfliteExporter.builder().precision(TflitePrecision.INT8).table(table).int8IO(true).build();
        Path int8IoFile = out.resolve("int8-io.tflite");
        double int8Io = top1(io, optimized, int8IoFile, labels);
        try (TfliteRunner r = TfliteRunner.open(int8IoFile, 1)) {
            for (String in : r.inputNames()) {
                assertEquals(dev.kiln.graph.DType.INT8, r.inputType(in), "int8 I/O input " + in);
            }
        }
        String row = String.format(Locale.ROOT, "| %s | %.2f%% | %.2f%% | %.2f%% | %.2f%% | %.2f%% | %.2f%% |", name,
                100 * tf, 100 * fp32, 100 * fp16, 100 * dyn, 100 * int8, 100 * int8Io);
        System.out.println(row);
        synchronized (ROWS) {
            ROWS.add(row);
        }
        assertTrue(Math.abs(tf - fp32) <= 0.0002 + 1e-9, name + " FP32 TFLite " + fp32 + " vs TF " + tf);
        assertTrue(tf - fp16 <= 0.001 + 1e-9, name + " FP16 " + fp16 + " vs TF " + tf);
        assertTrue(tf - dyn <= 0.005 + 1e-9, name + " dynamic range " + dyn + " vs TF " + tf);
        assertTrue(tf - int8 <= 0.01 + 1e-9, name + " INT8 (float I/O) " + int8 + " vs TF " + tf);
        assertTrue(tf - int8Io <= 0.01 + 1e-9, name + " INT8 (int8 I/O) " + int8Io + " vs TF " + tf);
    }

    /** Top-1 on the interpreter, which must have run the model with XNNPACK (not fallen back to its own kernels). */
    private static double top1(TfliteExporter exporter, Graph g, Path file, long[] labels) {
        exporter.export(g, file);
        try (TfliteRunner r = TfliteRunner.open(file, 1)) {
            double top1 = Mnist.top1(r, Mnist.images(g, 5000, 5000), labels);
            XNNPACK.put(file.getParent().getFileName() + "/" + file.getFileName(), r.usesXnnpack());
            if (exporter.precision() != TflitePrecision.DYNAMIC_RANGE) { // hybrid kernels may stay TFLite's
                assertTrue(r.usesXnnpack(), file + " ran without XNNPACK");
            }
            return top1;
        }
    }

    @AfterAll
    static void table() throws Exception {
        if (ROWS.isEmpty()) {
            return;
        }
        List<String> lines = new ArrayList<>();
        lines.add("| model | FP32 (TensorFlow) | TFLite FP32 | TFLite FP16 | TFLite dynamic range | TFLite INT8 "
                + "(float I/O) | TFLite INT8 (int8 I/O) |");
        lines.add("|---|---|---|---|---|---|---|");
        lines.addAll(ROWS);
        lines.add("");
        lines.add("on XNNPACK: " + XNNPACK);
        lines.forEach(System.out::println);
        Path out = Path.of("target", "tflite-mnist.md");
        Files.createDirectories(out.getParent());
        Files.write(out, lines);
    }
}
