package dev.kiln.server;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The scheduler with two fake GPU slots and jobs that block until released: at most one engine build per GPU at a
 * time (and both GPUs used), CPU jobs run to the end while every GPU slot is held, and without GPU slots engine jobs
 * run on the CPU workers.
 */
class WorkersSchedulingTest {

    /** A runner whose jobs record where they ran and block until their latch opens. */
    private static final class BlockingRunner implements Workers.Runner {
        final Map<String, CountDownLatch> release = new ConcurrentHashMap<>();
        final Map<Integer, AtomicInteger> perGpu = new ConcurrentHashMap<>();
        final AtomicInteger maxOnOneGpu = new AtomicInteger();
        final Set<Integer> gpusUsed = ConcurrentHashMap.newKeySet();
        final Map<String, Integer> ranOn = new ConcurrentHashMap<>();
        final Set<String> finished = ConcurrentHashMap.newKeySet();
        final AtomicInteger engineJobsRunning = new AtomicInteger();
        final AtomicInteger maxEngineJobsRunning = new AtomicInteger();

        @Override
        public List<String> run(String id, int gpu, java.util.function.BooleanSupplier cancelled,
                                java.util.function.BooleanSupplier shuttingDown) {
            ranOn.put(id, gpu);
            boolean engine = id.startsWith("trt");
            if (engine) {
                maxEngineJobsRunning.accumulateAndGet(engineJobsRunning.incrementAndGet(), Math::max);
            }
            if (gpu >= 0) {
                gpusUsed.add(gpu);
                int now = perGpu.computeIfAbsent(gpu, g -> new AtomicInteger()).incrementAndGet();
                maxOnOneGpu.accumulateAndGet(now, Math::max);
            }
            try {
                release.computeIfAbsent(id, k -> new CountDownLatch(1)).await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                if (gpu >= 0) {
                    perGpu.get(gpu).decrementAndGet();
                }
                if (engine) {
                    engineJobsRunning.decrementAndGet();
                }
                finished.add(id);
            }
            return List.of();
        }

        void release(String id) {
            release.computeIfAbsent(id, k -> new CountDownLatch(1)).countDown();
        }
    }

    private static void await(String what, java.util.function.BooleanSupplier condition) throws InterruptedException {
        long deadline = System.currentTimeMillis() + 20_000;
        while (!condition.getAsBoolean()) {
            assertTrue(System.currentTimeMillis() < deadline, "timed out waiting for " + what);
            Thread.sleep(10);
        }
    }

    @Test
    void oneEngineBuildPerGpuAndCpuJobsAreNotStarved() throws Exception {
        BlockingRunner r = new BlockingRunner();
        List<String> engineJobs = List.of("trt-0", "trt-1", "trt-2", "trt-3", "trt-4");
        try (Workers w = new Workers(2, 2, id -> id.startsWith("trt"), r)) {
            w.start();
            engineJobs.forEach(w::enqueue);
            await("both GPU slots busy", () -> r.gpusUsed.size() == 2);
            // every GPU slot is held by a blocked build: CPU jobs still run, two at a time, to the end
            List<String> cpuJobs = new ArrayList<>();
            for (int i = 0; i < 6; i++) {
                cpuJobs.add("cpu-" + i);
                r.release("cpu-" + i);
                w.enqueue("cpu-" + i);
            }
            await("the CPU jobs", () -> r.finished.containsAll(cpuJobs));
            assertEquals(2, r.engineJobsRunning.get(), "only two engine builds run while the two GPUs are busy");
            assertEquals(3, w.queueLength(), "the other engine jobs wait for a GPU, not for a CPU worker");
            for (String id : engineJobs) {
                r.release(id);
            }
            await("the engine jobs", () -> r.finished.containsAll(engineJobs));
        }
        assertEquals(1, r.maxOnOneGpu.get(), "never two builds on one GPU");
        assertEquals(2, r.maxEngineJobsRunning.get());
        assertEquals(Set.of(0, 1), r.gpusUsed);
        for (String id : engineJobs) {
            assertTrue(r.ranOn.get(id) >= 0, id + " ran on a GPU slot");
        }
        for (int i = 0; i < 6; i++) {
            assertEquals(-1, r.ranOn.get("cpu-" + i), "CPU jobs run on CPU workers");
        }
    }

    @Test
    void withoutGpuSlotsEngineJobsRunOnTheCpuWorkers() throws Exception {
        BlockingRunner r = new BlockingRunner();
        try (Workers w = new Workers(2, 0, id -> id.startsWith("trt"), r)) {
            w.start();
            r.release("trt-a");
            r.release("cpu-a");
            w.enqueue("trt-a");
            w.enqueue("cpu-a");
            await("both jobs", () -> r.finished.containsAll(List.of("trt-a", "cpu-a")));
            assertEquals(0, w.gpuSlots());
        }
        assertEquals(-1, r.ranOn.get("trt-a"));
        assertTrue(r.gpusUsed.isEmpty());
    }

    @Test
    void zeroCpuWorkersPauseTheGpuSlotsToo() throws Exception {
        BlockingRunner r = new BlockingRunner();
        try (Workers w = new Workers(0, 2, id -> true, r)) {
            w.start();
            w.enqueue("trt-a");
            Thread.sleep(500);
            assertTrue(r.ranOn.isEmpty(), "a paused node runs nothing");
            assertEquals(1, w.queueLength());
        }
    }
}
