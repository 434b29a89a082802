package dev.kiln.bench;

import dev.kiln.calib.CalibrationTable;
import dev.kiln.calib.Calibrator;
import dev.kiln.calib.ThresholdMethod;
import dev.kiln.data.RepresentativeData;
import dev.kiln.eval.RandomInputs;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Tensor;
import dev.kiln.onnx.Int8Target;
import dev.kiln.onnx.MinMaxCalibration;
import dev.kiln.onnx.OnnxExporter;
import dev.kiln.onnx.OnnxRunner;
import dev.kiln.onnx.Precision;
import dev.kiln.passes.Passes;
import dev.kiln.tensorflow.ExampleModels;
import dev.kiln.tensorflow.TfImporter;
import dev.kiln.tensorflow.TfRunner;
import dev.kiln.tflite.TfliteExporter;
import dev.kiln.tflite.TfliteInt8Placement;
import dev.kiln.tflite.TflitePrecision;
import dev.kiln.tflite.TfliteRunner;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Latency of Kiln's FP32, FP16, dynamic-range and INT8 .tflite files on the TFLite interpreter (its default XNNPACK
 * delegate) beside TensorFlow FP32 on the original and ONNX Runtime on Kiln's INT8 ONNX (ONNX Runtime layout), for
 * the same models, batch 1, the same input, {@code threads} threads for the interpreter and ONNX Runtime (TF Java with
 * its default pools), all variants taking turns call by call; median and p90 ms. INT8 ranges: min-max over 32 random
 * inputs (latency does not depend on them).
 *
 * <pre>java -cp ... dev.kiln.bench.TfliteLatencyBenchmark [runs=50] [threads=1] [sharedModelsDir]</pre>
 */
public final class TfliteLatencyBenchmark {
    private TfliteLatencyBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 50;
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : 1;
        Path shared = Path.of(args.length > 2 ? args[2] : "../shared/models");
        Path work = Files.createTempDirectory("kiln-tflite-bench");
        System.out.println("load average at start: " + loadAverage());
        System.out.println("TFLite interpreter (XNNPACK) and ONNX Runtime " + OnnxRunner.ortVersion() + " with "
                + threads + " thread(s), TF Java " + org.tensorflow.TensorFlow.version() + " (default pools), " + runs
                + " runs, batch 1; median / p90 ms");
        System.out.println("| model | TF FP32 | TFLite FP32 | TFLite FP16 | TFLite dynamic | TFLite INT8 "
                + "| ORT INT8 (ORT layout) | TFLite INT8 vs TF |");
        System.out.println("|---|---:|---:|---:|---:|---:|---:|---:|");
        bench("exampleCnn (32×32×3)", ExampleModels.exampleCnn(Files.createDirectories(work.resolve("cnn"))), null,
                work, runs, threads);
        for (String m : new String[] {"mlperf_tiny_kws_dscnn", "mlnet_mnist_conv_model", "kotlindl_mnist1_saved_model"}) {
            Path p = shared.resolve(m);
            if (Files.isDirectory(p)) {
                bench(m, p, null, work, runs, threads);
            }
        }
        bench("convnet224 (VGG-style, 224×224×3, IR graph)", null, OnnxLatencyBenchmark.convNet224(), work, runs,
                threads);
        System.out.println("load average at end: " + loadAverage());
    }

    private static void bench(String name, Path model, Graph built, Path work, int runs, int threads) {
        Graph original = built != null ? built : TfImporter.load(model);
        Map<String, Tensor> in = RandomInputs.forSignature(original.inputs(), 7, 1);
        Graph g = original.copy();
        Passes.optimizeForInference().run(g);
        Path dir = work.resolve(name.replaceAll("[^A-Za-z0-9]", "_"));
        try {
            Files.createDirectories(dir);
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        RepresentativeData calib = RepresentativeData.random(g.inputs(), 3, 32).withBatchSize(8);
        Calibrator.Result cr = Calibrator.builder().build().collect(g, TfliteInt8Placement.tensors(g), calib,
                TfRunner::of, (done, total) -> { });
        CalibrationTable table = CalibrationTable.compute(cr.statistics(), t -> ThresholdMethod.minmax(), true,
                CalibrationTable.Metadata.of("", calib.content(), true));
        Path f32 = dir.resolve("fp32.tflite");
        Path f16 = dir.resolve("fp16.tflite");
        Path dyn = dir.resolve("dynamic.tflite");
        Path i8 = dir.resolve("int8.tflite");
        TfliteExporter.fp32().export(g, f32);
        TfliteExporter.builder().precision(TflitePrecision.FP16).build().export(g, f16);
        TfliteExporter.builder().precision(TflitePrecision.DYNAMIC_RANGE).build().export(g, dyn);
        TfliteExporter.builder().precision(TflitePrecision.INT8).table(table).build().export(g, i8);
        Graph qo = g.copy();
        MinMaxCalibration.minMax(qo, in, x -> {
            try (TfRunner r = TfRunner.of(x)) {
                return r.run(in);
            }
        }, Int8Target.ONNXRUNTIME);
        Path u8 = dir.resolve("int8_ort.onnx");
        OnnxExporter.builder().precision(Precision.INT8).int8Target(Int8Target.ONNXRUNTIME).build().export(qo, u8);
        double[][] t;
        try (TfRunner tf = built != null ? TfRunner.of(built) : TfRunner.open(model,
                dev.kiln.tensorflow.ImportOptions.defaults());
             TfliteRunner l32 = TfliteRunner.open(f32, threads);
             TfliteRunner l16 = TfliteRunner.open(f16, threads);
             TfliteRunner ldyn = TfliteRunner.open(dyn, threads);
             TfliteRunner l8 = TfliteRunner.open(i8, threads);
             OnnxRunner ort = OnnxRunner.open(u8, threads, false)) {
            t = interleaved(runs, () -> tf.run(in), () -> l32.run(in), () -> l16.run(in), () -> ldyn.run(in),
                    () -> l8.run(in), () -> ort.run(in));
        }
        System.out.printf(java.util.Locale.ROOT, "| %s | %.2f / %.2f | %.2f / %.2f | %.2f / %.2f | %.2f / %.2f "
                        + "| %.2f / %.2f | %.2f / %.2f | %.1f× |%n", name, t[0][0], t[0][1], t[1][0], t[1][1], t[2][0],
                t[2][1], t[3][0], t[3][1], t[4][0], t[4][1], t[5][0], t[5][1], t[0][0] / t[4][0]);
    }

    /** {median, p90} in ms of each call, after max(3, runs/10) warm-up rounds; each round calls each once. */
    @SafeVarargs
    private static double[][] interleaved(int runs, Supplier<?>... calls) {
        for (int i = 0; i < Math.max(3, runs / 10); i++) {
            for (Supplier<?> c : calls) {
                c.get();
            }
        }
        double[][] t = new double[calls.length][runs];
        for (int i = 0; i < runs; i++) {
            for (int k = 0; k < calls.length; k++) {
                long t0 = System.nanoTime();
                calls[k].get();
                t[k][i] = (System.nanoTime() - t0) / 1e6;
            }
        }
        double[][] out = new double[calls.length][];
        for (int k = 0; k < calls.length; k++) {
            Arrays.sort(t[k]);
            out[k] = new double[] {t[k][runs / 2], t[k][Math.min(runs - 1, (int) Math.ceil(runs * 0.9) - 1)]};
        }
        return out;
    }

    private static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).trim() + " (" + Runtime.getRuntime().availableProcessors()
                    + " CPUs)";
        } catch (java.io.IOException e) {
            return "unknown";
        }
    }
}
