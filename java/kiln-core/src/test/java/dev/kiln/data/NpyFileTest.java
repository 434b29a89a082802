package dev.kiln.data;

import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;
import dev.kiln.graph.DType;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class NpyFileTest {
    @TempDir
    Path dir;

    @Test
    void batchesOfEverySizeConcatenateToTheWrittenData() {
        float[] data = TestData.iota(23 * 4 * 3);
        Path p = dir.resolve("a.npy");
        NpyWriter.write(p, data, 23, 4, 3);
        for (int batch : new int[] {1, 2, 5, 7, 22, 23, 100}) {
            List<Float> all = new ArrayList<>();
            try (NpyFile f = NpyFile.open(p)) {
                assertEquals(DType.FLOAT, f.dtype());
                assertEquals(Shape.of(23, 4, 3), f.shape());
                for (long start = 0; start < f.sampleCount(); start += batch) {
                    int n = (int) Math.min(batch, f.sampleCount() - start);
                    Tensor t = f.read(start, n);
                    assertEquals(Shape.of(n, 4, 3), t.shape());
                    for (float v : t.floats()) {
                        all.add(v);
                    }
                }
            }
            float[] got = new float[all.size()];
            for (int i = 0; i < got.length; i++) {
                got[i] = all.get(i);
            }
            assertArrayEquals(data, got, "batch " + batch);
        }
    }

    @Test
    void headerIsPaddedTo64BytesLikeNumpy() throws IOException {
        Path p = dir.resolve("u8.npy");
        NpyWriter.write(p, DType.UINT8, new byte[] {1, 2, (byte) 255, 0}, 2, 2);
        byte[] bytes = Files.readAllBytes(p);
        assertEquals(128 + 4, bytes.length); // a 59-character dict does not fit in 64 bytes with its prefix
        String header = new String(bytes, 10, 118, java.nio.charset.StandardCharsets.ISO_8859_1);
        assertTrue(header.startsWith("{'descr': '|u1', 'fortran_order': False, 'shape': (2, 2), }"), header);
        assertEquals('\n', header.charAt(header.length() - 1));
        try (NpyFile f = NpyFile.open(p)) {
            assertArrayEquals(new long[] {1, 2, 255, 0}, f.read(0, 2).asLongs());
            assertEquals(128, f.header().dataOffset());
        }
    }

    @Test
    void oneDimensionalShapeHasTrailingComma() {
        Path p = dir.resolve("v.npy");
        NpyWriter.write(p, DType.INT8, new byte[] {-1, 2, -3}, 3);
        NpyHeader h = NpyFile.readHeader(p);
        assertEquals(Shape.of(3), h.shape());
        assertEquals(Shape.scalar(), h.sampleShape());
    }

    @Test
    void readsVersion2And3Headers() throws IOException {
        for (int major : new int[] {2, 3}) {
            Path p = dir.resolve("v" + major + ".npy");
            write(p, NpyWriter.header("<f4", false, new long[] {3, 2}, major), floats(1, 2, 3, 4, 5, 6));
            try (NpyFile f = NpyFile.open(p)) {
                assertEquals(major, f.header().majorVersion());
                assertEquals(Shape.of(3, 2), f.shape());
                assertArrayEquals(new float[] {3, 4, 5, 6}, f.read(1, 2).floats());
            }
        }
    }

    @Test
    void readsFloat16AndWidensToFloat32() throws IOException {
        Path p = dir.resolve("h.npy");
        // 1.0, -2.0, 0.5, 65504 (largest half), smallest subnormal 2^-24
        short[] half = {0x3C00, (short) 0xC000, 0x3800, 0x7BFF, 0x0001};
        ByteBuffer b = ByteBuffer.allocate(10).order(ByteOrder.LITTLE_ENDIAN);
        b.asShortBuffer().put(half);
        write(p, NpyWriter.header("<f2", false, new long[] {5}, 0), b.array());
        try (NpyFile f = NpyFile.open(p)) {
            Tensor t = f.read(0, 5);
            assertEquals(DType.HALF, t.dtype());
            assertArrayEquals(new float[] {1f, -2f, 0.5f, 65504f, 0x1p-24f},
                    FloatConversion.identity().apply(t).floats());
        }
    }

    @Test
    void readsIntegerAndDoubleTypes() throws IOException {
        Path i32 = dir.resolve("i4.npy");
        write(i32, NpyWriter.header("<i4", false, new long[] {3}, 0), ints(-5, 0, 7));
        Path i64 = dir.resolve("i8.npy");
        ByteBuffer l = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putLong(-9).putLong(1L << 40);
        write(i64, NpyWriter.header("<i8", false, new long[] {2}, 0), l.array());
        Path f8 = dir.resolve("f8.npy");
        ByteBuffer d = ByteBuffer.allocate(16).order(ByteOrder.LITTLE_ENDIAN).putDouble(0.25).putDouble(-1e10);
        write(f8, NpyWriter.header("<f8", false, new long[] {2}, 0), d.array());
        FloatConversion c = FloatConversion.of(2, 1);
        try (NpyFile a = NpyFile.open(i32); NpyFile b = NpyFile.open(i64); NpyFile e = NpyFile.open(f8)) {
            assertArrayEquals(new float[] {-9, 1, 15}, c.apply(a.read(0, 3)).floats());
            assertArrayEquals(new float[] {-17, (float) (2.0 * (1L << 40) + 1)}, c.apply(b.read(0, 2)).floats());
            assertArrayEquals(new float[] {1.5f, -2e10f}, c.apply(e.read(0, 2)).floats());
        }
    }

    @Test
    void rejectsFortranOrder() throws IOException {
        Path p = dir.resolve("fortran.npy");
        write(p, NpyWriter.header("<f4", true, new long[] {2, 2}, 0), floats(1, 2, 3, 4));
        KilnException e = assertThrows(KilnArgumentException.class, () -> NpyFile.open(p));
        assertTrue(e.getMessage().contains("fortran.npy") && e.getMessage().contains("fortran_order=True"),
                e.getMessage());
    }

    @Test
    void rejectsBigEndian() throws IOException {
        Path p = dir.resolve("big.npy");
        write(p, NpyWriter.header(">f4", false, new long[] {1}, 0), floats(1));
        KilnException e = assertThrows(KilnException.class, () -> NpyFile.open(p));
        assertTrue(e.getMessage().contains("big.npy") && e.getMessage().contains("big-endian dtype '>f4'"),
                e.getMessage());
    }

    @Test
    void rejectsObjectAndUnknownDtypes() throws IOException {
        Path obj = dir.resolve("obj.npy");
        write(obj, NpyWriter.header("|O", false, new long[] {1}, 0), new byte[8]);
        KilnException e = assertThrows(KilnException.class, () -> NpyFile.open(obj));
        assertTrue(e.getMessage().contains("obj.npy") && e.getMessage().contains("object dtype"), e.getMessage());
        Path c = dir.resolve("complex.npy");
        write(c, NpyWriter.header("<c8", false, new long[] {1}, 0), new byte[8]);
        e = assertThrows(KilnException.class, () -> NpyFile.open(c));
        assertTrue(e.getMessage().contains("complex.npy") && e.getMessage().contains("unsupported dtype '<c8'"),
                e.getMessage());
    }

    @Test
    void rejectsTruncatedData() throws IOException {
        Path p = dir.resolve("short.npy");
        write(p, NpyWriter.header("<f4", false, new long[] {4, 2}, 0), floats(1, 2, 3, 4, 5));
        KilnException e = assertThrows(KilnException.class, () -> NpyFile.open(p));
        assertEquals("short.npy", Path.of(e.getMessage().substring(0, e.getMessage().indexOf(':'))).getFileName()
                .toString());
        assertTrue(e.getMessage().contains("truncated: the header says float[4,2] = 32 bytes of data, the file has"
                + " 20"), e.getMessage());
    }

    @Test
    void rejectsTruncatedHeaderAndNonNpyFiles() throws IOException {
        Path p = dir.resolve("cut.npy");
        byte[] h = NpyWriter.header("<f4", false, new long[] {4}, 0);
        Files.write(p, Arrays.copyOf(h, 30));
        KilnException e = assertThrows(KilnException.class, () -> NpyFile.open(p));
        assertTrue(e.getMessage().contains("cut.npy: truncated"), e.getMessage());
        Path txt = dir.resolve("notes.npy");
        Files.writeString(txt, "hello, this is not an array file");
        e = assertThrows(KilnException.class, () -> NpyFile.open(txt));
        assertTrue(e.getMessage().contains("notes.npy: not a NumPy .npy file"), e.getMessage());
        Path missing = dir.resolve("missing.npy");
        e = assertThrows(KilnException.class, () -> NpyFile.open(missing));
        assertEquals(dev.kiln.ErrorCode.IO, e.code());
        assertTrue(e.getMessage().contains("missing.npy"), e.getMessage());
    }

    @Test
    void rejectsZeroDimensionalArraysAndReadsOutsideTheArray() throws IOException {
        Path p = dir.resolve("scalar.npy");
        write(p, NpyWriter.header("<f4", false, new long[0], 0), floats(1));
        KilnException e = assertThrows(KilnException.class, () -> NpyFile.open(p));
        assertTrue(e.getMessage().contains("scalar.npy") && e.getMessage().contains("0-d array"), e.getMessage());
        Path ok = dir.resolve("ok.npy");
        NpyWriter.write(ok, TestData.iota(4), 4);
        try (NpyFile f = NpyFile.open(ok)) {
            e = assertThrows(KilnArgumentException.class, () -> f.read(3, 2));
            assertTrue(e.getMessage().contains("samples 3..4 are outside [0, 4)"), e.getMessage());
        }
    }

    static byte[] floats(float... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        return b.array();
    }

    static byte[] ints(int... v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asIntBuffer().put(v);
        return b.array();
    }

    static void write(Path p, byte[]... parts) throws IOException {
        try (OutputStream out = Files.newOutputStream(p)) {
            TestData.write(out, parts);
        }
    }
}
