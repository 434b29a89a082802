package dev.kiln.data;

import dev.kiln.KilnException;
import dev.kiln.graph.DType;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class NpzFileTest {
    @TempDir
    Path dir;

    private Path archive(boolean deflate) throws IOException {
        Map<String, Tensor> arrays = new LinkedHashMap<>();
        arrays.put("x", Tensor.ofFloats(Shape.of(17, 3), TestData.iota(51)));
        byte[] u8 = new byte[17];
        for (int i = 0; i < u8.length; i++) {
            u8[i] = (byte) (i * 15);
        }
        arrays.put("labels", Tensor.ofBytes(DType.UINT8, Shape.of(17), u8));
        Path p = dir.resolve(deflate ? "deflated.npz" : "stored.npz");
        TestData.npz(p, arrays, deflate);
        return p;
    }

    @Test
    void listsArraysWithoutTheNpySuffix() throws IOException {
        try (NpzFile f = NpzFile.open(archive(false))) {
            assertEquals(List.of("x", "labels"), f.names());
            assertEquals(Shape.of(17, 3), f.header("x").shape());
            assertEquals(DType.UINT8, f.header("labels").dtype());
        }
    }

    @Test
    void storedAndDeflatedEntriesStreamInEveryBatchSize() throws IOException {
        for (boolean deflate : new boolean[] {false, true}) {
            Path p = archive(deflate);
            for (int batch : new int[] {1, 4, 16, 17, 50}) {
                List<Float> all = new ArrayList<>();
                try (NpzFile f = NpzFile.open(p); NpzFile.Reader r = f.open("x")) {
                    for (long done = 0; done < 17; done += batch) {
                        int n = (int) Math.min(batch, 17 - done);
                        for (float v : r.read(n).floats()) {
                            all.add(v);
                        }
                    }
                }
                float[] got = new float[all.size()];
                for (int i = 0; i < got.length; i++) {
                    got[i] = all.get(i);
                }
                assertArrayEquals(TestData.iota(51), got, (deflate ? "deflated" : "stored") + ", batch " + batch);
            }
        }
    }

    @Test
    void skippingForwardReadsTheRightSamples() throws IOException {
        for (boolean deflate : new boolean[] {false, true}) {
            ArraySource s = ArraySource.npz(archive(deflate), "labels").slice(5, 4);
            assertEquals(4, s.sampleCount());
            try (SampleReader r = s.open()) {
                assertArrayEquals(new long[] {75, 90, 105, 120}, r.read(4).asLongs());
            }
        }
    }

    @Test
    void unknownArrayNamesTheOnesThere() throws IOException {
        Path p = archive(true);
        try (NpzFile f = NpzFile.open(p)) {
            KilnException e = assertThrows(KilnException.class, () -> f.open("y"));
            assertTrue(e.getMessage().contains("has no array 'y'; it has [x, labels]"), e.getMessage());
        }
    }

    @Test
    void truncatedEntryIsAnErrorNamingArchiveAndArray() throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.write(NpyWriter.header("<f4", false, new long[] {10, 2}, 0));
        b.write(NpyFileTest.floats(1, 2, 3));
        for (boolean deflate : new boolean[] {false, true}) {
            Path p = dir.resolve("cut" + deflate + ".npz");
            TestData.zipRaw(p, "x.npy", b.toByteArray(), deflate);
            try (NpzFile f = NpzFile.open(p)) {
                KilnException e = assertThrows(KilnException.class, () -> f.open("x"));
                assertTrue(e.getMessage().contains("cut" + deflate + ".npz:x: truncated"), e.getMessage());
            }
        }
    }

    @Test
    void notAZipIsAnError() throws IOException {
        Path p = dir.resolve("fake.npz");
        NpyWriter.write(p, TestData.iota(3), 3);
        KilnException e = assertThrows(KilnException.class, () -> NpzFile.open(p));
        assertTrue(e.getMessage().contains("fake.npz") && e.getMessage().contains("zip"), e.getMessage());
    }
}
