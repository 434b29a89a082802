package dev.kiln.spark;

import dev.kiln.calib.Calibrator;
import dev.kiln.data.RepresentativeData;
import dev.kiln.eval.ModelRunner;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.passes.Passes;
import dev.kiln.pipeline.CalibrateJob;
import dev.kiln.tensorflow.TfImporter;
import dev.kiln.tensorflow.TfRunner;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The models an executor JVM has loaded, one per {@link CalibrationSpec}: imported and optimized once (the
 * expensive part), then reused by every partition this JVM runs. TensorFlow sessions are pooled too: one per task
 * running at the same time, kept for the next partition.
 */
final class ExecutorModels {
    private static final ConcurrentHashMap<CalibrationSpec, Loaded> MODELS = new ConcurrentHashMap<>();
    private static final AtomicInteger LOADS = new AtomicInteger();

    private ExecutorModels() {
    }

    /** A loaded model and the time this call spent loading it (0 when it was already loaded). */
    record Lease(Loaded model, long loadNanos) {
    }

    static Lease get(CalibrationSpec spec) {
        long[] spent = {0};
        Loaded m = MODELS.computeIfAbsent(spec, s -> {
            long t0 = System.nanoTime();
            Loaded l = Loaded.load(s);
            spent[0] = System.nanoTime() - t0;
            LOADS.incrementAndGet();
            return l;
        });
        return new Lease(m, spent[0]);
    }

    /** Models loaded by this JVM so far (tests check that partitions share one). */
    static int loads() {
        return LOADS.get();
    }

    /** An optimized graph, the tensors to calibrate, the calibrator, and idle TensorFlow sessions. */
    static final class Loaded {
        final Graph optimized;
        final Set<TensorRef> tensors;
        final Calibrator calibrator;
        private final ConcurrentLinkedQueue<ModelRunner> idle = new ConcurrentLinkedQueue<>();

        private Loaded(Graph optimized, Set<TensorRef> tensors, Calibrator calibrator) {
            this.optimized = optimized;
            this.tensors = tensors;
            this.calibrator = calibrator;
        }

        static Loaded load(CalibrationSpec spec) {
            Graph g = TfImporter.load(HadoopPaths.local(spec.model()), spec.importOptions());
            Passes.optimizeForInference().run(g);
            // the same job configuration as on the driver: the same tensors and histograms
            CalibrateJob job = CalibrateJob.builder(HadoopPaths.local(spec.model())).targets(spec.targets())
                    .withOutputs(spec.withOutputs()).bins(spec.bins())
                    .data(RepresentativeData.of(List.of(), "none")).build();
            return new Loaded(g, job.tensorsToCalibrate(g), job.calibrator());
        }

        /**
         * A session for the calibrator's probe graph (the same graph on every call, as the calibrator derives it
         * from the same model and tensors): an idle one, or a new one; closing it puts it back.
         */
        ModelRunner borrow(Graph probe) {
            ModelRunner r = idle.poll();
            ModelRunner runner = r != null ? r : TfRunner.of(probe);
            return new ModelRunner() {
                private boolean returned;

                @Override
                public Map<String, Tensor> run(Map<String, Tensor> inputs) {
                    return runner.run(inputs);
                }

                @Override
                public void close() {
                    if (!returned) {
                        returned = true;
                        idle.offer(runner);
                    }
                }
            };
        }
    }
}
