package dev.kiln.data;

import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;
import dev.kiln.graph.DType;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * An open NumPy .npy file, read in batches of samples along axis 0 with positioned reads: only the header and the
 * batch asked for are ever in memory, whatever the file's size.
 *
 * <pre>{@code
 * try (NpyFile f = NpyFile.open(Path.of("images_u8.npy"))) {
 *     Tensor first100 = f.read(0, 100);   // uint8 [100,28,28,1]
 * }
 * }</pre>
 */
public final class NpyFile implements SampleReader {
    private final Path path;
    private final FileChannel channel;
    private final NpyHeader header;
    private long next; // the sample read() continues from

    private NpyFile(Path path, FileChannel channel, NpyHeader header) {
        this.path = path;
        this.channel = channel;
        this.header = header;
    }

    /** Opens {@code path} and validates its header and length; the caller owns the result and closes it. */
    public static NpyFile open(Path path) {
        FileChannel ch;
        try {
            ch = FileChannel.open(path, StandardOpenOption.READ);
        } catch (IOException e) {
            throw KilnException.io("cannot open data file " + path + ": " + e, e);
        }
        try {
            NpyHeader h = NpyHeader.read(Channels.newInputStream(ch), path.toString());
            long size = ch.size();
            if (size - h.dataOffset() < h.dataBytes()) {
                throw truncated(path.toString(), h, size - h.dataOffset());
            }
            return new NpyFile(path, ch, h);
        } catch (IOException e) {
            closeQuietly(ch);
            throw KilnException.io("cannot read " + path + ": " + e, e);
        } catch (RuntimeException e) {
            closeQuietly(ch);
            throw e;
        }
    }

    /** Just the header of {@code path} (opens and closes it). */
    public static NpyHeader readHeader(Path path) {
        try (NpyFile f = open(path)) {
            return f.header();
        }
    }

    public Path path() {
        return path;
    }

    public NpyHeader header() {
        return header;
    }

    public DType dtype() {
        return header.dtype();
    }

    public Shape shape() {
        return header.shape();
    }

    public long sampleCount() {
        return header.sampleCount();
    }

    /** Samples {@code start} to {@code start + count - 1} as one tensor [count, ...sampleShape] in the file's dtype. */
    public Tensor read(long start, int count) {
        KilnArgumentException.check(start >= 0 && count >= 0 && start + count <= header.sampleCount(),
                path + ": samples " + start + ".." + (start + count - 1) + " are outside [0, "
                        + header.sampleCount() + ")");
        ByteBuffer buf = allocate(header, count, path.toString());
        long pos = header.dataOffset() + start * header.sampleBytes();
        try {
            while (buf.hasRemaining()) {
                int n = channel.read(buf, pos);
                if (n < 0) {
                    throw truncated(path.toString(), header, pos - header.dataOffset());
                }
                pos += n;
            }
        } catch (IOException e) {
            throw KilnException.io("cannot read " + path + ": " + e, e);
        }
        buf.flip();
        next = start + count;
        return Tensor.wrap(header.dtype(), batchShape(header, count), buf);
    }

    @Override
    public Tensor read(int count) {
        return read(next, count);
    }

    @Override
    public void skip(long count) {
        next += count;
    }

    @Override
    public void close() {
        closeQuietly(channel);
    }

    static ByteBuffer allocate(NpyHeader h, int count, String source) {
        long bytes = count * h.sampleBytes();
        KilnArgumentException.check(bytes <= Integer.MAX_VALUE - 64, source + ": a batch of " + count
                + " samples is " + bytes + " bytes, over the 2 GiB a tensor can hold; use a smaller batch size");
        return ByteBuffer.allocate((int) bytes).order(ByteOrder.LITTLE_ENDIAN);
    }

    static Shape batchShape(NpyHeader h, int count) {
        return h.shape().withDim(0, count);
    }

    static KilnException truncated(String source, NpyHeader h, long have) {
        return NpyHeader.bad(source, "truncated: the header says " + h.dtype().name().toLowerCase() + h.shape()
                + " = " + h.dataBytes() + " bytes of data, " + (have < 0 ? "the data ends before that"
                : "the file has " + Math.max(have, 0)));
    }

    private static void closeQuietly(FileChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // read-only file: nothing was written that could be lost
        }
    }
}
