package dev.kiln.kernels;

import dev.kiln.ErrorCode;
import dev.kiln.KilnException;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * How the Java backend spreads a large array over threads, the same way as the native library (kilnThreads.h):
 * the array is cut into fixed chunks of {@link #CHUNK} units whose boundaries depend only on its length, worker
 * {@code w} of {@code W} takes the contiguous chunks {@code [w * nbChunks / W, (w + 1) * nbChunks / W)}, and the
 * partial results are merged in worker order by the caller. The kernels threaded this way are exact in any order
 * (integer counts, min/max, elementwise float operations), so the result is the same for every thread count.
 *
 * <p>Worker 0 runs on the calling thread, the others on a shared pool of daemon threads (cached: it grows to what
 * is asked and idle threads end after a minute).
 */
final class Parallel {
    /** Units (elements) per chunk: 256 Ki float32 = 1 MiB; kChunkElements of kilnThreads.h. */
    static final int CHUNK = 1 << 18;
    /** Arrays shorter than this run on the calling thread; kParallelThreshold of kilnThreads.h. */
    static final int THRESHOLD = 1 << 20;

    private static final AtomicInteger THREAD_NUMBER = new AtomicInteger();
    private static final ThreadFactory FACTORY = r -> {
        Thread t = new Thread(r, "kiln-kernels-" + THREAD_NUMBER.incrementAndGet());
        t.setDaemon(true);
        return t;
    };
    private static final ExecutorService POOL = Executors.newCachedThreadPool(FACTORY);

    private Parallel() {
    }

    /** The work of one worker on units {@code [from, to)}. */
    @FunctionalInterface
    interface RangeTask {
        void run(int worker, int from, int to);
    }

    /** Number of chunks of {@code unitsPerChunk} over {@code nbUnits} units. */
    static int chunkCount(int nbUnits, int unitsPerChunk) {
        return (int) (((long) nbUnits + unitsPerChunk - 1) / unitsPerChunk);
    }

    /** Workers for {@code nbElements} elements in {@code nbChunks} chunks: 1 below the threshold. */
    static int workers(long nbElements, int nbChunks) {
        if (nbElements < THRESHOLD || nbChunks < 2) {
            return 1;
        }
        return Math.min(KernelBackends.threads(), nbChunks);
    }

    /**
     * Runs {@code task} over the unit range of each of {@code nbWorkers} workers and returns when all are done; the
     * first failure (in worker order) is rethrown then.
     */
    static void forWorkerRanges(int nbWorkers, int nbUnits, int unitsPerChunk, RangeTask task) {
        if (nbWorkers <= 1) {
            task.run(0, 0, nbUnits);
            return;
        }
        final long nbChunks = chunkCount(nbUnits, unitsPerChunk);
        List<Future<?>> futures = new ArrayList<>(nbWorkers - 1);
        for (int w = 1; w < nbWorkers; w++) {
            final int worker = w;
            futures.add(POOL.submit(() -> runWorker(task, worker, nbWorkers, nbChunks, nbUnits, unitsPerChunk)));
        }
        Throwable failure = null;
        try {
            runWorker(task, 0, nbWorkers, nbChunks, nbUnits, unitsPerChunk);
        } catch (RuntimeException | Error e) {
            failure = e;
        }
        // Wait for every worker even when interrupted: they write into the caller's arrays.
        boolean interrupted = false;
        for (Future<?> f : futures) {
            while (true) {
                try {
                    f.get();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                } catch (ExecutionException e) {
                    if (failure == null) {
                        failure = e.getCause();
                    }
                    break;
                }
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
        if (failure instanceof RuntimeException re) {
            throw re;
        }
        if (failure instanceof Error err) {
            throw err;
        }
        if (failure != null) {
            throw new KilnException(ErrorCode.INTERNAL, "kernel worker failed: " + failure, failure);
        }
    }

    private static void runWorker(RangeTask task, int w, int nbWorkers, long nbChunks, int nbUnits,
                                  int unitsPerChunk) {
        long c0 = nbChunks * w / nbWorkers;
        long c1 = nbChunks * (w + 1) / nbWorkers;
        task.run(w, (int) Math.min(nbUnits, c0 * unitsPerChunk), (int) Math.min(nbUnits, c1 * unitsPerChunk));
    }
}
