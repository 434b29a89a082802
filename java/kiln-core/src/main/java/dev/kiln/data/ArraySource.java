package dev.kiln.data;

import dev.kiln.graph.DType;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;

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
        return new HeaderSource(path.toString(), h, () -> NpyFile.open(path));
    }

    /** Array {@code name} of a .npz archive (its header is read and checked now). */
    static ArraySource npz(Path path, String name) {
        NpyHeader h;
        try (NpzFile f = NpzFile.open(path)) {
            h = f.header(name);
        }
        return new HeaderSource(path + ":" + name, h, () -> {
            NpzFile f = NpzFile.open(path);
            NpzFile.Reader r = f.open(name);
            return new SampleReader() { // the reader owns its archive
                @Override
                public Tensor read(int count) {
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
}
