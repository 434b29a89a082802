package dev.kiln.bench;

import dev.kiln.calib.CalibrationStatistics;
import dev.kiln.calib.CalibrationTable;
import dev.kiln.calib.Calibrator;
import dev.kiln.calib.ThresholdMethod;
import dev.kiln.data.RepresentativeData;
import dev.kiln.eval.ModelRunner;
import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Shape;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.graph.TensorType;
import dev.kiln.kernels.KernelBackends;
import dev.kiln.onnx.Int8Placement;
import dev.kiln.onnx.Int8Target;
import dev.kiln.passes.Passes;
import dev.kiln.tensorflow.ExampleModels;
import dev.kiln.tensorflow.TfImporter;
import dev.kiln.tensorflow.TfRunner;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * Calibration speed and memory, the numbers of the README's calibration table.
 *
 * <ol>
 *   <li>Throughput: Kiln's calibration (TensorFlow forward pass with every quantized activation fetched, then the
 *       kernels' streaming histograms) over a CNN at batch 64: samples/s, activation GB/s through the histograms, and
 *       Kiln's share of the time against TensorFlow's forward pass.</li>
 *   <li>Peak heap for 1,000 / 5,000 / 10,000 samples: Kiln's streaming histograms against keeping every activation in
 *       memory first and calibrating at the end (what ONNX Runtime's quantize_static and many scripts do).</li>
 * </ol>
 *
 * Run: {@code java -Xmx6g -cp "benchmarks/target/classes:$(cat benchmarks/target/classpath.txt)"
 * dev.kiln.bench.CalibrationBenchmark}
 */
public final class CalibrationBenchmark {
    private CalibrationBenchmark() {
    }

    /** Heap limit of the child JVMs of the memory comparison. */
    static final String CHILD_HEAP = "-Xmx160m";

    public static void main(String[] args) throws Exception {
        if (args.length == 3 && args[0].equals("memory")) { // a child JVM: one calibration, then its peak heap
            Graph g = optimized(Path.of(args[2]));
            int n = Integer.parseInt(args[1].substring(args[1].indexOf(':') + 1));
            long[] kept = new long[1];
            long peak = args[1].startsWith("kiln") ? peakHeap(() -> streaming(g, n))
                    : peakHeap(() -> kept[0] = keepAll(g, n));
            System.out.println("RESULT " + peak + " " + kept[0]);
            return;
        }
        Path work = Files.createTempDirectory("kiln-calib-bench");
        System.out.println("machine: " + System.getProperty("os.arch") + ", " + Runtime.getRuntime()
                .availableProcessors() + " cores; kernel backend " + KernelBackends.get().name());
        Graph mnist = optimized(ExampleModels.trainedMnistCnn(work.resolve("mnist_cnn")));
        Graph cifar = optimized(ExampleModels.exampleCnn(work.resolve("example_cnn")));
        Graph vgg = OnnxLatencyBenchmark.convNet224();
        Passes.optimizeForInference().run(vgg);

        System.out.println();
        System.out.println("| model | batch | samples | target | samples/s | activation GB/s (histograms) "
                + "| TF forward share | Kiln kernels share |");
        System.out.println("|---|---:|---:|---|---:|---:|---:|---:|");
        for (int rep = 0; rep < 2; rep++) { // the first round warms up TF and the JIT; the second is reported
            for (Int8Target t : Int8Target.values()) {
                throughput("MNIST CNN 28×28 (trained example)", mnist, 64, 4096, t, rep == 1);
                throughput("CNN 32×32×3 (exampleCnn)", cifar, 64, 4096, t, rep == 1);
                throughput("VGG-style CNN 224×224×3 (convnet224, 5.2 M params)", vgg, 64, 128, t, rep == 1);
            }
        }

        System.out.println();
        System.out.println("Memory: each calibration in its own JVM with " + CHILD_HEAP + " (peak heap of all pools; "
                + "OutOfMemoryError = does not fit)");
        System.out.println("| samples | Kiln streaming histograms | keep every activation, then calibrate | activations "
                + "a keep-all approach holds |");
        System.out.println("|---:|---:|---:|---:|");
        Path mnistModel = work.resolve("mnist_cnn");
        for (int n : new int[] {1000, 5000, 10000}) {
            String[] k = child("kiln:" + n, mnistModel);
            String[] a = child("keepall:" + n, mnistModel);
            long activations = (long) n * activationBytesPerSample(mnist);
            System.out.printf(Locale.ROOT, "| %,d | %s | %s | %s |%n", n, k[0], a[0], mib(activations));
        }
    }

    /** Runs one memory measurement in a child JVM; returns {peak heap or the error}. */
    private static String[] child(String what, Path model) throws Exception {
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                CHILD_HEAP, "-cp", System.getProperty("java.class.path"), CalibrationBenchmark.class.getName(),
                "memory", what, model.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        p.waitFor();
        for (String line : out.split("\n")) {
            if (line.startsWith("RESULT ")) {
                return new String[] {mib(Long.parseLong(line.split(" ")[1]))};
            }
        }
        return new String[] {out.contains("OutOfMemoryError") ? "OutOfMemoryError" : "failed"};
    }

    /** Bytes of the TensorRT-layout activations of one sample (what keep-all stores per sample). */
    private static long activationBytesPerSample(Graph g) {
        Set<TensorRef> tensors = Int8Placement.quantizable(g, Int8Target.TENSORRT);
        Graph probe = g.copy();
        int i = 0;
        for (TensorRef r : tensors) {
            if (g.inputs().stream().noneMatch(s -> s.tensor().equals(r))) {
                probe.addOutput(new SignatureTensor("m" + (i++), r, new TensorType(DType.FLOAT, Shape.unknown())));
            }
        }
        try (TfRunner run = TfRunner.of(probe); RepresentativeData.Batches b = data(g, 1, 1).iterator()) {
            Map<String, Tensor> out = run.run(b.next());
            long bytes = 0;
            for (Map.Entry<String, Tensor> e : out.entrySet()) {
                if (e.getKey().startsWith("m")) {
                    bytes += 4 * e.getValue().numElements();
                }
            }
            return bytes;
        } catch (Exception e) {
            throw new RuntimeException(e);
        }
    }

    private static Graph optimized(Path model) {
        Graph g = TfImporter.load(model);
        Passes.optimizeForInference().run(g);
        return g;
    }

    /** {@code samples} random samples of the model's single input, in batches of {@code batch}, made lazily. */
    private static RepresentativeData data(Graph g, int batch, int samples) {
        SignatureTensor in = g.inputs().get(0);
        long[] dims = in.type().shape().dims().clone();
        long per = 1;
        for (int i = 1; i < dims.length; i++) {
            per *= dims[i];
        }
        long perSample = per;
        Iterable<Map<String, Tensor>> it = () -> new Iterator<>() {
            int done;
            final SplittableRandom rnd = new SplittableRandom(1);

            @Override
            public boolean hasNext() {
                return done < samples;
            }

            @Override
            public Map<String, Tensor> next() {
                int n = Math.min(batch, samples - done);
                float[] x = new float[(int) (n * perSample)];
                for (int i = 0; i < x.length; i++) {
                    x[i] = (float) rnd.nextDouble();
                }
                dims[0] = n;
                done += n;
                return Map.of(in.name(), Tensor.ofFloats(Shape.of(dims), x));
            }
        };
        return RepresentativeData.of(it, samples + " random samples");
    }

    private static void throughput(String name, Graph g, int batch, int samples, Int8Target target, boolean print) {
        Set<TensorRef> tensors = Int8Placement.quantizable(g, target);
        long t0 = System.nanoTime();
        Calibrator.Result r = Calibrator.builder().signed(Int8Placement.asymmetric(target)).build()
                .collect(g, tensors, data(g, batch, samples), TfRunner::of, null);
        double s = (System.nanoTime() - t0) / 1e9;
        if (print) {
            double fwd = r.forwardNanos() / 1e9;
            double hist = r.histogramNanos() / 1e9;
            System.out.printf(Locale.ROOT, "| %s | %d | %,d | %s (%s histograms) | %.0f | %.2f | %.1f%% | %.1f%% |%n",
                    name, batch, r.samples(), target.name().toLowerCase(Locale.ROOT),
                    Int8Placement.asymmetric(target) ? "signed" : "|x|", r.samples() / s,
                    r.activationBytes() / hist / 1e9, 100 * fwd / (fwd + hist), 100 * hist / (fwd + hist));
        }
    }

    private static void streaming(Graph g, int n) {
        Calibrator.Result r = Calibrator.builder().build().collect(g, Int8Placement.quantizable(g,
                Int8Target.TENSORRT), data(g, 64, n), TfRunner::of, null);
        CalibrationTable.compute(r.statistics(), t -> ThresholdMethod.mse(), true,
                CalibrationTable.Metadata.of("", "", true));
    }

    /** Keeps every activation of every batch, then builds the same histograms at the end. */
    private static long keepAll(Graph g, int n) {
        Set<TensorRef> tensors = Int8Placement.quantizable(g, Int8Target.TENSORRT);
        Graph probe = g.copy();
        Map<String, String> names = new LinkedHashMap<>();
        int i = 0;
        for (TensorRef r : tensors) {
            if (g.inputs().stream().anyMatch(s -> s.tensor().equals(r))) {
                continue;
            }
            String o = "p" + (i++);
            probe.addOutput(new SignatureTensor(o, r, new TensorType(DType.FLOAT, Shape.unknown())));
            names.put(o, r.toString());
        }
        Map<String, List<float[]>> kept = new LinkedHashMap<>();
        long bytes = 0;
        try (ModelRunner run = TfRunner.of(probe); RepresentativeData.Batches b = data(g, 64, n).iterator()) {
            while (b.hasNext()) {
                Map<String, Tensor> out = run.run(b.next());
                for (Map.Entry<String, String> e : names.entrySet()) {
                    float[] f = out.get(e.getKey()).floats();
                    kept.computeIfAbsent(e.getValue(), k -> new ArrayList<>()).add(f);
                    bytes += 4L * f.length;
                }
            }
        } catch (Exception e) {
            throw new RuntimeException(e);
        }
        CalibrationStatistics s = CalibrationStatistics.create();
        kept.forEach((k, v) -> v.forEach(f -> s.add(k, f, 1)));
        CalibrationTable.compute(s, t -> ThresholdMethod.mse(), true, CalibrationTable.Metadata.of("", "", true));
        return bytes;
    }

    /** Peak Java heap (all heap pools) while {@code r} runs, after a GC. */
    private static long peakHeap(Runnable r) {
        System.gc();
        List<MemoryPoolMXBean> pools = ManagementFactory.getMemoryPoolMXBeans().stream()
                .filter(p -> p.getType() == MemoryType.HEAP).toList();
        pools.forEach(MemoryPoolMXBean::resetPeakUsage);
        r.run();
        return pools.stream().mapToLong(p -> p.getPeakUsage().getUsed()).sum();
    }

    private static String mib(long b) {
        return String.format(Locale.ROOT, "%.0f MiB", b / (1024.0 * 1024));
    }
}
