package dev.kiln.data;

import dev.kiln.graph.Tensor;

/**
 * An open, sequential reader of samples along axis 0. Not thread-safe; owned by one iteration and closed by it.
 */
public interface SampleReader extends AutoCloseable {

    /** The next {@code count} samples as one tensor of shape [count, ...sampleShape], in the source's dtype. */
    Tensor read(int count);

    /** Skips {@code count} samples. */
    void skip(long count);

    /** Releases the file; idempotent. */
    @Override
    void close();
}
