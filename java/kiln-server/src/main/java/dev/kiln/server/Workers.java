package dev.kiln.server;

import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The bounded worker pool: N CPU worker threads taking jobs from one FIFO queue, and one thread per GPU slot taking
 * the jobs that build TensorRT engines from another, each bound to its GPU, so that at most one engine is built per
 * GPU at a time and a long engine build never holds up the CPU jobs (nor they it). Without GPU slots, engine jobs go
 * to the CPU queue: there they write what {@code --format tensorrt} writes without a GPU (the ONNX and a trtexec plan).
 * The database is the truth; the queues only order the work in this process and are rebuilt from it at start. Each
 * running job has a cancel flag that its pipeline checks at every step. Zero CPU workers is allowed: the server then
 * accepts and queues jobs, and runs none (a paused node, GPU slots included).
 */
final class Workers implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(Workers.class.getName());

    /** Runs one job; {@code gpu} is the GPU it may build engines on, -1 for a CPU worker. */
    interface Runner {
        /** Returns the ids of jobs that must now run (followers promoted when this one did not finish). */
        List<String> run(String id, int gpu, BooleanSupplier cancelled, BooleanSupplier shuttingDown);
    }

    private final LinkedBlockingQueue<String> cpuQueue = new LinkedBlockingQueue<>();
    private final LinkedBlockingQueue<String> gpuQueue = new LinkedBlockingQueue<>();
    private final Set<String> queued = ConcurrentHashMap.newKeySet();
    private final Map<String, AtomicBoolean> running = new ConcurrentHashMap<>();
    private final Thread[] cpuThreads;
    private final Thread[] gpuThreads;
    private final Predicate<String> buildsEngine;
    private final Runner runner;
    private volatile boolean stopping;

    /**
     * {@code cpu} workers and {@code gpuSlots} GPU slots (0 when no GPU was found); {@code buildsEngine} tells a job
     * that builds TensorRT engines (it goes to a GPU slot when there is one) from one that does not.
     */
    Workers(int cpu, int gpuSlots, Predicate<String> buildsEngine, Runner runner) {
        this.runner = runner;
        this.buildsEngine = buildsEngine;
        this.cpuThreads = new Thread[cpu];
        for (int i = 0; i < cpu; i++) {
            cpuThreads[i] = thread(() -> loop(cpuQueue, -1), "kiln-worker-" + i);
        }
        this.gpuThreads = new Thread[cpu == 0 ? 0 : gpuSlots];
        for (int g = 0; g < gpuThreads.length; g++) {
            int gpu = g;
            gpuThreads[g] = thread(() -> loop(gpuQueue, gpu), "kiln-gpu-" + g);
        }
    }

    private static Thread thread(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    void start() {
        for (Thread t : cpuThreads) {
            t.start();
        }
        for (Thread t : gpuThreads) {
            t.start();
        }
    }

    /** CPU worker threads. */
    int size() {
        return cpuThreads.length;
    }

    /** GPU slots: engine builds that may run at once, one per GPU. */
    int gpuSlots() {
        return gpuThreads.length;
    }

    void enqueue(String id) {
        if (queued.add(id)) {
            (gpuThreads.length > 0 && buildsEngine.test(id) ? gpuQueue : cpuQueue).add(id);
        }
    }

    /** Jobs waiting in this process (those cancelled while queued drop out when a worker reaches them). */
    int queueLength() {
        return queued.size();
    }

    /** Jobs running now. */
    int runningCount() {
        return running.size();
    }

    /** Asks the running job {@code id} to stop at its next step; false when it is not running here. */
    boolean cancelRunning(String id) {
        AtomicBoolean flag = running.get(id);
        if (flag == null) {
            return false;
        }
        flag.set(true);
        return true;
    }

    /** Forgets a job cancelled while queued. */
    void dequeue(String id) {
        if (queued.remove(id)) {
            cpuQueue.remove(id);
            gpuQueue.remove(id);
        }
    }

    private void loop(LinkedBlockingQueue<String> queue, int gpu) {
        while (!stopping) {
            String id;
            try {
                id = queue.poll(200, TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                return;
            }
            if (id == null) {
                continue;
            }
            AtomicBoolean flag = new AtomicBoolean();
            running.put(id, flag);
            queued.remove(id);
            try {
                runner.run(id, gpu, flag::get, () -> stopping).forEach(this::enqueue);
            } catch (RuntimeException e) {
                LOG.log(Level.SEVERE, "worker error on job " + id, e);
            } finally {
                running.remove(id);
            }
        }
    }

    /**
     * Stops taking jobs and waits up to {@code waitMillis} for the running ones. A job still running when the
     * process exits stays 'running' in the database and is re-queued at the next start.
     */
    void stop(long waitMillis) {
        stopping = true;
        long deadline = System.currentTimeMillis() + waitMillis;
        for (Thread[] threads : new Thread[][] {cpuThreads, gpuThreads}) {
            for (Thread t : threads) {
                try {
                    t.join(Math.max(1, deadline - System.currentTimeMillis()));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    @Override
    public void close() {
        stop(30_000);
    }
}
