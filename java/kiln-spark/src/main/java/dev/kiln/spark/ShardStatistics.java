package dev.kiln.spark;

import dev.kiln.KilnException;
import dev.kiln.calib.CalibrationStatistics;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.Serializable;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;

/**
 * What one or more partitions collected, as it travels from executors to the driver: the calibration statistics as
 * gzipped {@link CalibrationStatistics#toJson} bytes (sparse histograms: a few KB per tensor, exact, and the format
 * Kiln already validates on reading), and the counters and timings the throughput figures come from. Merging two
 * is exact ({@link CalibrationStatistics#merge}), so any tree of merges gives the statistics of one pass.
 *
 * @param statistics      gzipped statistics JSON
 * @param partitions      partitions merged into this
 * @param samples         samples run
 * @param batches         batches run
 * @param loadNanos       time spent loading the model (0 for partitions that found it loaded)
 * @param forwardNanos    TensorFlow's forward passes
 * @param histogramNanos  Kiln's histograms
 * @param serializeNanos  turning statistics into bytes and back (executors and merges)
 * @param taskNanos       wall time of the partitions' work, summed
 */
public record ShardStatistics(byte[] statistics, int partitions, long samples, long batches, long loadNanos,
                              long forwardNanos, long histogramNanos, long serializeNanos, long taskNanos)
        implements Serializable {

    /** Packs {@code s} with its counters; the packing time is counted in {@link #serializeNanos}. */
    static ShardStatistics of(CalibrationStatistics s, long samples, long batches, long loadNanos, long forwardNanos,
                              long histogramNanos, long taskStart) {
        long t0 = System.nanoTime();
        byte[] bytes = gzip(s.toJson());
        long t1 = System.nanoTime();
        return new ShardStatistics(bytes, 1, samples, batches, loadNanos, forwardNanos, histogramNanos, t1 - t0,
                t1 - taskStart);
    }

    /** The statistics these bytes hold. */
    CalibrationStatistics unpack() {
        return CalibrationStatistics.fromJson(gunzip(statistics), "calibration statistics from a Spark partition");
    }

    /** Both merged: exact, whatever the order. */
    ShardStatistics merge(ShardStatistics other) {
        long t0 = System.nanoTime();
        byte[] bytes = gzip(unpack().merge(other.unpack()).toJson());
        long spent = System.nanoTime() - t0;
        return new ShardStatistics(bytes, partitions + other.partitions, samples + other.samples,
                batches + other.batches, loadNanos + other.loadNanos, forwardNanos + other.forwardNanos,
                histogramNanos + other.histogramNanos, serializeNanos + other.serializeNanos + spent,
                taskNanos + other.taskNanos);
    }

    private static byte[] gzip(byte[] b) {
        ByteArrayOutputStream out = new ByteArrayOutputStream(b.length / 4 + 64);
        try (GZIPOutputStream z = new GZIPOutputStream(out)) {
            z.write(b);
        } catch (IOException e) {
            throw KilnException.internal("cannot compress calibration statistics: " + e.getMessage(), e);
        }
        return out.toByteArray();
    }

    private static byte[] gunzip(byte[] b) {
        try (GZIPInputStream z = new GZIPInputStream(new ByteArrayInputStream(b))) {
            return z.readAllBytes();
        } catch (IOException e) {
            throw KilnException.io("corrupt calibration statistics from a Spark partition: " + e.getMessage(), e);
        }
    }
}
