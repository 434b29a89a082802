package dev.kiln.data;

import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.Tensor;

import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * Representative data for calibration and evaluation: batches keyed by model input (signature) name, each tensor
 * with the batch along axis 0. This is the one interface the calibrator reads. Iterating again starts again from the
 * first sample, with the same values; the last batch may be short.
 *
 * <pre>{@code
 * RepresentativeData data = DataSources.parse("x=images_u8.npy", model.inputs(), FloatConversion.scale(1.0 / 255))
 *         .slice(0, 1000).withBatchSize(64);
 * try (RepresentativeData.Batches batches = data.iterator()) {
 *     while (batches.hasNext()) { calibrator.observe(run(batches.next())); }
 * }
 * log(data.description());   // what it was, for the report
 * }</pre>
 *
 * Implementations: {@link ArrayData} (.npy/.npz files, image folders), {@link #of} (batches given through the API),
 * {@link #random} (seeded random data for smoke runs, flagged by {@link #isRandom()}).
 */
public interface RepresentativeData extends Iterable<Map<String, Tensor>> {

    /** A pass over the batches; holds open files until exhausted or closed. */
    interface Batches extends Iterator<Map<String, Tensor>>, AutoCloseable {
        /** Releases open files; idempotent. Exhausting the iterator closes it too. */
        @Override
        void close();
    }

    /** A new pass from the first sample; close it when abandoning it early (try-with-resources). */
    @Override
    Batches iterator();

    /** Samples per batch (the last one may be short); -1 when batches are passed on as given. */
    int batchSize();

    /** The same data in batches of {@code batchSize}. */
    RepresentativeData withBatchSize(int batchSize);

    /** The number of samples, or -1 when unknown (an iterable given through the API). */
    long sampleCount();

    /** Samples {@code start} to {@code start + count - 1}, e.g. 0-999 to calibrate and 5000-9999 to evaluate. */
    RepresentativeData slice(long start, long count);

    /** One line for reports: files, dtypes, conversion, reshapes, range, batch size, and whether it is random. */
    String description();

    /**
     * What the data is, without how it is batched (which no calibration result depends on): what a calibration
     * table records, so that the same data in other batches gives the same table bytes.
     */
    default String content() {
        return description();
    }

    /** What was adapted to fit the model (reshapes, dropped short batches), one human-readable note each. */
    List<String> notes();

    /** True for made-up data: every report that used it must say so. */
    boolean isRandom();

    /** Batches given through the API, passed on as they are until {@link #withBatchSize} or {@link #slice}. */
    static RepresentativeData of(Iterable<Map<String, Tensor>> batches, String description) {
        return new IterableData(batches, description, -1, 0, -1);
    }

    /**
     * {@code samples} random samples for {@code inputs} (see {@link dev.kiln.eval.RandomInputs}), the same for the
     * same {@code seed}. For smoke runs only: calibrating on them gives meaningless scales.
     */
    static RepresentativeData random(List<SignatureTensor> inputs, long seed, long samples) {
        return new RandomData(List.copyOf(inputs), seed, samples, 0, RandomData.DEFAULT_BATCH);
    }
}
