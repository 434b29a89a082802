package dev.kiln.data;

import dev.kiln.AtomicFiles;
import dev.kiln.KilnArgumentException;
import dev.kiln.graph.DType;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * Writes NumPy .npy files (format 1.0, or 2.0 when the header needs it), readable by {@code numpy.load} and by
 * {@link NpyFile}. The header is padded so the data starts at a multiple of 64 bytes, as NumPy does.
 */
public final class NpyWriter {
    private NpyWriter() {
    }

    /** Writes a float32 array of the given shape. */
    public static void write(Path path, float[] data, long... shape) {
        write(path, Tensor.ofFloats(Shape.of(shape), data));
    }

    /** Writes a uint8 or int8 array of the given shape. */
    public static void write(Path path, DType dtype, byte[] data, long... shape) {
        write(path, Tensor.ofBytes(dtype, Shape.of(shape), data));
    }

    /** Writes a tensor of any dtype that .npy files can hold here (see {@link NpyHeader}). */
    public static void write(Path path, Tensor t) {
        AtomicFiles.write(path, out -> write(out, t));
    }

    /** Writes {@code t} as .npy bytes to {@code out} (e.g. an entry of a .npz zip); does not close it. */
    public static void write(OutputStream out, Tensor t) throws IOException {
        KilnArgumentException.check(t.shape().hasRank() && t.shape().rank() > 0, "cannot write a scalar tensor "
                + t + " as representative data: it needs an axis 0");
        out.write(header(NpyHeader.descr(t.dtype()), false, t.shape().dims(), 0));
        WritableByteChannel ch = Channels.newChannel(out);
        ByteBuffer b = t.bytes();
        while (b.hasRemaining()) {
            ch.write(b);
        }
    }

    /**
     * The magic, version, length and dict of a header, padded to 64 bytes. {@code major} 0 picks 1.0 unless the
     * dict is too long for it; tests pass 2 or 3, and any descr and fortran flag, to make unusual files.
     */
    static byte[] header(String descr, boolean fortranOrder, long[] shape, int major) {
        StringBuilder s = new StringBuilder("(");
        for (long d : shape) {
            s.append(d).append(", ");
        }
        String shapeText = shape.length == 1 ? s.substring(0, s.length() - 1) + ")"
                : (shape.length == 0 ? "()" : s.substring(0, s.length() - 2) + ")");
        String dict = "{'descr': '" + descr + "', 'fortran_order': " + (fortranOrder ? "True" : "False")
                + ", 'shape': " + shapeText + ", }";
        if (major == 0) {
            major = dict.length() + 11 < 65535 ? 1 : 2;
        }
        int prefix = major == 1 ? 10 : 12;
        int total = prefix + dict.length() + 1;
        int padded = (total + 63) / 64 * 64;
        byte[] text = (dict + " ".repeat(padded - total) + "\n").getBytes(StandardCharsets.ISO_8859_1);
        ByteBuffer b = ByteBuffer.allocate(padded);
        b.put(NpyHeader.MAGIC).put((byte) major).put((byte) 0);
        int len = text.length;
        if (major == 1) {
            b.put((byte) len).put((byte) (len >>> 8));
        } else {
            b.put((byte) len).put((byte) (len >>> 8)).put((byte) (len >>> 16)).put((byte) (len >>> 24));
        }
        b.put(text);
        return b.array();
    }
}
