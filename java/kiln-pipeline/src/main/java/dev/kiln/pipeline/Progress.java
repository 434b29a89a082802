package dev.kiln.pipeline;

import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;

import java.io.PrintStream;
import java.util.Locale;

/**
 * Progress of long work (calibration over N samples, evaluation, verification) on stderr: a progress bar with rate
 * and time left on a terminal; plain lines (at most one every 5 seconds, and at the end) when stderr is not a
 * terminal, so that logs stay readable. Silent when {@code KILN_NO_PROGRESS} is set.
 */
public final class Progress implements AutoCloseable {
    private static final long LINE_INTERVAL_NANOS = 5_000_000_000L;
    private final String task;
    private final long total;
    private final String unit;
    private final ProgressBar bar;
    private final PrintStream lines;
    private final long start = System.nanoTime();
    private long done;
    private long lastLine = System.nanoTime();

    private Progress(String task, long total, String unit, ProgressBar bar, PrintStream lines) {
        this.task = task;
        this.total = total;
        this.unit = unit;
        this.bar = bar;
        this.lines = lines;
    }

    /** Progress over {@code total} steps (-1: unknown). */
    public static Progress start(String task, long total) {
        return start(task, total, "");
    }

    /** Progress over {@code total} units named {@code unit} (e.g. "samples"); -1: unknown total. */
    public static Progress start(String task, long total, String unit) {
        if (System.getenv("KILN_NO_PROGRESS") != null) {
            return new Progress(task, total, unit, null, null);
        }
        if (System.console() == null) {
            return new Progress(task, total, unit, null, System.err);
        }
        ProgressBar bar = new ProgressBarBuilder().setTaskName(task).setInitialMax(total < 0 ? 0 : total)
                .setUnit(unit.isEmpty() ? "" : " " + unit, 1).showSpeed()
                .setStyle(ProgressBarStyle.ASCII).setConsumer(new me.tongfei.progressbar.ConsoleProgressBarConsumer(
                        System.err)).continuousUpdate().build();
        return new Progress(task, total, unit, bar, null);
    }

    public void step() {
        stepBy(1);
    }

    public void stepBy(long n) {
        done += n;
        if (bar != null) {
            bar.stepBy(n);
        } else if (lines != null && System.nanoTime() - lastLine >= LINE_INTERVAL_NANOS) {
            lastLine = System.nanoTime();
            lines.println(line());
        }
    }

    private String line() {
        double s = (System.nanoTime() - start) / 1e9;
        double rate = s > 0 ? done / s : 0;
        String of = total > 0 ? String.format(Locale.ROOT, "/%d (%.0f%%)", total, 100.0 * done / total) : "";
        String left = total > 0 && rate > 0 ? String.format(Locale.ROOT, ", %.0f s left", (total - done) / rate) : "";
        return String.format(Locale.ROOT, "kiln: %s %d%s%s, %.1f %s/s%s", task, done, of,
                unit.isEmpty() ? "" : " " + unit, rate, unit.isEmpty() ? "steps" : unit, left);
    }

    @Override
    public void close() {
        if (bar != null) {
            bar.close();
        } else if (lines != null && done > 0) {
            lines.println(line());
        }
    }
}
