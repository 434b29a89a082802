package dev.kiln;

import dev.kiln.data.NpyFile;
import dev.kiln.graph.Shape;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Absurd declared sizes are refused before anything is allocated, with the limit named. */
class LimitsTest {
    @TempDir
    Path tmp;

    @Test
    void aTensorOf2To40ElementsIsRefusedNamingTheLimit() {
        KilnException e = assertThrows(KilnException.class,
                () -> Limits.tensorBytes("tensor 'w'", Shape.of(1L << 40), 4));
        assertEquals(ErrorCode.RESOURCE_LIMIT, e.code());
        assertTrue(e.getMessage().contains("tensor 'w'") && e.getMessage().contains("2 GiB"), e.getMessage());
    }

    @Test
    void anOverflowingShapeIsRefusedNotWrappedAround() {
        KilnException e = assertThrows(KilnException.class,
                () -> Limits.tensorBytes("t", Shape.of(1L << 40, 1L << 40, 1L << 40), 4));
        assertEquals(ErrorCode.RESOURCE_LIMIT, e.code());
        assertTrue(e.getMessage().contains("more than 2^63"), e.getMessage());
    }

    @Test
    void aTensorLargerThanTheHeapIsRefusedSuggestingXmx() {
        long heap = Runtime.getRuntime().maxMemory();
        if (heap >= Limits.MAX_TENSOR_BYTES) {
            return; // this JVM's heap is above the per-tensor limit, tested above
        }
        KilnException e = assertThrows(KilnException.class,
                () -> Limits.tensorBytes("t", Shape.of(heap / 4 + 1), 4));
        assertTrue(e.getMessage().contains("-Xmx"), e.getMessage());
    }

    @Test
    void ordinarySizesPass() {
        assertEquals(4L * 3 * 5, Limits.tensorBytes("t", Shape.of(3, 5), 4));
        assertEquals(0, Limits.tensorBytes("t", Shape.of(0, 1L << 62), 4));
    }

    @Test
    void aMillionNodesIsOverTheDefaultLimitWhichAPropertyRaises() {
        KilnException e = assertThrows(KilnException.class, () -> Limits.checkNodes("model.pb", 1_000_000));
        assertEquals(ErrorCode.RESOURCE_LIMIT, e.code());
        assertTrue(e.getMessage().contains("model.pb") && e.getMessage().contains("500000")
                && e.getMessage().contains("-Dkiln.maxNodes"), e.getMessage());
        System.setProperty(Limits.MAX_NODES_PROPERTY, "2000000");
        try {
            Limits.checkNodes("model.pb", 1_000_000);
        } finally {
            System.clearProperty(Limits.MAX_NODES_PROPERTY);
        }
    }

    @Test
    void anNpyHeaderWithAHugeShapeIsRefusedBeforeReadingData() throws Exception {
        for (String shape : new String[] {"(10, 1099511627776)", "(4611686018427387904, 4611686018427387904)"}) {
            Path f = npy(tmp.resolve("huge.npy"), "<f4", shape);
            KilnException e = assertThrows(KilnException.class, () -> NpyFile.open(f).close());
            assertTrue(e.getMessage().contains("huge.npy") && (e.getMessage().contains("2 GiB")
                    || e.getMessage().contains("2^63")), e.getMessage());
        }
    }

    /** A .npy file with just a header (no data). */
    private static Path npy(Path f, String descr, String shape) throws Exception {
        String dict = "{'descr': '" + descr + "', 'fortran_order': False, 'shape': " + shape + ", }";
        int len = 10 + dict.length() + 1;
        StringBuilder h = new StringBuilder(dict);
        while ((len + (h.length() - dict.length())) % 64 != 0) {
            h.append(' ');
        }
        h.append('\n');
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(new byte[] {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0});
        out.write(h.length() & 0xff);
        out.write(h.length() >> 8);
        out.write(h.toString().getBytes(StandardCharsets.US_ASCII));
        return Files.write(f, out.toByteArray());
    }
}
