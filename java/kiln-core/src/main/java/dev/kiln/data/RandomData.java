package dev.kiln.data;

import dev.kiln.KilnArgumentException;
import dev.kiln.eval.RandomInputs;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.Tensor;

import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.stream.Collectors;

/** Seeded random batches (from {@link RandomInputs}); sample i depends only on the seed, i's batch and its size. */
record RandomData(List<SignatureTensor> inputs, long seed, long count, long start, int batchSize)
        implements RepresentativeData {
    static final int DEFAULT_BATCH = 32;

    RandomData {
        KilnArgumentException.check(count > 0, "random data needs at least 1 sample, got " + count);
        KilnArgumentException.check(batchSize > 0, "batch size must be >= 1, got " + batchSize);
    }

    @Override
    public Batches iterator() {
        return new Batches() {
            private long done;

            @Override
            public boolean hasNext() {
                return done < count;
            }

            @Override
            public Map<String, Tensor> next() {
                if (!hasNext()) {
                    throw new NoSuchElementException();
                }
                int n = (int) Math.min(batchSize, count - done);
                long index = (start + done) / batchSize; // batches of a slice keep their values when aligned
                done += n;
                return RandomInputs.forSignature(inputs, seed ^ (index * 0x9E3779B97F4A7C15L), n);
            }

            @Override
            public void close() {
            }
        };
    }

    @Override
    public RepresentativeData withBatchSize(int n) {
        return new RandomData(inputs, seed, count, start, n);
    }

    @Override
    public long sampleCount() {
        return count;
    }

    @Override
    public RepresentativeData slice(long s, long c) {
        KilnArgumentException.check(s >= 0 && c > 0 && s + c <= count, "random data: range of " + c
                + " samples from " + s + " is outside its " + count + " samples");
        return new RandomData(inputs, seed, c, start + s, batchSize);
    }

    @Override
    public String description() {
        return content() + " in batches of " + batchSize;
    }

    @Override
    public String content() {
        return "RANDOM data (seed " + seed + ", uniform [-1, 1) floats, small integers) for inputs "
                + inputs.stream().map(i -> "'" + i.name() + "' " + i.type()).collect(Collectors.joining(", "))
                + "; " + count + " samples";
    }

    @Override
    public List<String> notes() {
        return List.of("random data: results say nothing about real inputs");
    }

    @Override
    public boolean isRandom() {
        return true;
    }
}
