package dev.kiln.pipeline;

import dev.kiln.KilnArgumentException;
import dev.kiln.eval.RandomInputs;
import dev.kiln.graph.Tensor;
import dev.kiln.onnx.OnnxRunner;
import dev.kiln.tensorrt.TensorRtProbe;
import dev.kiln.tensorflow.ImportOptions;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Times models on the runtimes present, side by side ({@code kiln bench}). Every model/runtime pair gets one set of
 * seeded random inputs, made before timing and reused every iteration; after a warm-up the pairs are run in
 * round-robin, one iteration each in turn, so that machine noise falls on all of them alike. For ONNX models the
 * same ONNX Runtime session is also timed "bare" ({@link OnnxRunner#nativeLoop}: pre-made ONNX Runtime tensors,
 * outputs not read), interleaved the same way, which gives Kiln's own per-iteration overhead.
 *
 * <pre>{@code
 * BenchJob.Result r = BenchJob.builder(List.of(savedModel, onnx)).iterations(100).build().run();
 * }</pre>
 */
public final class BenchJob {
    /** Above this coefficient of variation a result is flagged as noisy. */
    public static final double NOISY_CV = 0.10;
    /** Below this many measured iterations a result is flagged as unreliable. */
    public static final int FEW_ITERATIONS = 10;

    private final List<Path> models;
    private final Set<BenchRuntime> runtimes;
    private final int batch;
    private final int threads;
    private final double warmupSeconds;
    private final int warmupIterations;
    private final double durationSeconds;
    private final int iterations;
    private final long seed;
    private final ImportOptions importOptions;
    private final Consumer<String> log;

    private BenchJob(Builder b) {
        this.models = List.copyOf(b.models);
        this.runtimes = Set.copyOf(b.runtimes);
        this.batch = b.batch;
        this.threads = b.threads;
        this.warmupSeconds = b.warmupSeconds;
        this.warmupIterations = b.warmupIterations;
        this.durationSeconds = b.durationSeconds;
        this.iterations = b.iterations;
        this.seed = b.seed;
        this.importOptions = b.importOptions;
        this.log = b.log;
    }

    public static Builder builder(List<Path> models) {
        return new Builder(models);
    }

    /** The settings a result was measured with. */
    public record Settings(List<String> runtimes, int batch, int threads, String warmup, String measure,
                           long seed) {
    }

    /** One model on one runtime: its statistics, and for ONNX models the bare ONNX Runtime loop and the overhead. */
    public record Entry(String model, String runtime, BenchStats stats, BenchStats nativeStats,
                        Double kilnOverheadPercent, List<String> warnings) {
        /** "model (runtime)", the label in tables and charts. */
        public String label() {
            return Path.of(model).getFileName() + " (" + runtime + ")";
        }
    }

    /** A model/runtime pair that was asked for but cannot run here, and why. */
    public record Unavailable(String model, String runtime, String reason) {
    }

    /** Everything measured, with the machine it was measured on. */
    public record Result(OptimizeReport.Environment environment, Settings settings, List<Entry> entries,
                         List<Unavailable> unavailable) {
    }

    /** One timed loop: the Kiln runner of a pair, or a bare ONNX Runtime loop. */
    private static final class Loop {
        final Runnable body;
        long[] nanos = new long[64];
        int n;

        Loop(Runnable body) {
            this.body = body;
        }

        long time() {
            long t0 = System.nanoTime();
            body.run();
            long dt = System.nanoTime() - t0;
            if (n == nanos.length) {
                nanos = java.util.Arrays.copyOf(nanos, n * 2);
            }
            nanos[n++] = dt;
            return dt;
        }

        long[] measured() {
            return java.util.Arrays.copyOf(nanos, n);
        }
    }

    /** Runs the benchmark. */
    public Result run() {
        List<Unavailable> unavailable = new ArrayList<>();
        List<AutoCloseable> owned = new ArrayList<>();
        List<String[]> pairs = new ArrayList<>(); // model, runtime
        List<Loop> kiln = new ArrayList<>();
        List<Loop> bare = new ArrayList<>(); // null where there is no bare loop
        try {
            for (Path model : models) {
                BenchRuntime own = ModelFiles.nativeRuntime(model);
                for (BenchRuntime rt : BenchRuntime.values()) {
                    if (!runtimes.contains(rt)) {
                        continue;
                    }
                    String why = unavailableReason(rt, own);
                    if (why != null) {
                        unavailable.add(new Unavailable(model.toString(), rt.cliName(), why));
                        continue;
                    }
                    log.accept("loading " + model + " on " + rt.cliName());
                    ModelFiles.Opened m = ModelFiles.open(model, importOptions, threads);
                    owned.add(m);
                    Map<String, Tensor> inputs = direct(RandomInputs.forSignature(m.inputs(), seed, batch));
                    pairs.add(new String[] {model.toString(), rt.cliName()});
                    kiln.add(new Loop(() -> m.runner().run(inputs)));
                    if (m.runner() instanceof OnnxRunner ort) {
                        OnnxRunner.NativeLoop nl = ort.nativeLoop(inputs);
                        owned.add(0, nl); // closed before its runner
                        bare.add(new Loop(nl::runOnce));
                    } else {
                        bare.add(null);
                    }
                }
            }
            if (!kiln.isEmpty()) {
                List<Loop> all = new ArrayList<>(kiln);
                bare.stream().filter(java.util.Objects::nonNull).forEach(all::add);
                warmUp(all);
                measure(all);
            }
        } finally {
            for (AutoCloseable c : owned) {
                try {
                    c.close();
                } catch (Exception e) {
                    log.accept("closing failed: " + e.getMessage());
                }
            }
        }
        List<Entry> entries = new ArrayList<>();
        for (int i = 0; i < kiln.size(); i++) {
            BenchStats s = BenchStats.of(kiln.get(i).measured(), batch);
            BenchStats ns = bare.get(i) == null ? null : BenchStats.of(bare.get(i).measured(), batch);
            Double overhead = ns == null || ns.medianMs() <= 0 ? null
                    : 100 * (s.medianMs() - ns.medianMs()) / ns.medianMs();
            entries.add(new Entry(pairs.get(i)[0], pairs.get(i)[1], s, ns, overhead, warnings(s)));
        }
        String measure = iterations > 0 ? iterations + " iterations per pair"
                : durationSeconds + " s per pair, round-robin";
        String warm = warmupIterations >= 0 ? warmupIterations + " iterations" : warmupSeconds + " s per pair";
        return new Result(Environments.current(), new Settings(runtimes.stream().sorted().map(BenchRuntime::cliName)
                .toList(), batch, threads, warm, measure, seed), entries, unavailable);
    }

    static List<String> warnings(BenchStats s) {
        List<String> w = new ArrayList<>();
        if (s.cv() > NOISY_CV) {
            w.add(String.format(java.util.Locale.ROOT, "noisy: coefficient of variation %.1f%% > %.0f%% (other load "
                    + "on the machine, frequency scaling or too few iterations)", 100 * s.cv(), 100 * NOISY_CV));
        }
        if (s.iterations() < FEW_ITERATIONS) {
            w.add("only " + s.iterations() + " iterations measured (< " + FEW_ITERATIONS + "): the statistics are "
                    + "rough");
        }
        return w;
    }

    /** Why {@code rt} cannot run a model whose own runtime is {@code own}, or null when it can. */
    static String unavailableReason(BenchRuntime rt, BenchRuntime own) {
        return switch (rt) {
            case TFLITE -> own == BenchRuntime.TFLITE ? null
                    : "the TFLite interpreter runs .tflite files: export the model first (kiln export --format tflite)";
            case TENSORRT -> own != BenchRuntime.TENSORRT
                    ? "TensorRT runs engines: build one first (kiln build-engine MODEL -o model.engine)"
                    : TensorRtProbe.probe().available() ? null
                    : "TensorRT is not usable here: " + TensorRtProbe.probe().reason();
            case TENSORFLOW -> own == BenchRuntime.TENSORFLOW ? null
                    : "TensorFlow cannot run " + switch (own) {
                        case TFLITE -> "a TFLite model";
                        case TENSORRT -> "a TensorRT engine";
                        default -> "an ONNX model";
                    } + " (Kiln imports SavedModels and frozen graphs only)";
            case ONNXRUNTIME -> own == BenchRuntime.ONNXRUNTIME ? null
                    : "ONNX Runtime runs .onnx files: export the model first (kiln export --format onnx)";
        };
    }

    private void warmUp(List<Loop> all) {
        if (warmupIterations >= 0) {
            for (int k = 0; k < warmupIterations; k++) {
                all.forEach(Loop::time);
            }
        } else {
            long budget = (long) (warmupSeconds * 1e9) * all.size();
            long spent = 0;
            while (spent < budget) {
                for (Loop l : all) {
                    spent += l.time();
                }
            }
        }
        all.forEach(l -> l.n = 0); // warm-up is not measured
    }

    private void measure(List<Loop> all) {
        log.accept("measuring " + all.size() + " loops round-robin");
        if (iterations > 0) {
            for (int k = 0; k < iterations; k++) {
                all.forEach(Loop::time);
            }
            return;
        }
        long end = System.nanoTime() + (long) (durationSeconds * 1e9) * all.size();
        do {
            all.forEach(Loop::time);
        } while (System.nanoTime() < end);
    }

    /** Options for {@link BenchJob}; defaults: every runtime, batch 1, 1 s warm-up, 5 s measured per pair. */
    public static final class Builder {
        private final List<Path> models;
        private Set<BenchRuntime> runtimes = EnumSet.allOf(BenchRuntime.class);
        private int batch = 1;
        private int threads;
        private double warmupSeconds = 1;
        private int warmupIterations = -1;
        private double durationSeconds = 5;
        private int iterations;
        private long seed = 1;
        private ImportOptions importOptions = ImportOptions.defaults();
        private Consumer<String> log = s -> { };

        private Builder(List<Path> models) {
            KilnArgumentException.check(models != null && !models.isEmpty(), "give at least one model to bench");
            this.models = List.copyOf(models);
        }

        public Builder runtimes(Set<BenchRuntime> r) {
            KilnArgumentException.check(r != null && !r.isEmpty(), "give at least one runtime");
            this.runtimes = EnumSet.copyOf(r);
            return this;
        }

        /** Samples per inference: the size of unknown batch dimensions. */
        public Builder batch(int b) {
            KilnArgumentException.check(b >= 1, "batch must be >= 1, got " + b);
            this.batch = b;
            return this;
        }

        /** ONNX Runtime intra-op threads (0: its default). TensorFlow keeps its own default. */
        public Builder threads(int t) {
            KilnArgumentException.check(t >= 0, "threads must be >= 0, got " + t);
            this.threads = t;
            return this;
        }

        /** Warm-up time per pair. */
        public Builder warmupSeconds(double s) {
            KilnArgumentException.check(s >= 0 && Double.isFinite(s), "warm-up must be >= 0 seconds, got " + s);
            this.warmupSeconds = s;
            this.warmupIterations = -1;
            return this;
        }

        /** Warm-up as a number of iterations per pair instead of a time. */
        public Builder warmupIterations(int n) {
            KilnArgumentException.check(n >= 0, "warm-up iterations must be >= 0, got " + n);
            this.warmupIterations = n;
            return this;
        }

        /** Measured time per pair (the pairs take turns, so the whole run takes pairs × this). */
        public Builder durationSeconds(double s) {
            KilnArgumentException.check(s > 0 && Double.isFinite(s), "duration must be > 0 seconds, got " + s);
            this.durationSeconds = s;
            this.iterations = 0;
            return this;
        }

        /** Measured iterations per pair instead of a duration. */
        public Builder iterations(int n) {
            KilnArgumentException.check(n >= 1, "iterations must be >= 1, got " + n);
            this.iterations = n;
            return this;
        }

        public Builder seed(long s) {
            this.seed = s;
            return this;
        }

        public Builder importOptions(ImportOptions o) {
            this.importOptions = o;
            return this;
        }

        public Builder log(Consumer<String> l) {
            this.log = l;
            return this;
        }

        public BenchJob build() {
            for (Path m : models) {
                ModelFiles.nativeRuntime(m); // a missing or wrong file fails before anything is loaded
            }
            return new BenchJob(this);
        }
    }

    /**
     * The inputs in direct (off-heap) buffers, made once before timing: what a serving loop that keeps its inputs
     * off-heap passes, and ONNX Runtime then reads them without a copy.
     */
    private static Map<String, Tensor> direct(Map<String, Tensor> inputs) {
        Map<String, Tensor> out = new java.util.LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : inputs.entrySet()) {
            Tensor t = e.getValue();
            if (t.dtype().byteSize() < 0) {
                out.put(e.getKey(), t);
                continue;
            }
            java.nio.ByteBuffer src = t.bytes();
            java.nio.ByteBuffer d = java.nio.ByteBuffer.allocateDirect(src.remaining())
                    .order(java.nio.ByteOrder.LITTLE_ENDIAN);
            d.put(src).flip();
            out.put(e.getKey(), Tensor.wrap(t.dtype(), t.shape(), d));
        }
        return out;
    }
}
