package dev.kiln.spark;

import dev.kiln.KilnException;
import dev.kiln.calib.CalibrationStatistics;
import dev.kiln.calib.Calibrator;
import dev.kiln.graph.SignatureTensor;

import java.io.Serializable;
import java.util.List;

/**
 * One piece of the representative data an executor calibrates: samples {@code start .. start+count-1} of
 * {@code data} ({@code count} -1: all of it, for a shard file). Errors name the piece, so a corrupt or missing shard
 * is found from the driver's message.
 *
 * @param index  the piece's number (0-based, in data order)
 * @param data   the file(s)
 * @param start  first sample
 * @param count  samples, or -1 for the whole file
 */
record ShardTask(int index, DataSpec data, long start, long count) implements Serializable {

    /** What the piece is, for messages: {@code shard 3 (samples 300-399 of x.npy)}. */
    String label() {
        return "shard " + index + " (" + (count < 0 ? data.spec() : "samples " + start + "-" + (start + count - 1)
                + " of " + data.spec()) + ")";
    }

    /** Runs the model over this piece's samples into {@code into}; returns {samples, batches, forward, histogram}. */
    long[] collect(ExecutorModels.Loaded model, CalibrationStatistics into) {
        try {
            List<SignatureTensor> inputs = model.optimized.inputs();
            long n = count >= 0 ? count : data.sampleCount(inputs);
            Calibrator.Result r = model.calibrator.collect(model.optimized, model.tensors, data.read(inputs, start, n),
                    model::borrow, null);
            into.merge(r.statistics());
            return new long[] {r.samples(), r.batches(), r.forwardNanos(), r.histogramNanos()};
        } catch (KilnException e) {
            throw new KilnException(e.code(), label() + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            throw KilnException.internal(label() + ": " + e, e);
        }
    }
}
