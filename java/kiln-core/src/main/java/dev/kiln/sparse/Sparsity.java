package dev.kiln.sparse;

import dev.kiln.KilnArgumentException;
import dev.kiln.kernels.AxisView;
import dev.kiln.kernels.BsrMatrix;
import dev.kiln.kernels.CsrMatrix;
import dev.kiln.kernels.KernelBackends;
import dev.kiln.kernels.Kernels;
import dev.kiln.kernels.NMCheck;
import dev.kiln.kernels.Packed24;

import java.util.ArrayList;
import java.util.List;

/**
 * Sparsity over the kernels: magnitude masks (unstructured to a target sparsity; N:M along the input-channel axis of
 * TensorFlow weight layouts; k x k blocks by block norm), applying masks, the N:M checker, and packing into CSR, BSR
 * and the 2:4 compressed form. Masks are byte arrays, 1 = kept.
 */
public final class Sparsity {
    private final Kernels kernels;

    private Sparsity(Kernels kernels) {
        KilnArgumentException.check(kernels != null, "kernels must not be null");
        this.kernels = kernels;
    }

    /** On the default backend. */
    public static Sparsity get() {
        return new Sparsity(KernelBackends.get());
    }

    public static Sparsity on(Kernels kernels) {
        return new Sparsity(kernels);
    }

    /** How many of {@code n} elements to keep for a target sparsity in [0, 1]: n - floor(n * sparsity). */
    public static long keepCount(long n, double sparsity) {
        KilnArgumentException.check(n >= 0, "n must be >= 0, got " + n);
        KilnArgumentException.check(sparsity >= 0 && sparsity <= 1, "sparsity must be within [0, 1], got " + sparsity);
        return n - (long) Math.floor(n * sparsity);
    }

    /** Unstructured magnitude mask at a target sparsity (the smallest |w| pruned; ties keep the lower index). */
    public byte[] magnitudeMask(float[] w, double sparsity) {
        KilnArgumentException.check(w != null, "w must not be null");
        return kernels.maskMagnitude(w, keepCount(w.length, sparsity));
    }

    /** N:M mask along the input-channel axis of a weight in a TF layout. */
    public byte[] nmMask(float[] w, long[] shape, WeightLayout layout, int n, int m) {
        return kernels.maskNM(w, view(shape, layout), n, m);
    }

    /** The common case: 2:4. */
    public byte[] mask24(float[] w, long[] shape, WeightLayout layout) {
        return nmMask(w, shape, layout, 2, 4);
    }

    /** Block mask on a [rows, cols] matrix: keeps the blocks of largest energy for a target sparsity. */
    public byte[] blockMask(float[] w, int rows, int cols, int blockRows, int blockCols, double sparsity) {
        KilnArgumentException.check(blockRows >= 1 && blockCols >= 1, "block sizes must be >= 1");
        long nbBlocks = (long) (rows / Math.max(1, blockRows)) * (cols / Math.max(1, blockCols));
        return kernels.maskBlock(w, rows, cols, blockRows, blockCols, keepCount(nbBlocks, sparsity));
    }

    /** A copy of {@code w} with the pruned elements set to 0. */
    public static float[] apply(float[] w, byte[] mask) {
        KilnArgumentException.check(w != null, "w must not be null");
        KilnArgumentException.check(mask != null, "mask must not be null");
        KilnArgumentException.check(mask.length == w.length, "mask length " + mask.length + " != w length " + w.length);
        float[] out = new float[w.length];
        for (int i = 0; i < w.length; i++) {
            out[i] = mask[i] != 0 ? w[i] : 0f;
        }
        return out;
    }

    /** Fraction of zeros in {@code w} (-0.0 counts as zero). */
    public static double sparsityOf(float[] w) {
        KilnArgumentException.check(w != null && w.length > 0, "w must not be null or empty");
        long z = 0;
        for (float v : w) {
            if (v == 0f) {
                z++;
            }
        }
        return (double) z / w.length;
    }

