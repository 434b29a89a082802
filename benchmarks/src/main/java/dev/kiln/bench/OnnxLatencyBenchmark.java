package dev.kiln.bench;

import dev.kiln.eval.RandomInputs;
import dev.kiln.graph.AttrValue;
import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.Shape;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.graph.TensorType;
import dev.kiln.onnx.Int8Target;
import dev.kiln.onnx.MinMaxCalibration;
import dev.kiln.onnx.OnnxReader;
import dev.kiln.onnx.OnnxExporter;
import dev.kiln.onnx.OnnxRunner;
import dev.kiln.onnx.Precision;
import dev.kiln.passes.Passes;
import dev.kiln.tensorflow.ExampleModels;
import dev.kiln.tensorflow.ImportOptions;
import dev.kiln.tensorflow.TfImporter;
import dev.kiln.tensorflow.TfRunner;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Supplier;

/**
 * ONNX Runtime CPU latency of Kiln's FP32, FP16 and INT8 (QDQ, min-max scales) exports of the CNN test models beside
 * TensorFlow's latency on the original, on the same random input (batch 1), one inference per call; median and p90
 * over N timed runs after warm-up. Also: export time of a model with 100 MB of weights against a plain file copy.
 *
 * <pre>java -cp ... dev.kiln.bench.OnnxLatencyBenchmark [runs=30] [threads=2] [sharedModelsDir]</pre>
 */
public final class OnnxLatencyBenchmark {
    /** -Dkiln.bench.spinning=false: ORT intra-op threads do not busy-wait (for oversubscribed machines). */
    private static final boolean SPINNING = Boolean.parseBoolean(System.getProperty("kiln.bench.spinning", "true"));

