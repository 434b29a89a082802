package dev.kiln.server;

import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * N worker threads taking job ids from a FIFO queue (the database is the truth; the queue only orders the work in
 * this process and is rebuilt from it at start). Each running job has a cancel flag that its pipeline checks at every
 * step. Zero workers is allowed: the server then accepts and queues jobs, and runs none (a paused node).
 */
final class Workers implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(Workers.class.getName());

    private final LinkedBlockingQueue<String> queue = new LinkedBlockingQueue<>();
    private final Set<String> queued = ConcurrentHashMap.newKeySet();
    private final Map<String, AtomicBoolean> running = new ConcurrentHashMap<>();
    private final Thread[] threads;
    private final JobRunner runner;
    private volatile boolean stopping;

    Workers(int n, JobRunner runner) {
        this.runner = runner;
        this.threads = new Thread[n];
        for (int i = 0; i < n; i++) {
            threads[i] = new Thread(this::loop, "kiln-worker-" + i);
            threads[i].setDaemon(true);
        }
    }

    void start() {
        for (Thread t : threads) {
            t.start();
        }
    }

    int size() {
        return threads.length;
    }

    void enqueue(String id) {
        if (queued.add(id)) {
            queue.add(id);
        }
    }

    /** Jobs waiting in this process (those cancelled while queued drop out when a worker reaches them). */
    int queueLength() {
        return queued.size();
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
            queue.remove(id);
        }
    }

    private void loop() {
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
                runner.run(id, flag::get, () -> stopping);
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
        for (Thread t : threads) {
            try {
                t.join(Math.max(1, deadline - System.currentTimeMillis()));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    @Override
    public void close() {
        stop(30_000);
    }
}
