package dev.kiln.kernels;

import dev.kiln.ErrorCode;
import dev.kiln.KilnException;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class KernelBackendsTest {

    @Test
    void javaIsAlwaysAvailableAndLast() {
        var names = KernelBackends.availableNames();
        assertTrue(names.contains("java"));
        assertEquals("java", names.get(names.size() - 1));
        assertEquals("java", KernelBackends.get("java").name());
        assertTrue(KernelBackends.probes().get("java").available());
    }

    @Test
    void automaticSelectionPicksTheBestAvailable() {
        if (KernelBackends.requested() == null) {
            assertEquals(KernelBackends.availableNames().get(0), KernelBackends.get().name());
        }
    }

    @Test
    void anUnknownForcedBackendIsAnError() {
        KilnException e = assertThrows(KilnException.class, () -> KernelBackends.get("tpu"));
        assertEquals(ErrorCode.UNAVAILABLE, e.code());
        assertTrue(e.getMessage().contains("tpu"));
    }

    @Test
    void anUnavailableForcedBackendIsAnErrorWithTheProbeReason() {
        KernelBackends.probes().forEach((name, probe) -> {
            if (!probe.available()) {
                KilnException e = assertThrows(KilnException.class, () -> KernelBackends.get(name));
                assertEquals(ErrorCode.UNAVAILABLE, e.code());
                assertTrue(e.getMessage().contains(probe.reason()), e.getMessage());
            }
        });
    }

    @Test
    void theReportListsEveryProbe() {
        String report = KernelBackends.report();
        KernelBackends.probes().keySet().forEach(n -> assertTrue(report.contains(n), report));
        assertTrue(report.contains("chosen"));
    }

    @Test
    void axisViewSplitsTheShape() {
        assertEquals(new AxisView(6, 4, 5), AxisView.of(new long[] {2, 3, 4, 5}, 2));
        assertEquals(new AxisView(24, 5, 1), AxisView.of(new long[] {2, 3, 4, 5}, -1));
        assertEquals(new AxisView(1, 2, 60), AxisView.of(new long[] {2, 3, 4, 5}, 0));
    }
}
