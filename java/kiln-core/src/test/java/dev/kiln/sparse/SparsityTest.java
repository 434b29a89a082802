package dev.kiln.sparse;

import dev.kiln.kernels.JavaKernels;
import dev.kiln.kernels.Packed24;
import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SparsityTest {
    private final Sparsity sparsity = Sparsity.on(new JavaKernels());

    private static float[] random(int n, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] w = new float[n];
        for (int i = 0; i < n; i++) {
            w[i] = (float) rnd.nextGaussian();
        }
        return w;
    }

    @Test
    void targetSparsityGivesTheKeepCount() {
        assertEquals(10, Sparsity.keepCount(10, 0));
        assertEquals(5, Sparsity.keepCount(10, 0.5));
        assertEquals(5, Sparsity.keepCount(10, 0.55)); // floor(5.5) pruned
        assertEquals(0, Sparsity.keepCount(10, 1));
        float[] w = random(1000, 1);
        float[] pruned = Sparsity.apply(w, sparsity.magnitudeMask(w, 0.9));
        assertEquals(0.9, Sparsity.sparsityOf(pruned), 1e-9);
    }

    @Test
    void twoFourOnAMatMulRunsAlongInputChannelsAndPassesTheChecker() {
        long[] shape = {8, 3}; // [in, out]
        float[] w = random(24, 2);
        float[] pruned = Sparsity.apply(w, sparsity.mask24(w, shape, WeightLayout.MATMUL));
        NMReport ok = sparsity.checkNM(pruned, shape, WeightLayout.MATMUL, 2, 4, 10);
        assertTrue(ok.ok(), ok.toString());
        assertEquals(6, ok.nbGroups());
        NMReport bad = sparsity.checkNM(w, shape, WeightLayout.MATMUL, 2, 4, 10);
        assertFalse(bad.ok());
        assertEquals(6, bad.nbBad());
        assertArrayEquals(new long[] {0, 0}, bad.firstBad().get(0));
        assertArrayEquals(new long[] {4, 2}, bad.firstBad().get(5));
    }

    @Test
    void twoFourOnAConv2DUsesAxisTwoAndPacksExactly() {
        long[] shape = {3, 3, 8, 5}; // HWIO
        float[] w = random(3 * 3 * 8 * 5, 3);
        float[] pruned = Sparsity.apply(w, sparsity.mask24(w, shape, WeightLayout.CONV2D_HWIO));
        assertTrue(sparsity.checkNM(pruned, shape, WeightLayout.CONV2D_HWIO, 2, 4, 1).ok());
        Packed24 p = sparsity.pack24(pruned, shape, WeightLayout.CONV2D_HWIO);
        assertEquals(8, p.cols());
        assertEquals(45, p.rows());
        assertArrayEquals(pruned, sparsity.unpack24(p, shape, WeightLayout.CONV2D_HWIO));
    }

    @Test
    void blockMaskPrunesWholeBlocks() {
        float[] w = random(64, 4);
        byte[] m = sparsity.blockMask(w, 8, 8, 4, 4, 0.5);
        int kept = 0;
        for (byte b : m) {
            kept += b;
        }
        assertEquals(32, kept);
        var bsr = sparsity.packBsr(Sparsity.apply(w, m), 8, 8, 4, 4);
        assertEquals(2, bsr.nbBlocks());
        assertArrayEquals(Sparsity.apply(w, m), sparsity.unpackBsr(bsr));
        var csr = sparsity.packCsr(Sparsity.apply(w, m), 8, 8);
        assertEquals(32, csr.nnz());
    }
}
