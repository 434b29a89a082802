package dev.kiln.data;

import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;
import dev.kiln.graph.Tensor;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;

/**
 * An open NumPy .npz archive (what {@code numpy.savez} and {@code savez_compressed} write: a zip of .npy entries,
 * stored or deflated). Arrays are read as streams, in order, so memory does not grow with the number of samples;
 * skipping forward in a deflated entry decompresses what it skips.
 */
public final class NpzFile implements AutoCloseable {
    private final Path path;
    private final ZipFile zip;
    private final List<String> names;

    private NpzFile(Path path, ZipFile zip, List<String> names) {
        this.path = path;
        this.zip = zip;
        this.names = names;
    }

    /** Opens {@code path} and lists its arrays; the caller owns the result and closes it. */
    public static NpzFile open(Path path) {
        ZipFile zip;
        try {
            zip = new ZipFile(path.toFile());
        } catch (IOException e) {
            throw KilnException.io("cannot open " + path + " as a .npz (zip) archive: " + e, e);
        }
        List<String> names = new ArrayList<>();
        zip.stream().filter(e -> !e.isDirectory() && e.getName().endsWith(".npy"))
                .forEach(e -> names.add(e.getName().substring(0, e.getName().length() - 4)));
        return new NpzFile(path, zip, Collections.unmodifiableList(names));
    }

    /** The arrays' names, without ".npy", in archive order (numpy.savez keyword names, or arr_0, arr_1 ...). */
    public List<String> names() {
        return names;
    }

    public Path path() {
        return path;
    }

    /** The header of array {@code name}. */
    public NpyHeader header(String name) {
        try (Reader r = open(name)) {
            return r.header();
        }
    }

    /** A sequential reader over array {@code name}; the caller closes it (before or with this file). */
    public Reader open(String name) {
        ZipEntry e = zip.getEntry(name + ".npy");
        KilnArgumentException.check(e != null, path + " has no array '" + name + "'; it has " + names);
        String source = path + ":" + name;
        try {
            InputStream in = new BufferedInputStream(zip.getInputStream(e), 1 << 16);
            try {
                NpyHeader h = NpyHeader.read(in, source);
                if (e.getSize() >= 0 && e.getSize() - h.dataOffset() < h.dataBytes()) {
                    throw NpyFile.truncated(source, h, e.getSize() - h.dataOffset());
                }
                return new Reader(source, h, in);
            } catch (RuntimeException ex) {
                in.close();
                throw ex;
            }
        } catch (IOException ex) {
            throw KilnException.io("cannot read " + source + ": " + ex, ex);
        }
    }

    @Override
    public void close() {
        try {
            zip.close();
        } catch (IOException ignored) {
            // read-only archive: nothing to lose
        }
    }

    /** Reads one .npz array's samples in order. */
    public static final class Reader implements SampleReader {
        private final String source;
        private final NpyHeader header;
        private final DataInputStream in;
        private long next;

        private Reader(String source, NpyHeader header, InputStream in) {
            this.source = source;
            this.header = header;
            this.in = new DataInputStream(in);
        }

        public NpyHeader header() {
            return header;
        }

        @Override
        public Tensor read(int count) {
            KilnArgumentException.check(count >= 0 && next + count <= header.sampleCount(), source + ": samples "
                    + next + ".." + (next + count - 1) + " are outside [0, " + header.sampleCount() + ")");
            ByteBuffer buf = NpyFile.allocate(header, count, source);
            try {
                in.readFully(buf.array(), 0, buf.capacity());
            } catch (EOFException e) {
                throw NpyFile.truncated(source, header, -1);
            } catch (IOException e) {
                throw KilnException.io("cannot read " + source + ": " + e, e);
            }
            next += count;
            return Tensor.wrap(header.dtype(), NpyFile.batchShape(header, count), buf);
        }

        @Override
        public void skip(long count) {
            long bytes = count * header.sampleBytes();
            try {
                while (bytes > 0) {
                    long n = in.skip(bytes);
                    if (n <= 0) {
                        if (in.read() < 0) {
                            throw NpyFile.truncated(source, header, -1);
                        }
                        n = 1;
                    }
                    bytes -= n;
                }
            } catch (IOException e) {
                throw KilnException.io("cannot read " + source + ": " + e, e);
            }
            next += count;
        }

        @Override
        public void close() {
            try {
                in.close();
            } catch (IOException ignored) {
                // read-only stream
            }
        }
    }
}
