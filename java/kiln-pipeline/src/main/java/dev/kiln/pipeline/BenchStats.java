package dev.kiln.pipeline;

import dev.kiln.KilnArgumentException;

import java.util.Arrays;

/**
 * Latency statistics of one timed loop, in milliseconds. Percentiles are nearest-rank (the smallest measured latency
 * that at least p% of the iterations did not exceed), so each is a latency that really happened; the median of an
 * even count is the mean of the middle two. Throughput is 1000 / mean latency (one inference at a time).
 */
public record BenchStats(int iterations, double minMs, double meanMs, double medianMs, double p90Ms, double p95Ms,
                         double p99Ms, double maxMs, double stddevMs, double cv, double inferencesPerSecond,
                         double samplesPerSecond) {

    /** Statistics of {@code nanos} (one entry per iteration) for inferences of {@code batch} samples. */
    public static BenchStats of(long[] nanos, int batch) {
        KilnArgumentException.check(nanos.length > 0, "no iterations were measured");
        double[] ms = Arrays.stream(nanos).mapToDouble(n -> n / 1e6).sorted().toArray();
        int n = ms.length;
        double mean = Arrays.stream(ms).sum() / n;
        double var = 0;
        for (double v : ms) {
            var += (v - mean) * (v - mean);
        }
        double sd = n > 1 ? Math.sqrt(var / (n - 1)) : 0;
        double median = n % 2 == 1 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2;
        double ips = mean > 0 ? 1000 / mean : 0;
        return new BenchStats(n, ms[0], mean, median, rank(ms, 90), rank(ms, 95), rank(ms, 99), ms[n - 1], sd,
                mean > 0 ? sd / mean : 0, ips, ips * batch);
    }

    private static double rank(double[] sorted, double p) {
        int i = (int) Math.ceil(p / 100 * sorted.length) - 1;
        return sorted[Math.max(0, Math.min(sorted.length - 1, i))];
    }
}
