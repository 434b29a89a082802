package dev.kiln.tensorrt;

import dev.kiln.KilnArgumentException;
import dev.kiln.data.RepresentativeData;
import dev.kiln.graph.Tensor;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Re-batches representative data into the fixed-shape float batches a TensorRT calibrator hands out: one full
 * tensor per input, of the calibration shape (its first dimension the batch), whatever the data's own batching.
 * A short tail that cannot fill a batch is dropped and counted. Plain Java; the calibrator copies its output to the
 * GPU.
 */
public final class CalibrationFeed implements AutoCloseable {
    private final Map<String, long[]> shapes;
    private final int batch;
    private final Map<String, Integer> sampleSize = new LinkedHashMap<>();
    private final RepresentativeData.Batches batches;
    private Map<String, float[]> current;
    private int currentSamples;
    private int offset;
    private int fed;
    private long dropped;

    /** {@code shapes}: input name to its calibration shape, e.g. {@code [8, 28, 28, 1]}, all with the same batch. */
    public CalibrationFeed(RepresentativeData data, Map<String, long[]> shapes) {
        KilnArgumentException.check(data != null, "calibration data must not be null");
        KilnArgumentException.check(shapes != null && !shapes.isEmpty(), "calibration shapes are needed");
        this.shapes = new LinkedHashMap<>(shapes);
        int b = -1;
        for (Map.Entry<String, long[]> e : shapes.entrySet()) {
            long[] s = e.getValue();
            KilnArgumentException.check(s.length >= 1 && s[0] >= 1, "calibration shape of '" + e.getKey()
                    + "' needs a batch dimension >= 1, got " + ShapeRange.format(s));
            KilnArgumentException.check(b < 0 || s[0] == b, "calibration shapes must share one batch size, got "
                    + ShapeRange.format(s) + " for '" + e.getKey() + "' and " + b);
            b = (int) s[0];
            long n = 1;
            for (int i = 1; i < s.length; i++) {
                KilnArgumentException.check(s[i] >= 1, "calibration shape of '" + e.getKey() + "' must be fixed, got "
                        + ShapeRange.format(s));
                n *= s[i];
            }
            sampleSize.put(e.getKey(), Math.toIntExact(n));
        }
        this.batch = b;
        this.batches = data.iterator();
    }

    /** Samples per batch. */
    public int batchSamples() {
        return batch;
    }

    /** Full batches handed out so far. */
    public int batchesFed() {
        return fed;
    }

    /** Samples dropped at the end because they did not fill a batch. */
    public long samplesDropped() {
        return dropped;
    }

    /** The next full batch, one float array per input (shape as given, row-major); null when the data is used up. */
    public Map<String, float[]> next() {
        Map<String, float[]> out = new LinkedHashMap<>();
        shapes.keySet().forEach(k -> out.put(k, new float[batch * sampleSize.get(k)]));
        int filled = 0;
        while (filled < batch) {
            if (current == null || offset == currentSamples) {
                if (!advance()) {
                    dropped += filled;
                    return null;
                }
            }
            int take = Math.min(batch - filled, currentSamples - offset);
            for (Map.Entry<String, float[]> e : out.entrySet()) {
                int n = sampleSize.get(e.getKey());
                System.arraycopy(current.get(e.getKey()), offset * n, e.getValue(), filled * n, take * n);
            }
            filled += take;
            offset += take;
        }
        fed++;
        return out;
    }

    /** Reads the next data batch; checks that it has every input with the right sample size. */
    private boolean advance() {
        if (!batches.hasNext()) {
            return false;
        }
        Map<String, Tensor> b = batches.next();
        Map<String, float[]> vals = new LinkedHashMap<>();
        int samples = -1;
        for (String name : shapes.keySet()) {
            Tensor t = b.get(name);
            KilnArgumentException.check(t != null, "calibration data has no input '" + name + "' (it has "
                    + b.keySet() + ")");
            KilnArgumentException.check(t.shape().hasRank() && t.shape().rank() >= 1, "calibration input '" + name
                    + "' needs a batch dimension, got " + t.shape());
            int n = (int) t.shape().dim(0);
            long per = n == 0 ? 0 : t.numElements() / n;
            KilnArgumentException.check(n == 0 || per == sampleSize.get(name), "calibration input '" + name
                    + "' has samples of " + per + " values (" + t.shape() + "), the engine's calibration shape "
                    + ShapeRange.format(shapes.get(name)) + " needs " + sampleSize.get(name));
            KilnArgumentException.check(samples < 0 || n == samples, "calibration inputs have different sample "
                    + "counts in one batch: " + n + " for '" + name + "', " + samples + " before");
            samples = n;
            vals.put(name, t.asFloats());
        }
        current = vals;
        currentSamples = samples;
        offset = 0;
        return true;
    }

    @Override
    public void close() {
        batches.close();
    }
}
