package dev.kiln.data;

import dev.kiln.KilnArgumentException;
import dev.kiln.graph.Tensor;

import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;

/**
 * Batches given through the API. Passed on as given unless a batch size or a range is set; then they are re-cut
 * along axis 0 (every input of one given batch must have the same number of samples).
 *
 * @param batchSize -1: as given
 * @param count     -1: to the end
 */
record IterableData(Iterable<Map<String, Tensor>> batches, String label, int batchSize, long start, long count)
        implements RepresentativeData {

    IterableData {
        KilnArgumentException.check(batches != null, "batches must not be null");
    }

    @Override
    public Batches iterator() {
        Iterator<Map<String, Tensor>> it = batches.iterator();
        if (batchSize < 0 && start == 0 && count < 0) {
            return new Batches() {
                @Override
                public boolean hasNext() {
                    return it.hasNext();
                }

                @Override
                public Map<String, Tensor> next() {
                    return it.next();
                }

                @Override
                public void close() {
                    closeIfPossible(it);
                }
            };
        }
        return new Recut(it);
    }

    @Override
    public RepresentativeData withBatchSize(int n) {
        KilnArgumentException.check(n > 0, "batch size must be >= 1, got " + n);
        return new IterableData(batches, label, n, start, count);
    }

    @Override
    public long sampleCount() {
        return count;
    }

    @Override
    public RepresentativeData slice(long s, long c) {
        KilnArgumentException.check(s >= 0 && c > 0 && (count < 0 || s + c <= count), label + ": range of " + c
                + " samples from " + s + " is outside its " + (count < 0 ? "" : count + " ") + "samples");
        return new IterableData(batches, label, batchSize, start + s, c);
    }

    @Override
    public String description() {
        return content() + (batchSize < 0 ? ", batches as given" : ", in batches of " + batchSize);
    }

    @Override
    public String content() {
        return label + (start > 0 || count >= 0 ? ", samples " + start + ".." + (count < 0 ? "end"
                : Long.toString(start + count - 1)) : "");
    }

    @Override
    public List<String> notes() {
        return List.of();
    }

    @Override
    public boolean isRandom() {
        return false;
    }

    private static void closeIfPossible(Object o) {
        if (o instanceof AutoCloseable c) {
            try {
                c.close();
            } catch (Exception ignored) {
                // the caller's iterator; nothing of ours to release
            }
        }
    }

    /** Re-cuts the given batches into batches of {@code batchSize} over the range. */
    private final class Recut implements Batches {
        private final Iterator<Map<String, Tensor>> it;
        private Map<String, Tensor> pending; // the given batch being consumed
        private long pendingSize;
        private long pendingOffset;
        private long position; // samples of the whole stream consumed so far
        private boolean skipped;

        Recut(Iterator<Map<String, Tensor>> it) {
            this.it = it;
        }

        private long end() {
            return count < 0 ? Long.MAX_VALUE : start + count;
        }

        /** Makes {@code pending} hold unread samples, or returns false at the end. */
        private boolean fill() {
            while (pending == null || pendingOffset == pendingSize) {
                if (!it.hasNext()) {
                    return false;
                }
                pending = it.next();
                pendingOffset = 0;
                pendingSize = -1;
                for (Map.Entry<String, Tensor> e : pending.entrySet()) {
                    long n = Batching.samples(e.getValue(), label + " input '" + e.getKey() + "'");
                    KilnArgumentException.check(pendingSize < 0 || pendingSize == n, label
                            + ": inputs of one batch have different batch sizes (" + pending + ")");
                    pendingSize = n;
                }
                pendingSize = Math.max(pendingSize, 0);
            }
            return true;
        }

        private void skipToStart() {
            while (!skipped && position < start && fill()) {
                long take = Math.min(pendingSize - pendingOffset, start - position);
                pendingOffset += take;
                position += take;
            }
            skipped = true;
        }

        @Override
        public boolean hasNext() {
            skipToStart();
            return position < end() && fill();
        }

        @Override
        public Map<String, Tensor> next() {
            if (!hasNext()) {
                throw new NoSuchElementException();
            }
            long want = Math.min(batchSize < 0 ? Long.MAX_VALUE : batchSize, end() - position);
            Map<String, List<Tensor>> parts = new LinkedHashMap<>();
            long got = 0;
            while (got < want && fill()) {
                int take = (int) Math.min(pendingSize - pendingOffset, want - got);
                for (Map.Entry<String, Tensor> e : pending.entrySet()) {
                    parts.computeIfAbsent(e.getKey(), k -> new ArrayList<>())
                            .add(Batching.slice(e.getValue(), pendingOffset, take));
                }
                pendingOffset += take;
                got += take;
                if (batchSize < 0) {
                    break; // as given, only clipped to the range
                }
            }
            position += got;
            Map<String, Tensor> out = new LinkedHashMap<>();
            parts.forEach((k, v) -> out.put(k, Batching.concat(v, label + " input '" + k + "'")));
            return out;
        }

        @Override
        public void close() {
            closeIfPossible(it);
        }
    }
}
