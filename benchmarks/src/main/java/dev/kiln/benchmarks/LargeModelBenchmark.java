package dev.kiln.benchmarks;

import com.sun.management.GarbageCollectionNotificationInfo;
import dev.kiln.graph.Graph;
import dev.kiln.onnx.OnnxExporter;
import dev.kiln.passes.Passes;
import dev.kiln.tensorflow.ExampleModels;
import dev.kiln.tensorflow.TfExporter;
import dev.kiln.tensorflow.TfImporter;

import javax.management.NotificationEmitter;
import javax.management.openmbean.CompositeData;
import java.io.IOException;
import java.lang.management.GarbageCollectorMXBean;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryUsage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import java.util.stream.Stream;

/**
 * End-to-end speed and memory of a model with ≥ 100 MB of float32 weights held in variables: import (freezes the
 * variables), optimize_for_inference, export as frozen .pb, SavedModel and ONNX FP32 — each phase timed and its peak
 * Java heap measured, beside a plain {@code Files.copy} of the checkpoint's data file (the same bytes).
 *
 * <p>Run from the repository root, after {@code mvn -o -B -q package -DskipTests -Dnative.skip=true
 * -pl java/kiln-core,java/kiln-tensorflow,java/kiln-onnx,benchmarks} (together, so classpath.txt names the modules'
 * own jars):
 * <pre>
 * java -Xmx256m -Xms256m -cp "benchmarks/target/classes:$(cat benchmarks/target/classpath.txt)" \
 *     dev.kiln.benchmarks.LargeModelBenchmark [--mb 100] [--runs 3] [--work benchmarks/target/large-model] \
 *     [--json benchmarks/results/large-model.json] [--phases all|onnx]
 * </pre>
 * {@code --phases onnx} measures import, optimize_for_inference and ONNX export only: where Kiln types the graph
 * itself (see {@code dev.kiln.tensorflow.shapes}), that JVM never loads TensorFlow's native library, so its RSS is
 * what a conversion to ONNX needs; the models are then built by a child JVM.
 * The model ({@link ExampleModels#largeModel}) is built once into the work directory and reused; one pass over a
 * 1 MB model first loads TensorFlow and warms the JIT. Peak heap: the
 * maximum of heap-used samples taken every 5 ms and of the heap used just before each GC (GC notifications), reset
 * after a System.gc() at the start of each phase; it counts garbage not yet collected, so it is an upper bound
 * of the live data, and a fixed small -Xmx (about 2× the weights) makes it meaningful: the run must fit.
 * Native memory (TensorFlow's own copies) is outside the Java heap; peak RSS (sampled from /proc/self/statm) is
 * reported beside it.
 */
public final class LargeModelBenchmark {
    /** The conversion the targets count (import + optimize + ONNX), then the two TensorFlow exports. */
    private static final List<String> ALL_PHASES = List.of("import", "optimize", "export_onnx", "export_pb",
            "export_savedmodel");
    private static final List<String> ONNX_PHASES = ALL_PHASES.subList(0, 3);

    private LargeModelBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        Map<String, String> o = options(args);
        int mb = Integer.parseInt(o.getOrDefault("mb", "100"));
        int runs = Integer.parseInt(o.getOrDefault("runs", "3"));
        Path work = Path.of(o.getOrDefault("work", "benchmarks/target/large-model"));
        Path json = Path.of(o.getOrDefault("json", "benchmarks/results/large-model.json"));
        // --phases onnx: import, optimize and ONNX export only, in a JVM that never loads TensorFlow's native library
        // when Kiln types the graph itself (the models are then built by a child JVM)
        boolean onnxOnly = o.getOrDefault("phases", "all").equals("onnx");
        List<String> phases = onnxOnly ? ONNX_PHASES : ALL_PHASES;
        Path model = work.resolve("model-" + mb + "mb");
        Path small = work.resolve("model-1mb");
        if (o.containsKey("build-only")) {
            build(model, mb);
            build(small, 1);
            return;
        }
        if (!Files.isDirectory(model) || !Files.isDirectory(small)) {
            if (onnxOnly) {
                buildInChildJvm(mb, work);
            } else {
                build(model, mb);
                build(small, 1);
            }
        }
        Path data = dataFile(model);
        long weightBytes = Files.size(data);
        String loadBefore = Files.readString(Path.of("/proc/loadavg")).strip();
        System.out.printf("model %s: %d bytes of variables data, -Xmx %d MB (%.2f× the weights)%n", model, weightBytes,
                Runtime.getRuntime().maxMemory() >> 20, Runtime.getRuntime().maxMemory() / (double) weightBytes);

