package dev.kiln.server;

import dev.kiln.pipeline.OptimizeJob;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.logging.Logger;

/**
 * The retention limit on outputs: done jobs' outputs older than {@code maxAge}, then the oldest until the rest fit in
 * {@code maxBytes}, are removed. The job rows stay (with {@code expired_ms}), so a client polling an old job learns
 * that its outputs are gone (410) instead of that it never existed; an identical submission then runs again.
 */
final class Retention {
    private static final Logger LOG = Logger.getLogger(Retention.class.getName());

    private final JobStore store;
    private final DataDir dirs;
    private final Duration maxAge;
    private final long maxBytes;

    /** {@code maxAge} null: no age limit; {@code maxBytes} 0: no size limit. */
    Retention(JobStore store, DataDir dirs, Duration maxAge, long maxBytes) {
        this.store = store;
        this.dirs = dirs;
        this.maxAge = maxAge;
        this.maxBytes = maxBytes;
    }

    boolean enabled() {
        return maxAge != null || maxBytes > 0;
    }

    /** Removes what is over the limits at {@code now}; returns the result directories removed. */
    List<String> sweep(long now) {
        List<String> removed = new ArrayList<>();
        List<Job> kept = new ArrayList<>();
        for (Job j : store.withOutputs()) {
            if (maxAge != null && j.finishedMs() != null && j.finishedMs() < now - maxAge.toMillis()) {
                remove(j, now, removed);
            } else {
                kept.add(j);
            }
        }
        if (maxBytes > 0) {
            long total = 0;
            long[] sizes = new long[kept.size()];
            for (int i = 0; i < kept.size(); i++) {
                sizes[i] = Math.max(0, OptimizeJob.sizeOf(dirs.resolve(kept.get(i).resultDir())));
                total += sizes[i];
            }
            for (int i = 0; i < kept.size() && total > maxBytes; i++) {
                remove(kept.get(i), now, removed);
                total -= sizes[i];
            }
        }
        if (!removed.isEmpty()) {
            LOG.info("retention: removed the outputs " + removed);
        }
        return removed;
    }

    /** The row first: from then on nobody is sent a file of a directory being deleted. */
    private void remove(Job j, long now, List<String> removed) {
        store.expire(j.resultDir(), now);
        DataDir.deleteRecursively(dirs.resolve(j.resultDir()));
        removed.add(j.resultDir());
    }
}
