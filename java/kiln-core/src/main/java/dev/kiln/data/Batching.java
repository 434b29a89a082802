package dev.kiln.data;

import dev.kiln.KilnArgumentException;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.List;

/** Slicing and concatenating tensors along axis 0 (the batch), on their little-endian bytes. */
final class Batching {
    private Batching() {
    }

    /** Samples along axis 0; the tensor must have rank >= 1. */
    static long samples(Tensor t, String what) {
        KilnArgumentException.check(t.shape().hasRank() && t.shape().rank() > 0, what + " is " + t
                + "; a batch needs an axis 0");
        return t.shape().dim(0);
    }

    /** Samples {@code start .. start + count - 1} of {@code t}. */
    static Tensor slice(Tensor t, long start, int count) {
        long n = t.shape().dim(0);
        if (start == 0 && count == n) {
            return t;
        }
        int sampleBytes = (int) (t.byteSize() / Math.max(n, 1));
        ByteBuffer b = t.bytes();
        b.position((int) (start * sampleBytes)).limit((int) ((start + count) * sampleBytes));
        ByteBuffer copy = ByteBuffer.allocate(b.remaining()).order(ByteOrder.LITTLE_ENDIAN).put(b).flip();
        return Tensor.wrap(t.dtype(), t.shape().withDim(0, count), copy);
    }

    /** The parts joined along axis 0; all must share dtype and per-sample shape. */
    static Tensor concat(List<Tensor> parts, String what) {
        if (parts.size() == 1) {
            return parts.get(0);
        }
        Tensor first = parts.get(0);
        long total = 0;
        long bytes = 0;
        for (Tensor p : parts) {
            KilnArgumentException.check(p.dtype() == first.dtype()
                            && p.shape().withDim(0, 0).equals(first.shape().withDim(0, 0)),
                    what + ": batches differ in type or per-sample shape (" + first + " and " + p + ")");
            total += p.shape().dim(0);
            bytes += p.byteSize();
        }
        ByteBuffer out = ByteBuffer.allocate(Math.toIntExact(bytes)).order(ByteOrder.LITTLE_ENDIAN);
        for (Tensor p : parts) {
            out.put(p.bytes());
        }
        out.flip();
        return Tensor.wrap(first.dtype(), first.shape().withDim(0, total), out);
    }

    static Shape withBatch(Shape sample, int n) {
        long[] d = sample.dims();
        long[] out = new long[d.length + 1];
        out[0] = n;
        System.arraycopy(d, 0, out, 1, d.length);
        return Shape.of(out);
    }
}
