package dev.kiln.calib;

import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;
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
import dev.kiln.kernels.Kernels;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * Streams the activations of a float model over representative data into {@link CalibrationStatistics}: the graph is
 * run once per batch with every tensor to calibrate as an extra output, and each batch goes straight into the kernel
 * backend's histograms, so memory does not grow with the number of samples. The statistics depend only on the data,
 * not on batch size or order ({@link Histogram}), and merge exactly with those of other runs.
 *
 * <pre>{@code
 * CalibrationStatistics s = Calibrator.builder().signed(false).build()
 *         .collect(graph, tensors, data, TfRunner::of, progress).statistics();
 * }</pre>
 */
public final class Calibrator {
    /** Called after each batch with the samples done so far and the total (-1 when unknown). */
    public interface Progress {
        void batchDone(long samplesDone, long samplesTotal);
    }

    /**
     * What one collection did: the statistics, and where the time went (the runtime's forward passes against Kiln's
     * histogram kernels) with the activation bytes that went through the histograms.
     */
    public record Result(CalibrationStatistics statistics, long samples, int batches, long forwardNanos,
                         long histogramNanos, long activationBytes) {
        /** Kiln's share of the collection time (histograms over histograms + forward passes). */
        public double kilnShare() {
            long total = forwardNanos + histogramNanos;
            return total == 0 ? 0 : (double) histogramNanos / total;
        }
    }

    private final int nbBins;
    private final boolean signed;
    private final Kernels kernels;

    private Calibrator(Builder b) {
        this.nbBins = b.nbBins;
        this.signed = b.signed;
        this.kernels = b.kernels != null ? b.kernels : KernelBackends.get();
    }

    public static Builder builder() {
        return new Builder();
    }

    /**
     * Runs {@code graph} (float model) over every batch of {@code data} and collects statistics of {@code tensors},
     * keyed by {@link TensorRef#toString()} (the keys of {@link Graph#quantization()}). {@code open} builds the
     * runtime for the probe graph (TensorFlow: {@code TfRunner::of}); it is opened once and closed at the end.
     */
    public Result collect(Graph graph, Set<TensorRef> tensors, RepresentativeData data,
                          Function<Graph, ModelRunner> open, Progress progress) {
        KilnArgumentException.check(!tensors.isEmpty(), "nothing to calibrate: the model has no quantizable tensor");
        Map<String, String> inputByRef = new LinkedHashMap<>();
        for (SignatureTensor in : graph.inputs()) {
            inputByRef.put(in.tensor().toString(), in.name());
        }
        Map<String, String> outputByRef = new LinkedHashMap<>();
        for (SignatureTensor o : graph.outputs()) {
            outputByRef.putIfAbsent(o.tensor().toString(), o.name());
        }
        Graph probe = graph.copy();
        Map<String, String> fetch = new LinkedHashMap<>(); // probe output name -> tensor key
        Map<String, String> feed = new LinkedHashMap<>();  // input name -> tensor key
        int i = 0;
        for (TensorRef r : tensors) {
            String key = r.toString();
            if (inputByRef.containsKey(key)) {
                feed.put(inputByRef.get(key), key);
            } else if (outputByRef.containsKey(key)) {
                fetch.put(outputByRef.get(key), key); // fetched anyway: a second fetch of one tensor collides in TF
            } else {
                String name = "kiln_calib_" + (i++);
                probe.addOutput(new SignatureTensor(name, r, new TensorType(DType.FLOAT, Shape.unknown())));
                fetch.put(name, key);
            }
        }
        CalibrationStatistics stats = CalibrationStatistics.create(kernels, nbBins, t -> signed);
        stats.track(feed.values()).track(fetch.values()); // every entry up front: the parallel adds only read the map
        // one float buffer per tensor, reused while the batch size stays the same
        Map<String, float[]> buffers = new java.util.concurrent.ConcurrentHashMap<>();
        long total = data.sampleCount();
        long done = 0;
        int batchCount = 0;
        long forward = 0;
        long histograms = 0;
        long bytes = 0;
        try (ModelRunner runner = open.apply(probe); RepresentativeData.Batches batches = data.iterator()) {
            while (batches.hasNext()) {
                Map<String, Tensor> batch = batches.next();
                int rows = rows(batch);
                long t0 = System.nanoTime();
                Map<String, Tensor> out = runner.run(batch);
                long t1 = System.nanoTime();
                java.util.List<Map.Entry<String, Tensor>> work = new java.util.ArrayList<>();
                for (Map.Entry<String, String> e : feed.entrySet()) {
                    work.add(Map.entry(e.getValue(), batch.get(e.getKey())));
                }
                for (Map.Entry<String, String> e : fetch.entrySet()) {
                    Tensor t = out.get(e.getKey());
                    if (t == null) {
                        throw KilnException.internal("calibration: the runtime did not return tensor '"
                                + e.getValue() + "'", null);
                    }
                    work.add(Map.entry(e.getValue(), t));
                }
                // tensors are independent: their histograms fill in parallel, each one batch after batch in order,
                // so the statistics are the same as one thread's
                bytes += work.parallelStream().mapToLong(w -> {
                    float[] f = floats(w.getValue(), w.getKey(), buffers);
                    stats.add(w.getKey(), f, rows);
                    return 4L * f.length;
                }).sum();
                forward += t1 - t0;
                histograms += System.nanoTime() - t1;
                batchCount++;
                done += rows;
                if (progress != null) {
                    progress.batchDone(done, total);
                }
            }
        } catch (Exception e) {
            if (e instanceof RuntimeException re) {
                throw re;
            }
            throw KilnException.internal("calibration: " + e.getMessage(), e);
        }
        if (done == 0) {
            throw new KilnArgumentException("calibration data is empty: " + data.description());
        }
        return new Result(stats, done, batchCount, forward, histograms, bytes);
    }

    private static int rows(Map<String, Tensor> batch) {
        for (Tensor t : batch.values()) {
            return t.shape().rank() == 0 ? 1 : (int) t.shape().dim(0);
        }
        return 0;
    }

    private static float[] floats(Tensor t, String tensor, Map<String, float[]> buffers) {
        if (t.dtype() == DType.FLOAT) {
            float[] b = buffers.get(tensor);
            if (b == null || b.length != t.numElements()) {
                b = new float[(int) t.numElements()];
                buffers.put(tensor, b);
            }
            return t.floatsInto(b);
        }
        if (t.dtype().isFloatingPoint() || t.dtype().isInteger()) {
            return t.asFloats();
        }
        throw new KilnArgumentException("tensor '" + tensor + "' has dtype " + t.dtype() + ": only numeric tensors "
                + "can be calibrated");
    }

    /** Options: histogram bins (default 2048) and signed histograms for asymmetric ranges (default off). */
    public static final class Builder {
        private int nbBins = Histogram.DEFAULT_BINS;
        private boolean signed;
        private Kernels kernels;

        private Builder() {
        }

        public Builder bins(int n) {
            KilnArgumentException.check(n >= 2 && n % 2 == 0, "bins must be even and >= 2, got " + n);
            this.nbBins = n;
            return this;
        }

        /** Two-sided histograms, needed for asymmetric (uint8) ranges. */
        public Builder signed(boolean s) {
            this.signed = s;
            return this;
        }

        public Builder kernels(Kernels k) {
            this.kernels = k;
            return this;
        }

        public Calibrator build() {
            return new Calibrator(this);
        }
    }
}
