package dev.kiln.data;

import dev.kiln.KilnArgumentException;
import dev.kiln.graph.DType;
import dev.kiln.graph.Shape;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.Tensor;
import dev.kiln.quant.Float16;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.stream.Collectors;

/**
 * Representative data read from one {@link ArraySource} per model input (.npy files, .npz arrays, image folders),
 * converted to the input's type and fitted to its shape ({@link ShapeAdapter}). Everything is checked when it is
 * built, so a bad file or shape fails before any model runs. Reads stream: one batch per input in memory at a time.
 *
 * <pre>{@code
 * RepresentativeData d = ArrayData.builder(model.inputs())
 *         .input("x", ArraySource.npy(Path.of("images_u8.npy")), FloatConversion.scale(1.0 / 255))
 *         .range(0, 1000).batchSize(64).build();
 * }</pre>
 */
public final class ArrayData implements RepresentativeData {
    static final int DEFAULT_BATCH = 32;

    /** One model input fed from one source. */
    private record Feed(SignatureTensor input, ArraySource source, FloatConversion conversion, Shape sampleShape,
                        String note) {
    }

    private final List<Feed> feeds;
    private final long count;
    private final int batchSize;
    private final boolean dropShortLast; // the model fixes its batch size: a short last batch cannot be fed
    private final List<String> notes;

    private ArrayData(List<Feed> feeds, long count, int batchSize, boolean dropShortLast, List<String> notes) {
        this.feeds = feeds;
        this.count = count;
        this.batchSize = batchSize;
        this.dropShortLast = dropShortLast;
        this.notes = notes;
    }

    /** A builder for data fed to {@code inputs}, the model's signature inputs. */
    public static Builder builder(List<SignatureTensor> inputs) {
        return new Builder(List.copyOf(inputs), Map.of(), FloatConversion.identity(), 0, 0, -1);
    }

    @Override
    public Batches iterator() {
        return new Reading();
    }

    @Override
    public int batchSize() {
        return batchSize;
    }

    @Override
    public RepresentativeData withBatchSize(int n) {
        return rebuild(feeds, count, n);
    }

    @Override
    public long sampleCount() {
        return count;
    }

    @Override
    public RepresentativeData slice(long start, long c) {
        KilnArgumentException.check(start >= 0 && c > 0 && start + c <= count, "range of " + c + " samples from "
                + start + " is outside the " + count + " samples of " + sourceNames());
        List<Feed> sliced = feeds.stream().map(f -> new Feed(f.input, f.source.slice(start, c), f.conversion,
                f.sampleShape, f.note)).toList();
        return rebuild(sliced, c, batchSize);
    }

    private RepresentativeData rebuild(List<Feed> f, long c, int n) {
        int fixed = fixedBatch(f.stream().map(Feed::input).toList());
        return new ArrayData(f, c, checkBatch(n, fixed), dropShortLast, notes(f, c, checkBatch(n, fixed), fixed));
    }

    @Override
    public String description() {
        return content() + " in batches of " + batchSize;
    }

    @Override
    public String content() {
        StringBuilder b = new StringBuilder();
        for (Feed f : feeds) {
            b.append(b.length() == 0 ? "" : "; ").append("input '").append(f.input.name()).append("' <- ")
                    .append(f.source.name()).append(" (").append(f.source.dtype().name().toLowerCase())
                    .append(" samples of ").append(f.source.sampleShape()).append(")");
            if (f.input.type().dtype() != f.source.dtype() || !f.conversion.isIdentity()) {
                b.append(", ").append(f.conversion).append(" -> ")
                        .append(f.input.type().dtype().name().toLowerCase());
            }
            if (f.note != null) {
                b.append(", reshaped to ").append(f.sampleShape);
            }
        }
        return b.append("; ").append(count).append(" samples").toString();
    }

    @Override
    public List<String> notes() {
        return notes;
    }

    @Override
    public boolean isRandom() {
        return false;
    }