        // warm-up on a 1 MB model: the JIT compiles (and, for the TensorFlow exports, TensorFlow's native library
        // loads) outside the measurements
        pipeline(small, Files.createDirectories(work.resolve("warmup")), onnxOnly);
        deleteTree(work.resolve("warmup"));

        Monitor mon = new Monitor();
        System.gc();
        String baseline = memoryStatus();
        System.out.println("before the first phase (JIT warm, TensorFlow's native library "
                + (tensorFlowLoaded() ? "loaded" : "not loaded") + "): " + baseline);
        // phase → [ms, peak heap, peak rss, rss growth over the phase's start] per run
        Map<String, List<double[]>> results = new LinkedHashMap<>();
        for (String p : phases) {
            results.put(p, new ArrayList<>());
        }
        results.put("end_to_end", new ArrayList<>());
        results.put("file_copy", new ArrayList<>());
        for (int run = 0; run < runs; run++) {
            Path out = Files.createDirectories(work.resolve("out"));
            mon.resetTotal();
            Graph g = phase(mon, results, "import", () -> TfImporter.load(model));
            phase(mon, results, "optimize", () -> Passes.optimizeForInference().run(g));
            phase(mon, results, "export_onnx", () -> OnnxExporter.builder().build().export(g, out.resolve("model.onnx")));
            if (!onnxOnly) {
                phase(mon, results, "export_pb", () -> {
                    TfExporter.writeFrozenGraph(g, out.resolve("model.pb"));
                    return null;
                });
                phase(mon, results, "export_savedmodel", () -> {
                    TfExporter.writeSavedModel(g, out.resolve("saved_model"));
                    return null;
                });
            }
            // end to end: the phases' times summed (leaving out the System.gc() before each), the peaks over all
            double e2e = 0;
            for (String p : phases) {
                List<double[]> r = results.get(p);
                e2e += r.get(r.size() - 1)[0];
            }
            results.get("end_to_end").add(new double[] {e2e, mon.totalHeap(), mon.totalRss(),
                mon.totalRss() - mon.totalStartRss()});
            System.out.printf("  shape inference: %s; TensorFlow's native library loaded: %b; onnx %d bytes%n",
                    g.metadata().get(TfImporter.SHAPES_METADATA), tensorFlowLoaded(),
                    Files.size(out.resolve("model.onnx")));
            deleteTree(out);
            Path copy = work.resolve("copy.bin");
            phase(mon, results, "file_copy", () -> {
                try {
                    return Files.copy(data, copy);
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            Files.delete(copy);
        }
        mon.close();
        String loadAfter = Files.readString(Path.of("/proc/loadavg")).strip();
        report(results, weightBytes, json, loadBefore, loadAfter, runs, baseline, tensorFlowLoaded());
    }

    private static void pipeline(Path model, Path out, boolean onnxOnly) {
        Graph g = TfImporter.load(model);
        Passes.optimizeForInference().run(g);
        OnnxExporter.builder().build().export(g, out.resolve("model.onnx"));
        if (!onnxOnly) {
            TfExporter.writeFrozenGraph(g, out.resolve("model.pb"));
            TfExporter.writeSavedModel(g, out.resolve("saved_model"));
        }
    }

    private static void build(Path model, int mb) {
        if (!Files.isDirectory(model)) {
            System.out.println("building " + model + " ...");
            ExampleModels.largeModel(model, mb * 1024L * 1024L);
        }
    }

    /** Builds the models in another JVM: building them loads TensorFlow, which the measured JVM must not. */
    private static void buildInChildJvm(int mb, Path work) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-cp",
                System.getProperty("java.class.path"), LargeModelBenchmark.class.getName(), "--build-only", "true",
                "--mb", Integer.toString(mb), "--work", work.toString()).inheritIO().start();
        if (p.waitFor() != 0) {
            throw new IllegalStateException("building the models failed (exit " + p.exitValue() + ")");
        }
    }

