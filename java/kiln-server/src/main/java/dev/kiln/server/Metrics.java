package dev.kiln.server;

import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;

/**
 * Counters since start, and the Prometheus text exposition of them with the jobs by state (from the database, so
 * they survive restarts) and the queue length. Names follow Prometheus' conventions: {@code _total} for counters,
 * base units (bytes, seconds).
 */
final class Metrics {
    final LongAdder bytesIn = new LongAdder();
    final LongAdder bytesOut = new LongAdder();
    private final LongAdder submitted = new LongAdder();
    private final LongAdder reused = new LongAdder();
    private final LongAdder rejected = new LongAdder();
    private final Map<JobState, LongAdder> finished = new ConcurrentHashMap<>();
    private final Map<String, LongAdder> stepMillis = new ConcurrentHashMap<>();
    private final Map<String, LongAdder> stepCount = new ConcurrentHashMap<>();

    void submitted(boolean fromCache) {
        submitted.increment();
        if (fromCache) {
            reused.increment();
        }
    }

    /** A submission refused because the queue was full. */
    void rejected() {
        rejected.increment();
    }

    void finished(JobState state, Map<String, Long> timingsMillis) {
        finished.computeIfAbsent(state, s -> new LongAdder()).increment();
        timingsMillis.forEach((step, ms) -> {
            stepMillis.computeIfAbsent(step, s -> new LongAdder()).add(ms);
            stepCount.computeIfAbsent(step, s -> new LongAdder()).increment();
        });
    }

    /** {@code gpusFound}: GPUs the TensorRT probe found (-1 when the slot count was configured, not probed). */
    String render(Map<JobState, Long> byState, int queueLength, int workers, int gpuSlots, int gpusFound) {
        StringBuilder sb = new StringBuilder();
        sb.append("# HELP kiln_jobs Jobs in the database by state.\n# TYPE kiln_jobs gauge\n");
        for (JobState s : JobState.values()) {
            sb.append("kiln_jobs{state=\"").append(s.wire()).append("\"} ").append(byState.getOrDefault(s, 0L))
                    .append('\n');
        }
        gauge(sb, "kiln_queue_length", "Jobs waiting for a worker.", queueLength);
        gauge(sb, "kiln_workers", "CPU worker threads.", workers);
        gauge(sb, "kiln_gpu_slots", "TensorRT engine builds that may run at once, one per GPU (0: engine jobs write "
                + "ONNX and a trtexec plan on the CPU workers).", gpuSlots);
        if (gpusFound >= 0) {
            gauge(sb, "kiln_tensorrt_gpus_found", "GPUs usable by TensorRT, as kiln-tensorrt's probe found them.",
                    gpusFound);
        }
        counter(sb, "kiln_jobs_submitted_total", "Jobs accepted since start.", submitted.sum());
        counter(sb, "kiln_jobs_reused_total", "Jobs answered from an earlier identical job's result since start.",
                reused.sum());
        counter(sb, "kiln_jobs_rejected_total", "Submissions refused with 429 (queue full) since start.",
                rejected.sum());
        sb.append("# HELP kiln_jobs_finished_total Jobs finished since start, by final state.\n")
                .append("# TYPE kiln_jobs_finished_total counter\n");
        for (JobState s : new JobState[] {JobState.DONE, JobState.FAILED, JobState.CANCELLED}) {
            LongAdder a = finished.get(s);
            sb.append("kiln_jobs_finished_total{state=\"").append(s.wire()).append("\"} ")
                    .append(a == null ? 0 : a.sum()).append('\n');
        }
        counter(sb, "kiln_bytes_in_total", "Request body bytes received.", bytesIn.sum());
        counter(sb, "kiln_bytes_out_total", "Response body bytes sent.", bytesOut.sum());
        sb.append("# HELP kiln_step_seconds Time spent in each pipeline step of finished jobs.\n")
                .append("# TYPE kiln_step_seconds summary\n");
        for (String step : new java.util.TreeSet<>(stepMillis.keySet())) {
            sb.append(String.format(Locale.ROOT, "kiln_step_seconds_sum{step=\"%s\"} %.3f%n", step,
                    stepMillis.get(step).sum() / 1000.0));
            sb.append("kiln_step_seconds_count{step=\"").append(step).append("\"} ")
                    .append(stepCount.get(step).sum()).append('\n');
        }
        return sb.toString();
    }

    private static void gauge(StringBuilder sb, String name, String help, long v) {
        sb.append("# HELP ").append(name).append(' ').append(help).append("\n# TYPE ").append(name)
                .append(" gauge\n").append(name).append(' ').append(v).append('\n');
    }

    private static void counter(StringBuilder sb, String name, String help, long v) {
        sb.append("# HELP ").append(name).append(' ').append(help).append("\n# TYPE ").append(name)
                .append(" counter\n").append(name).append(' ').append(v).append('\n');
    }
}
