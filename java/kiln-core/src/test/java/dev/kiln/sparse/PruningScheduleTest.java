package dev.kiln.sparse;

import dev.kiln.KilnArgumentException;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Values worked out by hand from TFMOT's formulas (see {@link PruningSchedule}). */
class PruningScheduleTest {

    @Test
    void constantSparsityWithoutEndPrunesEveryFrequencyStepsFromBegin() {
        PruningSchedule s = PruningSchedule.constant(0.5, 100);
        assertFalse(s.shouldPrune(0));
        assertFalse(s.shouldPrune(99));
        assertTrue(s.shouldPrune(100));
        assertFalse(s.shouldPrune(150));
        assertTrue(s.shouldPrune(200));
        assertTrue(s.shouldPrune(1_000_000));
        assertEquals(0.5, s.sparsity(0));
        assertEquals(0.5, s.sparsity(12345));
    }

    @Test
    void constantSparsityWithEndStopsAfterTheEndStepInclusive() {
        PruningSchedule s = PruningSchedule.constant(0.75, 0, 1000, 100);
        assertTrue(s.shouldPrune(0));
        assertTrue(s.shouldPrune(1000));
        assertFalse(s.shouldPrune(1100));
        assertFalse(s.shouldPrune(1001));
    }

    @Test
    void polynomialDecayFollowsTheCubicFromInitialToFinal() {
        PruningSchedule s = PruningSchedule.polynomialDecay(0.2, 0.8, 0, 1000);
        assertEquals(0.2, s.sparsity(0), 1e-12);            // p = 0: initial
        assertEquals(0.546875, s.sparsity(250), 1e-12);     // 0.8 - 0.6 * 0.75^3
        assertEquals(0.725, s.sparsity(500), 1e-12);        // 0.8 - 0.6 * 0.5^3
        assertEquals(0.8 - 0.6 * 0.001, s.sparsity(900), 1e-12); // 0.1^3
        assertEquals(0.8, s.sparsity(1000), 1e-12);         // p = 1: final
        assertEquals(0.8, s.sparsity(5000), 1e-12);         // p clamped to 1
        assertEquals(0.2, s.sparsity(-50), 1e-12);          // p clamped to 0
        assertTrue(s.shouldPrune(0));
        assertTrue(s.shouldPrune(900));
        assertFalse(s.shouldPrune(950));
        assertTrue(s.shouldPrune(1000));
        assertFalse(s.shouldPrune(1100));
    }

    @Test
    void polynomialDecayWithBeginPowerAndFrequency() {
        PruningSchedule s = PruningSchedule.polynomialDecay(0.0, 0.5, 100, 300, 2, 50);
        assertEquals(0.0, s.sparsity(100), 1e-12);
        assertEquals(0.21875, s.sparsity(150), 1e-12);      // 0.5 - 0.5 * 0.75^2
        assertEquals(0.375, s.sparsity(200), 1e-12);        // 0.5 - 0.5 * 0.5^2
        assertEquals(0.5, s.sparsity(300), 1e-12);
        assertFalse(s.shouldPrune(50));
        assertTrue(s.shouldPrune(100));
        assertTrue(s.shouldPrune(150));
        assertFalse(s.shouldPrune(175));
        assertTrue(s.shouldPrune(300));
        assertFalse(s.shouldPrune(350));
    }

    @Test
    void invalidParametersAreRejectedAsTfmotDoes() {
        assertThrows(KilnArgumentException.class, () -> PruningSchedule.constant(0.5, -1));
        assertThrows(KilnArgumentException.class, () -> PruningSchedule.constant(1.0, 0));
        assertThrows(KilnArgumentException.class, () -> PruningSchedule.constant(-0.1, 0));
        assertThrows(KilnArgumentException.class, () -> PruningSchedule.constant(0.5, 100, 50, 100));
        assertThrows(KilnArgumentException.class, () -> PruningSchedule.constant(0.5, 0, -2, 100));
        assertThrows(KilnArgumentException.class, () -> PruningSchedule.constant(0.5, 0, -1, 0));
        assertThrows(KilnArgumentException.class, () -> PruningSchedule.polynomialDecay(0, 0.5, 0, -1));
        assertThrows(KilnArgumentException.class, () -> PruningSchedule.polynomialDecay(0, 0.5, 10, 10));
        KilnArgumentException e = assertThrows(KilnArgumentException.class,
                () -> PruningSchedule.polynomialDecay(0, 1.0, 0, 100));
        assertTrue(e.getMessage().contains("finalSparsity"), e.getMessage());
    }
}