    private String sourceNames() {
        return feeds.stream().map(f -> f.source.name()).collect(Collectors.joining(", "));
    }

    /** The model's batch size when every input fixing axis 0 agrees on it; 0 when none fixes it. */
    private static int fixedBatch(List<SignatureTensor> inputs) {
        int fixed = 0;
        for (SignatureTensor in : inputs) {
            Shape s = in.type().shape();
            if (s.hasRank() && s.rank() > 0 && s.dim(0) > 0) {
                fixed = (int) s.dim(0);
            }
        }
        return fixed;
    }

    private static int checkBatch(int requested, int fixed) {
        if (requested == 0) {
            return fixed > 0 ? fixed : DEFAULT_BATCH;
        }
        KilnArgumentException.check(requested > 0, "batch size must be >= 1, got " + requested);
        KilnArgumentException.check(fixed == 0 || requested == fixed, "batch size " + requested
                + " does not fit the model, whose inputs have a fixed batch dimension of " + fixed);
        return requested;
    }

    private static List<String> notes(List<Feed> feeds, long count, int batch, int fixed) {
        List<String> out = new ArrayList<>();
        for (Feed f : feeds) {
            if (f.note != null) {
                out.add(f.note);
            }
        }
        if (fixed > 0 && count % batch != 0) {
            out.add("the model's batch dimension is fixed at " + fixed + ": the last " + count % batch
                    + " samples (a short batch) are not used");
        }
        return List.copyOf(out);
    }

    /** One pass: a reader per input, closed at the end or by {@link #close()}. */
    private final class Reading implements Batches {
        private final List<SampleReader> readers = new ArrayList<>();
        private final long usable = dropShortLast ? count / batchSize * batchSize : count;
        private long done;
        private boolean closed;

        Reading() {
            try {
                for (Feed f : feeds) {
                    readers.add(f.source.open());
                }
            } catch (RuntimeException e) {
                close();
                throw e;
            }
        }

        @Override
        public boolean hasNext() {
            if (done >= usable) {
                close();
                return false;
            }
            return !closed;
        }

        @Override
        public Map<String, Tensor> next() {
            if (!hasNext()) {
                throw new NoSuchElementException();
            }
            int n = (int) Math.min(batchSize, usable - done);
            Map<String, Tensor> batch = new LinkedHashMap<>();
            for (int i = 0; i < feeds.size(); i++) {
                Feed f = feeds.get(i);
                Tensor raw = readers.get(i).read(n);
                batch.put(f.input.name(), convert(f, raw).reshape(Batching.withBatch(f.sampleShape, n)));
            }
            done += n;
            return batch;
        }

        @Override
        public void close() {
            if (!closed) {
                closed = true;
                readers.forEach(SampleReader::close);
            }
        }
    }

    private static Tensor convert(Feed f, Tensor raw) {
        DType want = f.input.type().dtype();
        if (raw.dtype() == want && f.conversion.isIdentity()) {
            return raw;
        }
        Tensor floats = f.conversion.apply(raw);
        return want == DType.HALF ? Tensor.ofShorts(DType.HALF, floats.shape(), Float16.fromFloats(floats.floats()))
                : floats;
    }

    /**
     * Immutable: every method returns a new builder. Inputs not given a source are an error at {@link #build()}, as
     * are sources for names the model does not have.
     */
    public static final class Builder {
        private record Given(ArraySource source, FloatConversion conversion) {
        }

        private final List<SignatureTensor> inputs;
        private final Map<String, Given> sources;
        private final FloatConversion conversion;
        private final int batchSize;
        private final long rangeStart;
        private final long rangeCount;

        private Builder(List<SignatureTensor> inputs, Map<String, Given> sources, FloatConversion conversion,
                        int batchSize, long rangeStart, long rangeCount) {
            this.inputs = inputs;
            this.sources = sources;
            this.conversion = conversion;
            this.batchSize = batchSize;
            this.rangeStart = rangeStart;
            this.rangeCount = rangeCount;
        }