    /** Whether TensorFlow's native library is mapped into this process. */
    private static boolean tensorFlowLoaded() throws IOException {
        return Files.readString(Path.of("/proc/self/maps")).contains("libtensorflow");
    }

    private static <T> T phase(Monitor mon, Map<String, List<double[]>> results, String name, Supplier<T> body) {
        System.gc(); // so a phase's peak is what it holds and makes, not its predecessors' garbage
        mon.reset();
        long t0 = System.nanoTime();
        T r = body.get();
        double ms = (System.nanoTime() - t0) / 1e6;
        mon.sample();
        results.get(name).add(new double[] {ms, mon.peakHeap(), mon.peakRss(), mon.peakRss() - mon.startRss()});
        System.out.printf("  %-18s %8.0f ms  peak heap %6.1f MB  peak RSS %6.1f MB (+%.1f MB)%n", name, ms,
                mon.peakHeap() / 1048576.0, mon.peakRss() / 1048576.0, (mon.peakRss() - mon.startRss()) / 1048576.0);
        return r;
    }

    private static void report(Map<String, List<double[]>> results, long weightBytes, Path json, String loadBefore,
                               String loadAfter, int runs, String baseline, boolean tfLoaded)
            throws IOException {
        double copyMs = median(results.get("file_copy"), 0);
        StringBuilder md = new StringBuilder();
        md.append("| phase | wall time (ms, median of ").append(runs).append(") | ÷ file copy | peak Java heap (MB) | ")
                .append("÷ weights | peak RSS (MB) | RSS growth in the phase (MB) | ÷ weights |\n")
                .append("|---|---:|---:|---:|---:|---:|---:|---:|\n");
        StringBuilder js = new StringBuilder("{\n");
        js.append("  \"generated\": \"").append(Instant.now()).append("\",\n");
        js.append("  \"machine\": {\"cpu\": \"").append(cpuModel()).append("\", \"cores\": ")
                .append(Runtime.getRuntime().availableProcessors()).append(", \"memory_kb\": ").append(memTotalKb())
                .append(", \"loadavg_before\": \"").append(loadBefore).append("\", \"loadavg_after\": \"")
                .append(loadAfter).append("\"},\n");
        js.append("  \"memory_before_first_phase\": \"").append(baseline).append("\",\n");
        js.append("  \"tensorflow_native_library_loaded\": ").append(tfLoaded).append(",\n");
        js.append("  \"jvm\": {\"version\": \"").append(System.getProperty("java.version")).append("\", \"xmx_bytes\": ")
                .append(Runtime.getRuntime().maxMemory()).append(", \"gc\": \"").append(gcNames()).append("\"},\n");
        js.append("  \"weights_bytes\": ").append(weightBytes).append(",\n  \"runs\": ").append(runs)
                .append(",\n  \"heap_method\": \"max of MemoryMXBean heap-used samples every 5 ms and heap used before "
                        + "each GC (GC notifications), per phase\",\n  \"phases\": {\n");
        int i = 0;
        for (Map.Entry<String, List<double[]>> e : results.entrySet()) {
            double ms = median(e.getValue(), 0);
            double heap = max(e.getValue(), 1);
            double rss = max(e.getValue(), 2);
            double growth = max(e.getValue(), 3);
            md.append(String.format("| %s | %.0f | %.2f | %.0f | %.2f | %.0f | %.1f | %.2f |%n", e.getKey(), ms,
                    ms / copyMs, heap / 1048576, heap / weightBytes, rss / 1048576, growth / 1048576,
                    growth / weightBytes));
            js.append(String.format("    \"%s\": {\"ms_median\": %.1f, \"ms_runs\": %s, \"ratio_to_file_copy\": %.3f, "
                    + "\"peak_heap_bytes\": %.0f, \"peak_heap_to_weights\": %.3f, \"peak_rss_bytes\": %.0f, "
                    + "\"rss_growth_bytes\": %.0f}%s%n",
                    e.getKey(), ms, runs(e.getValue()), ms / copyMs, heap, heap / weightBytes, rss, growth,
                    ++i < results.size() ? "," : ""));
        }
        js.append("  }\n}\n");
        Files.createDirectories(json.toAbsolutePath().getParent());
        Files.writeString(json, js);
        System.out.println();
        System.out.printf("Machine: %s, %d cores, %.1f GiB; load average before %s, after %s; weights %.1f MB%n%n",
                cpuModel(), Runtime.getRuntime().availableProcessors(), memTotalKb() / 1048576.0, loadBefore, loadAfter,
                weightBytes / 1048576.0);
        System.out.println("Before the first phase: " + baseline + "\n");
        System.out.print(md);
        System.out.println("\nwrote " + json);
    }

