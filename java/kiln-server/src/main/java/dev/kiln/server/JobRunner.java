package dev.kiln.server;

import dev.kiln.KilnException;
import dev.kiln.calib.ThresholdMethod;
import dev.kiln.data.ArrayData;
import dev.kiln.data.DataSources;
import dev.kiln.data.FloatConversion;
import dev.kiln.data.RepresentativeData;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.onnx.Precision;
import dev.kiln.pipeline.OptimizeJob;
import dev.kiln.pipeline.OptimizeReport;
import dev.kiln.pipeline.Reports;
import dev.kiln.tensorflow.ImportOptions;
import dev.kiln.tensorflow.TfImporter;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.function.BooleanSupplier;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * Runs one job: the optimize pipeline on its unpacked model into {@code work/}, the report written there, then
 * {@code work/} renamed to {@code out/} and the job marked done. Every attempt starts from a clean {@code work/}, so a
 * job interrupted by a crash reruns from the beginning with the same result. Cancellation is checked at every step
 * (the pipeline's log callback) and once more before publishing; a cancelled or failed job leaves no output.
 */
final class JobRunner implements Workers.Runner {
    private static final Logger LOG = Logger.getLogger(JobRunner.class.getName());

    private final JobStore store;
    private final DataDir dirs;
    private final Metrics metrics;
    private final IdenticalJobs identical;

    JobRunner(JobStore store, DataDir dirs, Metrics metrics) {
        this.store = store;
        this.dirs = dirs;
        this.metrics = metrics;
        this.identical = new IdenticalJobs(store, dirs, metrics);
    }

    /** Runs the queued job {@code id} on a CPU worker. */
    List<String> run(String id, BooleanSupplier cancelled, BooleanSupplier shuttingDown) {
        return run(id, -1, cancelled, shuttingDown);
    }

    /**
     * Runs the queued job {@code id} (TensorRT engines on {@code gpu}, when not -1); does nothing when it is no longer
     * queued (cancelled meanwhile). Then settles the identical jobs that waited on it; returns the one that must now
     * run itself, if any.
     */
    @Override
    public List<String> run(String id, int gpu, BooleanSupplier cancelled, BooleanSupplier shuttingDown) {
        if (!store.markRunning(id, System.currentTimeMillis())) {
            return List.of();
        }
        runMarked(id, gpu, cancelled, shuttingDown);
        String next = identical.settle(id);
        return next == null ? List.of() : List.of(next);
    }

    private void runMarked(String id, int gpu, BooleanSupplier cancelled, BooleanSupplier shuttingDown) {
        Job job = store.get(id).orElseThrow();
        Path work = dirs.work(id);
        Path out = dirs.resolve(DataDir.outRelative(id));
        try {
            DataDir.deleteRecursively(work);
            DataDir.deleteRecursively(out);
            Runnable check = () -> {
                if (cancelled.getAsBoolean() || shuttingDown.getAsBoolean()) {
                    throw new JobCancelledException(id, !cancelled.getAsBoolean());
                }
            };
            OptimizeReport report = optimize(job, gpu, work, check);
            check.run();
            Files.move(work, out, StandardCopyOption.ATOMIC_MOVE);
            String summary = Request.JSON.writeValueAsString(ServiceReport.summary(report));
            store.finish(id, JobState.DONE, DataDir.outRelative(id), summary, null, System.currentTimeMillis());
            metrics.finished(JobState.DONE, report.timingsMillis());
        } catch (JobCancelledException e) {
            DataDir.deleteRecursively(work);
            if (e.shutdown()) {
                store.requeue(id);
                return; // keeps its model for the next start
            }
            store.finish(id, JobState.CANCELLED, null, null, "cancelled while running", System.currentTimeMillis());
            metrics.finished(JobState.CANCELLED, java.util.Map.of());
        } catch (IOException | RuntimeException e) {
            LOG.log(Level.INFO, "job " + id + " failed", e);
            DataDir.deleteRecursively(work);
            String reason = e instanceof KilnException ? e.getMessage() : e.getClass().getSimpleName() + ": "
                    + e.getMessage();
            store.finish(id, JobState.FAILED, null, null, reason, System.currentTimeMillis());
            metrics.finished(JobState.FAILED, java.util.Map.of());
        }
        // the upload is only needed until the job ends
        DataDir.deleteRecursively(dirs.model(id));
    }

    private OptimizeReport optimize(Job job, int gpu, Path work, Runnable check) {
        JobOptions o = JobOptions.parse(job.options());
        Path model = SafeExtractor.savedModelRoot(dirs.model(job.id()));
        JobSteps steps = new JobSteps();
        ImportOptions importOptions = ImportOptions.defaults().toBuilder().recurrentLayers(o.rnn()).build();
        OptimizeJob.Builder b = OptimizeJob.builder(model).importOptions(importOptions).output(work)
                .formats(o.formats()).precisions(o.precisions()).opset(o.opset()).samples(o.samples())
                .batch(o.batch()).seed(o.seed())
                .threads(1).log(line -> {
                    check.run();
                    if (steps.accept(line)) {
                        store.progress(job.id(), steps.step(), steps.percent());
                    }
                });
        if (o.lowRank() != null) {
            b.lowRank(dev.kiln.lowrank.LowRankFactorization.energy(o.lowRank()));
        }
        if (o.prune() != null) {
            b.prune(dev.kiln.sparse.PruningPlan.of(dev.kiln.sparse.PruningPattern.parse(o.prune())));
        }
        if (o.buildsEngines()) {
            b.engineOptions(o.engineOptions(gpu));
        }
        if (o.precisions().contains(Precision.INT8)) {
            b.int8Targets(o.int8Targets()).int8WeightRange(o.int8WeightRange())
                    .int8WeightMethod(ThresholdMethod.parse(o.weightMethod()))
                    .calibrationMethod(o.defaultCalibMethod(), o.perTensorCalibMethods()).keepFloat(o.keepFloat());
            if (o.minCosine() != null) {
                b.minCosine(o.minCosine());
            }
            List<SignatureTensor> inputs = TfImporter.load(model, importOptions.toBuilder()
                    .loadWeights(false).build()).inputs();
            int calibBatch = o.calibBatch() > 0 ? o.calibBatch() : 16;
            RepresentativeData calib;
            if (o.calibRandom()) {
                calib = RepresentativeData.random(inputs, 7, o.calibSamples()).withBatchSize(calibBatch);
            } else {
                ArrayData.Builder data = DataSources.parse(dirs.dataFile(job.id()).toString(), Path.of(""), inputs,
                        FloatConversion.of(o.dataScale(), o.dataOffset()));
                calib = (o.calibBatch() > 0 ? data.batchSize(o.calibBatch()) : data).build();
            }
            b.calibrationData(calib);
        }
        OptimizeReport report = ServiceReport.relativize(b.build().run(), work, job.modelName());
        check.run();
        store.progress(job.id(), "report", 95);
        Reports.writeAtomically(work.resolve("report.json"), Reports.toJson(report));
        Reports.writeAtomically(work.resolve("report.html"), Reports.toHtml(report));
        return report;
    }
}
