package dev.kiln.sparse;

import dev.kiln.KilnException;
import dev.kiln.kernels.JavaKernels;
import dev.kiln.kernels.Kernels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PackedWeightsTest {
    private final Kernels k = new JavaKernels();
    private final Sparsity sparsity = Sparsity.on(k);

    @TempDir
    Path tmp;

    private static float[] random(int n, long seed) {
        SplittableRandom rnd = new SplittableRandom(seed);
        float[] w = new float[n];
        for (int i = 0; i < n; i++) {
            w[i] = (float) rnd.nextGaussian();
        }
        return w;
    }

    private List<PackedWeights.Layer> threeLayers(float[][] dense) {
        long[] conv = {3, 3, 8, 4};
        dense[0] = Sparsity.apply(random(288, 1), sparsity.mask24(random(288, 1), conv, WeightLayout.CONV2D_HWIO));
        dense[1] = Sparsity.apply(random(128, 2), sparsity.blockMask(random(128, 2), 16, 8, 4, 4, 0.5));
        dense[2] = Sparsity.apply(random(72, 3), sparsity.magnitudeMask(random(72, 3), 0.5));
        return List.of(
                PackedWeights.pack("conv", "Conv2D", "conv/w", conv, 2, "2:4", dense[0], k),
                PackedWeights.pack("fc", "MatMul", "fc/w", new long[] {16, 8}, 0, "block4x4", dense[1], k),
                PackedWeights.pack("dw", "DepthwiseConv2dNative", "dw/w", new long[] {3, 3, 4, 2}, 2, "unstructured",
                        dense[2], k));
    }

    @Test
    void writeThenReadUnpacksToThePrunedWeightsBitForBitInEachFormat() {
        float[][] dense = new float[3][];
        List<PackedWeights.Layer> layers = threeLayers(dense);
        assertEquals(PackedWeights.Format.NM24, layers.get(0).format());
        assertEquals(PackedWeights.Format.BSR, layers.get(1).format());
        assertEquals(PackedWeights.Format.CSR, layers.get(2).format());
        Path f = tmp.resolve(PackedWeights.FILE_NAME);
        PackedWeights.write(f, layers);
        List<PackedWeights.Layer> back = PackedWeights.read(f);
        assertEquals(3, back.size());
        for (int i = 0; i < 3; i++) {
            PackedWeights.Layer l = back.get(i);
            assertEquals(layers.get(i).name(), l.name());
            assertEquals(layers.get(i).format(), l.format());
            assertArrayEquals(layers.get(i).shape(), l.shape());
            assertArrayEquals(toArray(dense[i]), toArray(l.unpack()), l.name());
            if (l.format() != PackedWeights.Format.CSR) { // CSR at 50% costs 8 bytes per kept float: no smaller
                assertTrue(l.packedBytes() < l.denseBytes(), l.name() + " packs smaller");
            }
        }
        try (var left = Files.list(tmp)) {   // no temporary left beside the file
            assertEquals(List.of(f), left.toList());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    private static int[] toArray(float[] a) {
        int[] bits = new int[a.length];
        for (int i = 0; i < a.length; i++) {
            bits[i] = Float.floatToRawIntBits(a[i]);
        }
        return bits;
    }

    @Test
    void aTruncatedOrCorruptFileIsAnErrorNamingTheFile() throws Exception {
        Path f = tmp.resolve("w.kpack");
        PackedWeights.write(f, threeLayers(new float[3][]));
        byte[] all = Files.readAllBytes(f);

        Path cut = tmp.resolve("cut.kpack");
        Files.write(cut, Arrays.copyOf(all, all.length - 9));
        KilnException e = assertThrows(KilnException.class, () -> PackedWeights.read(cut));
        assertTrue(e.getMessage().contains("cut.kpack") && e.getMessage().contains("truncated"), e.getMessage());

        Path magic = tmp.resolve("magic.kpack");
        byte[] bad = all.clone();
        bad[0] = 'X';
        Files.write(magic, bad);
        e = assertThrows(KilnException.class, () -> PackedWeights.read(magic));
        assertTrue(e.getMessage().contains("magic.kpack") && e.getMessage().contains("magic"), e.getMessage());

        Path head = tmp.resolve("head.kpack");
        Files.write(head, Arrays.copyOf(all, 40));
        e = assertThrows(KilnException.class, () -> PackedWeights.read(head));
        assertTrue(e.getMessage().contains("head.kpack") && e.getMessage().contains("table of contents"),
                e.getMessage());
    }
}
