package dev.kiln.spark;

import org.apache.spark.scheduler.SparkListener;
import org.apache.spark.scheduler.SparkListenerTaskEnd;
import org.apache.spark.sql.SparkSession;

import java.util.Locale;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/** Progress lines on the driver for long Spark work: one per finished task, with the count and elapsed time. */
final class TaskProgress extends SparkListener {
    private final SparkSession spark;
    private final String step;
    private final int total;
    private final Consumer<String> log;
    private final AtomicInteger done = new AtomicInteger();
    private final long start = System.nanoTime();

    private TaskProgress(SparkSession spark, String step, int total, Consumer<String> log) {
        this.spark = spark;
        this.step = step;
        this.total = total;
        this.log = log;
    }

    static TaskProgress attach(SparkSession spark, String step, int total, Consumer<String> log) {
        TaskProgress p = new TaskProgress(spark, step, total, log);
        spark.sparkContext().addSparkListener(p);
        return p;
    }

    /**
     * Stops listening. Spark delivers listener events asynchronously: after a successful job, waits (up to 2 s) for
     * the last tasks' lines, so they come before the job's result is printed.
     */
    void detach(boolean succeeded) {
        long deadline = System.nanoTime() + 2_000_000_000L;
        while (succeeded && done.get() < total && System.nanoTime() < deadline) {
            try {
                Thread.sleep(10);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        spark.sparkContext().removeSparkListener(this);
    }

    @Override
    public void onTaskEnd(SparkListenerTaskEnd end) {
        if (!"Success".equals(end.reason().toString())) {
            return;
        }
        int n = done.incrementAndGet();
        if (n <= total) {
            log.accept(String.format(Locale.ROOT, "%-10s task %d/%d done (%.1f s)", step, n, total,
                    (System.nanoTime() - start) / 1e9));
        }
    }
}
