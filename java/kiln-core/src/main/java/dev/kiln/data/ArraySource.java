package dev.kiln.data;

import dev.kiln.KilnArgumentException;
import dev.kiln.graph.DType;
import dev.kiln.graph.Shape;

import java.nio.file.Path;

/**
 * Samples along axis 0 of one array: a .npy file, an array of a .npz archive, an image folder. The type, per-sample
 * shape and count are known before reading; {@link #open()} starts a sequential read.
 */
public interface ArraySource {

    /** What to call it in messages and reports, e.g. "images_u8.npy" or "data.npz:x". */
    String name();

    DType dtype();

    Shape sampleShape();

    long sampleCount();

    /** A new reader positioned at the first sample; the caller closes it. */
    SampleReader open();

    /** Samples {@code start} to {@code start + count - 1} of this source. */
    default ArraySource slice(long start, long count) {
        return new SlicedSource(this, start, count);
    }

    /** A .npy file (its header is read and checked now). */
    static ArraySource npy(Path path) {
        NpyHeader h = NpyFile.readHeader(path);
        return new Simple(path.toString(), h, () -> NpyFile.open(path));
    }

    /** Array {@code name} of a .npz archive (its header is read and checked now). */
    static ArraySource npz(Path path, String name) {
        NpyHeader h;
        try (NpzFile f = NpzFile.open(path)) {
            h = f.header(name);
        }
        return new Simple(path + ":" + name, h, () -> {
            NpzFile f = NpzFile.open(path);
            NpzFile.Reader r = f.open(name);
            return new SampleReader() { // the reader owns its archive
                @Override
                public dev.kiln.graph.Tensor read(int count) {
                    return r.read(count);
                }

                @Override
                public void skip(long count) {
                    r.skip(count);
                }

                @Override
                public void close() {
                    r.close();
                    f.close();
                }
            };
        });
    }

    /** A source described by a .npy header and a way to open it. */
    record Simple(String name, NpyHeader header, java.util.function.Supplier<SampleReader> opener)
            implements ArraySource {
        @Override
        public DType dtype() {
            return header.dtype();
        }

        @Override
        public Shape sampleShape() {
            return header.sampleShape();
        }

        @Override
        public long sampleCount() {
            return header.sampleCount();
        }

        @Override
        public SampleReader open() {
            return opener.get();
        }

        @Override
        public String toString() {
            return name + " (" + dtype().name().toLowerCase() + header.shape() + ")";
        }
    }

    /** A range of another source's samples. */
    record SlicedSource(ArraySource base, long start, long count) implements ArraySource {
        public SlicedSource {
            KilnArgumentException.check(start >= 0 && count >= 0 && start + count <= base.sampleCount(),
                    base.name() + ": range of " + count + " samples from " + start + " is outside its "
                            + base.sampleCount() + " samples");
        }

        @Override
        public String name() {
            return base.name() + "[" + start + ":" + (start + count) + "]";
        }

        @Override
        public DType dtype() {
            return base.dtype();
        }

        @Override
        public Shape sampleShape() {
            return base.sampleShape();
        }

        @Override
        public long sampleCount() {
            return count;
        }

        @Override
        public SampleReader open() {
            SampleReader r = base.open();
            r.skip(start);
            return r;
        }

        @Override
        public ArraySource slice(long s, long c) {
            KilnArgumentException.check(s >= 0 && c >= 0 && s + c <= count, name() + ": range of " + c
                    + " samples from " + s + " is outside its " + count + " samples");
            return new SlicedSource(base, start + s, c);
        }
    }
}