    private OnnxLatencyBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 30;
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : 2;
        Path shared = Path.of(args.length > 2 ? args[2] : "../shared/models");
        Path work = Files.createTempDirectory("kiln-bench");
        System.out.println("load average at start: " + loadAverage());
        System.out.println("ONNX Runtime " + OnnxRunner.ortVersion() + ", " + threads + " intra-op threads, " + runs
                + " runs, batch 1, ORT spinning " + SPINNING + ", TF Java " + org.tensorflow.TensorFlow.version()
                + " (its default thread pools), work dir " + work);
        System.out.println("| model | params | TF FP32 (original) median / p90 ms | ORT FP32 | ORT FP16 "
                + "| ORT INT8 QDQ, TensorRT placement | ORT INT8 QDQ, ORT placement (uint8) | INT8 (ORT placement) "
                + "speed-up vs TF |");
        System.out.println("|---|---|---|---|---|---|---|---|");
        Path cnn = ExampleModels.exampleCnn(Files.createDirectories(work.resolve("exampleCnn")));
        bench("exampleCnn (32×32×3)", cnn, ImportOptions.defaults(), null, work, runs, threads);
        Path kws = shared.resolve("mlperf_tiny_kws_dscnn");
        if (Files.isDirectory(kws)) {
            bench("mlperf_tiny_kws_dscnn (49×10×1)", kws, ImportOptions.defaults(), null, work, runs, threads);
        }
        Path mnist = shared.resolve("mlnet_mnist_conv_model");
        if (Files.isDirectory(mnist)) {
            bench("mlnet_mnist_conv_model (28×28×1)", mnist, ImportOptions.defaults(), null, work, runs, threads);
        }
        bench("convnet224 (VGG-style, 224×224×3, IR graph)", null, null, convNet224(), work, runs, threads);
        bench("mlp4096 (MatMul 1024→4096→4096→1000, batch 1, IR graph)", null, null, mlp(), work, runs, threads);
        System.out.println();
        System.out.println("What ONNX Runtime executes (op types of its optimized graph, ALL_OPT, CPU provider):");
        FUSED.forEach(System.out::println);
        exportTime(work);
        System.out.println("load average at end: " + loadAverage());
    }

    private static final java.util.List<String> FUSED = new java.util.ArrayList<>();

    static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).trim() + " (" + Runtime.getRuntime().availableProcessors()
                    + " CPUs)";
        } catch (java.io.IOException e) {
            return "unknown";
        }
    }

    private static void bench(String name, Path model, ImportOptions opts, Graph built, Path work, int runs,
                              int threads) throws Exception {
        Graph original = built != null ? built : TfImporter.load(model, opts);
        Map<String, Tensor> in = RandomInputs.forSignature(original.inputs(), 7, 1);
        Graph g = original.copy();
        Passes.optimizeForInference().run(g);
        Path dir = Files.createDirectories(work.resolve(name.replaceAll("[^A-Za-z0-9]", "_")));
        Path f32 = dir.resolve("fp32.onnx");
        Path f16 = dir.resolve("fp16.onnx");
        Path i8 = dir.resolve("int8.onnx");
        OnnxExporter.fp32().export(g, f32);
        OnnxExporter.builder().precision(Precision.FP16).build().export(g, f16);
        Graph q = g.copy();
        MinMaxCalibration.minMax(q, in, x -> {
            try (TfRunner r = TfRunner.of(x)) {
                return r.run(in);
            }
        });
        OnnxExporter.builder().precision(Precision.INT8).build().export(q, i8);
        Graph qo = g.copy();
        MinMaxCalibration.minMax(qo, in, x -> {
            try (TfRunner r = TfRunner.of(x)) {
                return r.run(in);
            }
        }, Int8Target.ONNXRUNTIME);
        Path u8 = dir.resolve("int8_ort.onnx");
        OnnxExporter.builder().precision(Precision.INT8).int8Target(Int8Target.ONNXRUNTIME).build().export(qo, u8);
        for (Path p : new Path[] {i8, u8}) {
            Path opt = dir.resolve(p.getFileName() + ".ort-optimized.onnx");
            OnnxRunner.writeOptimizedModel(p, opt);
            FUSED.add("- " + name + ", " + (p == i8 ? "TensorRT placement" : "ORT placement") + ": "
                    + OnnxReader.summarize(OnnxReader.read(opt)).ops());
        }
        // side by side: the five variants take turns call by call, so load changes on this shared machine hit all alike
        double[][] t;
        try (TfRunner tr = built != null ? TfRunner.of(built) : TfRunner.open(model, opts);
             OnnxRunner r32 = OnnxRunner.open(f32, threads, SPINNING);
             OnnxRunner r16 = OnnxRunner.open(f16, threads, SPINNING);
             OnnxRunner r8 = OnnxRunner.open(i8, threads, SPINNING);
             OnnxRunner ru8 = OnnxRunner.open(u8, threads, SPINNING)) {
            t = interleaved(runs, () -> tr.run(in), () -> r32.run(in), () -> r16.run(in), () -> r8.run(in),
                    () -> ru8.run(in));
        }
        double[] tf = t[0];
        double[] o32 = t[1];
        double[] o16 = t[2];
        double[] o8 = t[3];
        double[] ou8 = t[4];
        System.out.printf("| %s | %s | %.2f / %.2f | %.2f / %.2f | %.2f / %.2f | %.2f / %.2f | %.2f / %.2f | %.2f× |%n",
                name, params(g), tf[0], tf[1], o32[0], o32[1], o16[0], o16[1], o8[0], o8[1], ou8[0], ou8[1],
                tf[0] / ou8[0]);
    }

    /** {median, p90} in ms of each call, after max(3, runs/10) warm-up rounds; each round calls each once. */
    @SafeVarargs
    static double[][] interleaved(int runs, Supplier<?>... calls) {
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

    /** {median, p90} in ms after max(3, runs/10) warm-up calls. */
    private static double[] time(Supplier<?> call, int runs) {
        for (int i = 0; i < Math.max(3, runs / 10); i++) {
            call.get();
        }
        double[] t = new double[runs];
        for (int i = 0; i < runs; i++) {
            long t0 = System.nanoTime();
            call.get();
            t[i] = (System.nanoTime() - t0) / 1e6;
        }
        Arrays.sort(t);
        return new double[] {t[runs / 2], t[Math.min(runs - 1, (int) Math.ceil(runs * 0.9) - 1)]};
    }

    private static String params(Graph g) {
        long n = g.parameterCount();
        return n >= 1_000_000 ? String.format("%.1f M", n / 1e6) : String.format("%.1f k", n / 1e3);
    }

    // ---- a realistic-size conv-heavy model, built as IR ----

    static Graph convNet224() {
        Graph g = new Graph();
        SplittableRandom rnd = new SplittableRandom(5);
        g.add(Node.builder("image", "Placeholder").attr("dtype", DType.FLOAT).build());
        g.addInput(new SignatureTensor("image", TensorRef.of("image", 0), TensorType.of(DType.FLOAT, -1, 224, 224, 3)));
        String x = "image";
        int c = 3;
        int hw = 224;
        int[][] plan = {{32, 2}, {64, 1}, {0, 0}, {128, 1}, {128, 1}, {0, 0}, {256, 1}, {256, 1}, {0, 0}, {512, 1},
                {512, 1}};
        int i = 0;
        for (int[] p : plan) {
            i++;
            if (p[0] == 0) {
                x = add(g, Node.builder("pool" + i, "MaxPool").input(x).attr("T", DType.FLOAT)
                        .attr("ksize", AttrValue.ofInts(1, 2, 2, 1)).attr("strides", AttrValue.ofInts(1, 2, 2, 1))
                        .attr("padding", "VALID").attr("data_format", "NHWC"));
                hw /= 2;
                continue;
            }
            int out = p[0];
            int stride = p[1];
            String w = constant(g, "conv" + i + "/kernel", he(rnd, 9 * c, 3, 3, c, out));
            hw /= stride;
            x = add(g, Node.builder("conv" + i, "Conv2D").input(x).input(w).attr("T", DType.FLOAT)
                    .attr("strides", AttrValue.ofInts(1, stride, stride, 1)).attr("padding", "SAME")
                    .attr("data_format", "NHWC").attr("dilations", AttrValue.ofInts(1, 1, 1, 1)));
            String b = constant(g, "conv" + i + "/bias", small(rnd, out));
            x = add(g, Node.builder("conv" + i + "/BiasAdd", "BiasAdd").input(x).input(b).attr("T", DType.FLOAT)
                    .attr("data_format", "NHWC"));
            x = add(g, Node.builder("conv" + i + "/Relu", "Relu").input(x).attr("T", DType.FLOAT));
            c = out;
        }
        String axes = constant(g, "gap/axes", Tensor.ofInts(Shape.of(2), 1, 2));
        x = add(g, Node.builder("gap", "Mean").input(x).input(axes).attr("T", DType.FLOAT).attr("keep_dims", false)
                .attr("Tidx", DType.INT32));
        String w = constant(g, "fc/kernel", he(rnd, c, c, 1000));
        x = add(g, Node.builder("fc", "MatMul").input(x).input(w).attr("T", DType.FLOAT)
                .attr("transpose_a", false).attr("transpose_b", false));
        x = add(g, Node.builder("fc/BiasAdd", "BiasAdd").input(x).input(constant(g, "fc/bias", small(rnd, 1000)))
                .attr("T", DType.FLOAT).attr("data_format", "NHWC"));
        x = add(g, Node.builder("probs", "Softmax").input(x).attr("T", DType.FLOAT));
        g.addOutput(new SignatureTensor("probs", TensorRef.of(x, 0), TensorType.of(DType.FLOAT, -1, 1000)));
        return g;
    }

    /** A MatMul-heavy MLP of realistic size: 1024 → 4096 → 4096 → 1000, BiasAdd + Relu, Softmax (25 M params). */
    private static Graph mlp() {
        Graph g = new Graph();
        SplittableRandom rnd = new SplittableRandom(6);
        g.add(Node.builder("features", "Placeholder").attr("dtype", DType.FLOAT).build());
        g.addInput(new SignatureTensor("features", TensorRef.of("features", 0), TensorType.of(DType.FLOAT, -1, 1024)));
        String x = "features";
        int[] widths = {1024, 4096, 4096, 1000};
        for (int i = 1; i < widths.length; i++) {
            String w = constant(g, "fc" + i + "/kernel", he(rnd, widths[i - 1], widths[i - 1], widths[i]));
            x = add(g, Node.builder("fc" + i, "MatMul").input(x).input(w).attr("T", DType.FLOAT)
                    .attr("transpose_a", false).attr("transpose_b", false));
            x = add(g, Node.builder("fc" + i + "/BiasAdd", "BiasAdd").input(x)
                    .input(constant(g, "fc" + i + "/bias", small(rnd, widths[i]))).attr("T", DType.FLOAT)
                    .attr("data_format", "NHWC"));
            if (i < widths.length - 1) {
                x = add(g, Node.builder("fc" + i + "/Relu", "Relu").input(x).attr("T", DType.FLOAT));
            }
        }
        x = add(g, Node.builder("probs", "Softmax").input(x).attr("T", DType.FLOAT));
        g.addOutput(new SignatureTensor("probs", TensorRef.of(x, 0), TensorType.of(DType.FLOAT, -1, 1000)));
        return g;
    }

    private static String add(Graph g, Node.Builder b) {
        return g.add(b.build()).name();
    }

    private static String constant(Graph g, String name, Tensor t) {
        g.add(Node.builder(name, "Const").attr("dtype", t.dtype()).attr("value", t).outputType(t.type()).build());
        return name;
    }

    private static Tensor he(SplittableRandom rnd, int fanIn, long... dims) {
        int n = (int) Arrays.stream(dims).reduce(1, (a, b) -> a * b);
        float[] v = new float[n];
        double lim = Math.sqrt(6.0 / fanIn);
        for (int i = 0; i < n; i++) {
            v[i] = (float) rnd.nextDouble(-lim, lim);
        }
        return Tensor.ofFloats(Shape.of(dims), v);
    }

    private static Tensor small(SplittableRandom rnd, int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = (float) rnd.nextDouble(-0.1, 0.1);
        }
        return Tensor.ofFloats(Shape.of(n), v);
    }

    /** Export time of a graph with 100 MB of float32 weights, against Files.copy of a file of the same size. */
    private static void exportTime(Path work) throws Exception {
        Graph g = new Graph();
        g.add(Node.builder("x", "Placeholder").attr("dtype", DType.FLOAT).build());
        g.addInput(new SignatureTensor("x", TensorRef.of("x", 0), TensorType.of(DType.FLOAT, -1, 5000)));
        SplittableRandom rnd = new SplittableRandom(1);
        float[] w = new float[5000 * 5000];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) rnd.nextDouble(-1, 1);
        }
        constant(g, "w", Tensor.ofFloats(Shape.of(5000, 5000), w));
        g.add(Node.builder("y", "MatMul").input("x").input("w").attr("T", DType.FLOAT).build());
        g.addOutput(new SignatureTensor("y", TensorRef.of("y", 0), TensorType.of(DType.FLOAT, -1, 5000)));
        List<Double> exp = new ArrayList<>();
        List<Double> copy = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            Path out = work.resolve("big" + i + ".onnx");
            long t0 = System.nanoTime();
            OnnxExporter.fp32().export(g, out);
            exp.add((System.nanoTime() - t0) / 1e6);
            long t1 = System.nanoTime();
            Files.copy(out, work.resolve("copy" + i + ".bin"));
            copy.add((System.nanoTime() - t1) / 1e6);
            Files.delete(out);
            Files.delete(work.resolve("copy" + i + ".bin"));
        }
        exp.sort(null);
        copy.sort(null);
        System.out.printf("%nExport of a 100 MB-weights model (MatMul 5000×5000 float32): median %.0f ms; plain file "
                + "copy of the same bytes: %.0f ms; ratio %.1f×%n", exp.get(1), copy.get(1), exp.get(1) / copy.get(1));
    }

}