    private static double median(List<double[]> v, int k) {
        double[] x = v.stream().mapToDouble(a -> a[k]).sorted().toArray();
        return x.length % 2 == 1 ? x[x.length / 2] : (x[x.length / 2 - 1] + x[x.length / 2]) / 2;
    }

    private static double max(List<double[]> v, int k) {
        return v.stream().mapToDouble(a -> a[k]).max().orElse(0);
    }

    private static String runs(List<double[]> v) {
        return v.stream().map(a -> String.format("%.1f", a[0])).toList().toString();
    }

    private static Path dataFile(Path model) throws IOException {
        try (Stream<Path> s = Files.list(model.resolve("variables"))) {
            List<Path> l = s.filter(p -> p.getFileName().toString().startsWith("variables.data-")).toList();
            if (l.size() != 1) {
                throw new IllegalStateException("expected one variables data shard in " + model + ", found " + l);
            }
            return l.get(0);
        }
    }

    /** RSS split into anonymous memory (heaps, native allocations) and mapped files, and the Java heap committed. */
    private static String memoryStatus() throws IOException {
        Map<String, Long> kb = new LinkedHashMap<>();
        for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
            for (String k : new String[] {"VmRSS", "RssAnon", "RssFile"}) {
                if (l.startsWith(k + ":")) {
                    kb.put(k, Long.parseLong(l.replaceAll("\\D", "")));
                }
            }
        }
        return String.format("RSS %.0f MB (anonymous %.0f MB, files %.0f MB), Java heap committed %.0f MB",
                kb.getOrDefault("VmRSS", 0L) / 1024.0, kb.getOrDefault("RssAnon", 0L) / 1024.0,
                kb.getOrDefault("RssFile", 0L) / 1024.0,
                ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getCommitted() / 1048576.0);
    }

    private static String cpuModel() throws IOException {
        return Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                .map(l -> l.substring(l.indexOf(':') + 1).strip()).findFirst().orElse("unknown");
    }

    private static long memTotalKb() throws IOException {
        return Files.readAllLines(Path.of("/proc/meminfo")).stream().filter(l -> l.startsWith("MemTotal:"))
                .mapToLong(l -> Long.parseLong(l.replaceAll("\\D", ""))).findFirst().orElse(0);
    }

    private static String gcNames() {
        return String.join("+", ManagementFactory.getGarbageCollectorMXBeans().stream()
                .map(GarbageCollectorMXBean::getName).toList());
    }

    private static Map<String, String> options(String[] args) {
        Map<String, String> m = new LinkedHashMap<>();
        for (int i = 0; i + 1 < args.length; i += 2) {
            if (!args[i].startsWith("--")) {
                throw new IllegalArgumentException("expected --name value, got " + args[i]);
            }
            m.put(args[i].substring(2), args[i + 1]);
        }
        return m;
    }

    private static void deleteTree(Path p) throws IOException {
        try (Stream<Path> s = Files.walk(p)) {
            for (Path x : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(x);
            }
        }
    }

    /** Peak heap used (samples + before-GC usage) and peak RSS, per phase and per run. */
    private static final class Monitor implements AutoCloseable {
        private final AtomicLong heap = new AtomicLong();
        private final AtomicLong rss = new AtomicLong();
        private final AtomicLong totalHeap = new AtomicLong();
        private final AtomicLong totalRss = new AtomicLong();
        private volatile long startRss;
        private volatile long totalStartRss;
        private final Thread sampler;
        private final long pageSize = 4096;
        private volatile boolean running = true;

        Monitor() {
            for (GarbageCollectorMXBean gc : ManagementFactory.getGarbageCollectorMXBeans()) {
                ((NotificationEmitter) gc).addNotificationListener((n, h) -> {
                    if (n.getType().equals(GarbageCollectionNotificationInfo.GARBAGE_COLLECTION_NOTIFICATION)) {
                        GarbageCollectionNotificationInfo info =
                                GarbageCollectionNotificationInfo.from((CompositeData) n.getUserData());
                        if (info.getGcCause().equals("System.gc()")) {
                            return; // our own GC between phases: arrives late and would count the last phase's garbage
                        }
                        // heap pools only (metaspace and code cache are not heap)
                        long before = info.getGcInfo().getMemoryUsageBeforeGc().entrySet().stream()
                                .filter(e -> isHeapPool(e.getKey())).mapToLong(e -> e.getValue().getUsed()).sum();
                        record(before, -1);
                    }
                }, null, null);
            }
            sampler = new Thread(() -> {
                while (running) {
                    sample();
                    try {
                        Thread.sleep(5);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }, "heap-sampler");
            sampler.setDaemon(true);
            sampler.start();
        }

        private static boolean isHeapPool(String name) {
            return ManagementFactory.getMemoryPoolMXBeans().stream().anyMatch(p -> p.getName().equals(name)
                    && p.getType() == java.lang.management.MemoryType.HEAP);
        }

        void sample() {
            MemoryUsage u = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage();
            record(u.getUsed(), residentBytes());
        }

        private void record(long h, long r) {
            heap.accumulateAndGet(h, Math::max);
            totalHeap.accumulateAndGet(h, Math::max);
            if (r >= 0) {
                rss.accumulateAndGet(r, Math::max);
                totalRss.accumulateAndGet(r, Math::max);
            }
        }

        private long residentBytes() {
            try {
                String[] f = Files.readString(Path.of("/proc/self/statm")).strip().split("\\s+");
                return Long.parseLong(f[1]) * pageSize;
            } catch (IOException | RuntimeException e) {
                return -1;
            }
        }

        void reset() {
            heap.set(0);
            rss.set(0);
            startRss = residentBytes();
            sample();
        }

        void resetTotal() {
            totalHeap.set(0);
            totalRss.set(0);
            totalStartRss = residentBytes();
            reset();
        }

        /** RSS when the phase started (after its System.gc()). */
        double startRss() {
            return startRss;
        }

        double totalStartRss() {
            return totalStartRss;
        }

        double peakHeap() {
            return heap.get();
        }

        double peakRss() {
            return rss.get();
        }

        double totalHeap() {
            return totalHeap.get();
        }

        double totalRss() {
            return totalRss.get();
        }

        @Override
        public void close() {
            running = false;
            sampler.interrupt();
        }
    }
}
