package dev.kiln.sparse;

import dev.kiln.KilnArgumentException;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The {@code --prune} spelling shared by {@code kiln optimize} and the server's {@code prune} option. */
class PruningPatternParseTest {
    @Test
    void everySpellingParsesToItsPattern() {
        assertEquals(PruningPattern.unstructured(0.5), PruningPattern.parse("0.5"));
        assertEquals(PruningPattern.unstructuredGlobal(0.7), PruningPattern.parse(" GLOBAL:0.7 "));
        assertEquals(PruningPattern.twoFour(), PruningPattern.parse("2:4"));
        assertEquals(PruningPattern.block(4, 0.5), PruningPattern.parse("4x4:0.5"));
    }

    @Test
    void badSpellingsAreNamed() {
        for (String bad : new String[] {"half", "2:x", "3x4:0.5", "4x4", "1.5", "5:4", "2:4:8"}) {
            KilnArgumentException e = assertThrows(KilnArgumentException.class, () -> PruningPattern.parse(bad), bad);
            assertTrue(e.getMessage().contains(bad.trim()) || e.getMessage().contains("sparsity")
                    || e.getMessage().contains("N:M"), bad + " -> " + e.getMessage());
        }
    }
}
