package dev.kiln.kernels;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The one loading mechanism: each library loaded once per JVM whatever the threads, its probe kept, all listed. */
class NativeLibrariesTest {

    /** A library that counts its loads and fails the way a missing .so does. */
    static final class CountingLibrary implements NativeLibrary<NativeLibraries.Status> {
        final AtomicInteger loads = new AtomicInteger();
        private final String name;

        CountingLibrary(String name) {
            this.name = name;
        }

        @Override
        public String name() {
            return name;
        }

        @Override
        public String purpose() {
            return "test";
        }

        @Override
        public NativeLibraries.Status load() {
            loads.incrementAndGet();
            UnsatisfiedLinkError e = new UnsatisfiedLinkError("no lib" + name + " in java.library.path");
            return new NativeLibraries.Status(false, "lib" + name + ".so not found", e);
        }
    }

    @Test
    void eachLibraryLoadsOnceAcrossThreadsAndKeepsItsFailureWithTheCause() throws Exception {
        CountingLibrary lib = new CountingLibrary("kiln-test-" + System.nanoTime());
        CountDownLatch start = new CountDownLatch(1);
        List<Thread> threads = new ArrayList<>();
        List<NativeLibraries.Status> seen = java.util.Collections.synchronizedList(new ArrayList<>());
        for (int i = 0; i < 8; i++) {
            Thread t = new Thread(() -> {
                try {
                    start.await();
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
                seen.add(NativeLibraries.probe(lib));
            });
            t.start();
            threads.add(t);
        }
        start.countDown();
        for (Thread t : threads) {
            t.join();
        }
        assertEquals(1, lib.loads.get());
        assertEquals(8, seen.size());
        seen.forEach(s -> assertSame(seen.get(0), s));
        dev.kiln.KilnException e = org.junit.jupiter.api.Assertions.assertThrows(dev.kiln.KilnException.class,
                seen.get(0)::require);
        assertEquals(dev.kiln.ErrorCode.UNAVAILABLE, e.code());
        assertTrue(e.getMessage().contains(".so not found"), e.getMessage());
        assertTrue(e.getCause() instanceof UnsatisfiedLinkError);
    }

    @Test
    void allListsKilnsKernelLibrariesWithTheSameProbesTheBackendsUse() {
        var all = NativeLibraries.all();
        assertSame(NativeLibraries.cpu(), all.get(NativeLibraries.CPU));
        assertSame(NativeLibraries.cuda(), all.get(NativeLibraries.CUDA));
        String report = NativeLibraries.report();
        assertTrue(report.contains("  cpu       "), report);
        assertTrue(report.contains("  cuda      "), report);
        // without NVIDIA's driver the CUDA library says so and is never chosen
        if (!NativeLibraries.cuda().available()) {
            assertTrue(report.contains(NativeLibraries.cuda().reason()), report);
        }
    }
}