        /** Feeds input {@code name} from {@code source}, converted with the builder's {@link #conversion}. */
        public Builder input(String name, ArraySource source) {
            return input(name, source, null);
        }

        /** Feeds input {@code name} from {@code source}, converted with {@code conversion}. */
        public Builder input(String name, ArraySource source, FloatConversion conversion) {
            Map<String, Given> s = new LinkedHashMap<>(sources);
            s.put(name, new Given(source, conversion));
            return new Builder(inputs, s, this.conversion, batchSize, rangeStart, rangeCount);
        }

        /** The conversion for sources given none of their own (default: as is). */
        public Builder conversion(FloatConversion c) {
            return new Builder(inputs, sources, c, batchSize, rangeStart, rangeCount);
        }

        /** Samples per batch (default: the model's fixed batch size, else 32). */
        public Builder batchSize(int n) {
            return new Builder(inputs, sources, conversion, n, rangeStart, rangeCount);
        }

        /** Only samples {@code start .. start + count - 1} of every source. */
        public Builder range(long start, long count) {
            return new Builder(inputs, sources, conversion, batchSize, start, count);
        }

        /** Checks everything (names, sample counts, types, shapes) and returns the data. */
        public ArrayData build() {
            List<String> names = inputs.stream().map(SignatureTensor::name).toList();
            for (String n : sources.keySet()) {
                KilnArgumentException.check(names.contains(n), "data given for input '" + n
                        + "', but the model's inputs are " + names);
            }
            List<Feed> feeds = new ArrayList<>();
            long count = -1;
            String countFrom = null;
            for (SignatureTensor in : inputs) {
                Given s = sources.get(in.name());
                KilnArgumentException.check(s != null, "input '" + in.name() + "' has no data; data was given for "
                        + sources.keySet() + " and the model's inputs are " + names);
                ArraySource src = s.source();
                FloatConversion conv = s.conversion() != null ? s.conversion() : conversion;
                KilnArgumentException.check(src.sampleCount() > 0, "input '" + in.name() + "': data "
                        + src.name() + " has 0 samples");
                if (rangeStart > 0 || rangeCount >= 0) {
                    src = src.slice(rangeStart, rangeCount >= 0 ? rangeCount : src.sampleCount() - rangeStart);
                    KilnArgumentException.check(src.sampleCount() > 0, "input '" + in.name()
                            + "': the range selects 0 samples of " + src.name());
                }
                if (count >= 0) {
                    KilnArgumentException.check(src.sampleCount() == count, "input '" + in.name() + "': data "
                            + src.name() + " has " + src.sampleCount() + " samples, but " + countFrom + " has "
                            + count + "; every input needs the same number of samples");
                } else {
                    count = src.sampleCount();
                    countFrom = src.name();
                }
                checkType(in, src, conv);
                ShapeAdapter.Fit fit = ShapeAdapter.fit(in.name(), src.name(), src.sampleShape(), in.type().shape());
                feeds.add(new Feed(in, src, conv, fit.sampleShape(), fit.note()));
            }
            KilnArgumentException.check(!feeds.isEmpty(), "the model has no inputs to feed data to");
            int fixed = fixedBatch(inputs);
            int batch = checkBatch(batchSize, fixed);
            return new ArrayData(List.copyOf(feeds), count, batch, fixed > 0, notes(feeds, count, batch, fixed));
        }

        private static void checkType(SignatureTensor in, ArraySource src, FloatConversion conv) {
            DType want = in.type().dtype();
            DType have = src.dtype();
            boolean ok = (have == want && conv.isIdentity())
                    || ((want == DType.FLOAT || want == DType.HALF) && FloatConversion.canConvert(have));
            KilnArgumentException.check(ok, "input '" + in.name() + "' is " + want.name().toLowerCase() + ", but data "
                    + src.name() + " is " + have.name().toLowerCase() + (have == want ? " and a scale/offset ("
                    + conv + ") was asked for" : "") + "; only conversions to float32 or float16 are done");
        }
    }
}