    /** Checks N:M along the input-channel axis; reports up to {@code maxReport} violating groups by index. */
    public NMReport checkNM(float[] w, long[] shape, WeightLayout layout, int n, int m, int maxReport) {
        AxisView v = view(shape, layout);
        NMCheck c = kernels.checkNM(w, v, n, m, maxReport);
        List<long[]> where = new ArrayList<>();
        for (long flat : c.firstBad()) {
            where.add(unravel(flat, shape));
        }
        return new NMReport(n, m, v.size() / m, c.nbBad(), List.copyOf(where));
    }

    static long[] unravel(long flat, long[] shape) {
        long[] idx = new long[shape.length];
        for (int d = shape.length - 1; d >= 0; d--) {
            idx[d] = flat % shape[d];
            flat /= shape[d];
        }
        return idx;
    }

    private static AxisView view(long[] shape, WeightLayout layout) {
        KilnArgumentException.check(layout != null, "layout must not be null");
        layout.checkShape(shape);
        return AxisView.of(shape, layout.inputAxis());
    }

    public CsrMatrix packCsr(float[] w, int rows, int cols) {
        return kernels.packCsr(w, rows, cols);
    }

    public float[] unpackCsr(CsrMatrix csr) {
        return kernels.unpackCsr(csr);
    }

    public BsrMatrix packBsr(float[] w, int rows, int cols, int blockRows, int blockCols) {
        return kernels.packBsr(w, rows, cols, blockRows, blockCols);
    }

    public float[] unpackBsr(BsrMatrix bsr) {
        return kernels.unpackBsr(bsr);
    }

    /**
     * 2:4 packing of a weight in a TF layout: the weight is first rearranged so that the input-channel axis is the
     * last (rows = the other axes in order, cols = input channels), then packed with {@code kiln_pack_2_4}.
     */
    public Packed24 pack24(float[] w, long[] shape, WeightLayout layout) {
        AxisView v = view(shape, layout);
        KilnArgumentException.check(w != null && w.length == v.size(), "w length does not match shape");
        float[] t = inputAxisLast(w, v);
        return kernels.pack24(t, (int) (v.outer() * v.inner()), (int) v.channels());
    }

    /** Inverse of {@link #pack24(float[], long[], WeightLayout)}: the dense weight in its TF layout. */
    public float[] unpack24(Packed24 packed, long[] shape, WeightLayout layout) {
        AxisView v = view(shape, layout);
        KilnArgumentException.check(packed != null, "packed must not be null");
        KilnArgumentException.check(packed.rows() == v.outer() * v.inner() && packed.cols() == v.channels(),
                "packed matrix " + packed.rows() + " x " + packed.cols() + " does not match the shape");
        return inputAxisBack(kernels.unpack24(packed), v);
    }

    /** [outer, len, inner] to [outer, inner, len]. */
    static float[] inputAxisLast(float[] w, AxisView v) {
        int outer = (int) v.outer();
        int len = (int) v.channels();
        int inner = (int) v.inner();
        if (inner == 1) {
            return w.clone();
        }
        float[] t = new float[w.length];
        for (int o = 0; o < outer; o++) {
            for (int c = 0; c < len; c++) {
                int src = (o * len + c) * inner;
                for (int i = 0; i < inner; i++) {
                    t[(o * inner + i) * len + c] = w[src + i];
                }
            }
        }
        return t;
    }

    /** [outer, inner, len] back to [outer, len, inner]. */
    static float[] inputAxisBack(float[] t, AxisView v) {
        int outer = (int) v.outer();
        int len = (int) v.channels();
        int inner = (int) v.inner();
        if (inner == 1) {
            return t;
        }
        float[] w = new float[t.length];
        for (int o = 0; o < outer; o++) {
            for (int c = 0; c < len; c++) {
                int dst = (o * len + c) * inner;
                for (int i = 0; i < inner; i++) {
                    w[dst + i] = t[(o * inner + i) * len + c];
                }
            }
        }
        return w;
    }
}
