package dev.kiln.lowrank;

import dev.kiln.KilnArgumentException;
import dev.kiln.graph.AttrValue;
import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.Shape;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.graph.TensorType;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Random;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LowRankFactorizationTest {
    // a 32x16 weight with singular values 10, 5, 2 and thirteen times 0.1 (total energy 129.13)
    private static final int K = 32;
    private static final int N = 16;

    private static float[] diagonal(int k, int n, double... s) {
        float[] w = new float[k * n];
        for (int i = 0; i < s.length; i++) {
            w[i * n + i] = (float) s[i];
        }
        return w;
    }

    private static double[] knownSpectrum() {
        double[] s = new double[N];
        s[0] = 10;
        s[1] = 5;
        s[2] = 2;
        for (int i = 3; i < N; i++) {
            s[i] = 0.1;
        }
        return s;
    }

    /** x [-1, k] -> MatMul(x, w) -> BiasAdd -> output "y". */
    private static Graph dense(float[] w, long k, long n, boolean transposeB) {
        Graph g = new Graph();
        g.add(Node.builder("x", "Placeholder").attr("dtype", DType.FLOAT)
                .outputType(TensorType.of(DType.FLOAT, -1, k)).build());
        Shape ws = transposeB ? Shape.of(n, k) : Shape.of(k, n);
        g.add(constant("w", Tensor.ofFloats(ws, transposeB ? transpose(w, (int) k, (int) n) : w)));
        g.add(constant("b", Tensor.ofFloats(Shape.of(n), new float[(int) n])));
        g.add(Node.builder("mm", "MatMul").input("x").input("w").attr("T", DType.FLOAT)
                .attr("transpose_a", false).attr("transpose_b", transposeB).attr("_kiln_fused_bias", "y")
                .outputType(TensorType.of(DType.FLOAT, -1, n)).build());
        g.add(Node.builder("y", "BiasAdd").input("mm").input("b").attr("T", DType.FLOAT)
                .attr("_kiln_fused_into", "mm").build());
        g.addInput(new SignatureTensor("x", TensorRef.of("x", 0), TensorType.of(DType.FLOAT, -1, k)));
        g.addOutput(new SignatureTensor("y", TensorRef.of("y", 0), TensorType.of(DType.FLOAT, -1, n)));
        return g;
    }

    private static Node constant(String name, Tensor t) {
        return Node.builder(name, "Const").attr("dtype", AttrValue.of(DType.FLOAT)).attr("value", AttrValue.of(t))
                .outputType(t.type()).build();
    }

    private static float[] transpose(float[] w, int rows, int cols) {
        float[] t = new float[w.length];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                t[j * rows + i] = w[i * cols + j];
            }
        }
        return t;
    }

    private static double[] matmul(float[] a, float[] b, int m, int k, int n) {
        double[] y = new double[m * n];
        for (int i = 0; i < m; i++) {
            for (int q = 0; q < k; q++) {
                for (int j = 0; j < n; j++) {
                    y[i * n + j] += (double) a[i * k + q] * b[q * n + j];
                }
            }
        }
        return y;
    }

    private static float[] random(Random rnd, int size) {
        float[] v = new float[size];
        for (int i = 0; i < size; i++) {
            v[i] = (float) rnd.nextGaussian();
        }
        return v;
    }

    private static float[] toFloats(double[] d) {
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            f[i] = (float) d[i];
        }
        return f;
    }

    private static float[] weight(Graph g, Node n) {
        return g.constantValue(n.input(1)).floats();
    }

    @Test
    void energyPicksTheSmallestRankKeepingTheShare() {
        double[] s = knownSpectrum();
        assertEquals(1, RankRule.energy(0.7).rank(s, K, N, "l"));   // 100 / 129.13 = 0.774
        assertEquals(2, RankRule.energy(0.95).rank(s, K, N, "l"));  // 125 / 129.13 = 0.968
        assertEquals(3, RankRule.energy(0.99).rank(s, K, N, "l"));  // 129 / 129.13 = 0.999
        assertEquals(N, RankRule.energy(1.0).rank(s, K, N, "l"));
    }

    @Test
    void reductionPicksTheLargestRankWithinTheBudget() {
        double[] s = knownSpectrum();
        // r * (32 + 16) <= (1 - reduction) * 512
        assertEquals(2, RankRule.reduction(0.75).rank(s, K, N, "l")); // 128 / 48 = 2.67
        assertEquals(1, RankRule.reduction(0.9).rank(s, K, N, "l"));  // 51.2 / 48
        assertEquals(0, RankRule.reduction(0.95).rank(s, K, N, "l")); // 25.6 / 48: nothing fits
        assertEquals(10, RankRule.reduction(0).rank(s, K, N, "l"));   // 512 / 48 = 10.67
    }

    @Test
    void factorsReconstructTheWeightWithinTheTruncationError() {
        Random rnd = new Random(3);
        float[] w = random(rnd, K * N);
        Svd svd = Svd.of(w, K, N);
        double[] s = svd.singularValues();
        for (int r : new int[] {1, 4, 8, N}) {
            float[][] ab = svd.factors(r);
            double[] rec = matmul(ab[0], ab[1], K, r, N);
            double err = 0;
            for (int i = 0; i < w.length; i++) {
                err += (rec[i] - w[i]) * (rec[i] - w[i]);
            }
            double dropped = 0;
            for (int i = r; i < s.length; i++) {
                dropped += s[i] * s[i];
            }
            // Eckart-Young: the squared Frobenius error is the dropped energy (up to float32 rounding)
            assertEquals(dropped, err, 1e-4 * (1 + dropped), "rank " + r);
        }
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.CsvSource({"32,16", "16,32", "97,61", "1,7", "300,300"})
    void lapackAndEjmlAgreeOnSingularValuesAndReconstruction(int m, int n) {
        org.junit.jupiter.api.Assumptions.assumeTrue(LapackSvd.available(),
                "OpenBLAS does not load here: " + LapackSvd.unavailableReason());
        Random rnd = new Random(m * 31L + n);
        double[] w = new double[m * n];
        for (int i = 0; i < w.length; i++) {
            w[i] = rnd.nextGaussian();
        }
        Svd lapack = Svd.of(w, m, n, Svd.Engine.LAPACK);
        Svd ejml = Svd.of(w, m, n, Svd.Engine.EJML);
        assertEquals(Svd.Engine.LAPACK, lapack.engine());
        double[] a = lapack.singularValues();
        double[] b = ejml.singularValues();
        assertEquals(Math.min(m, n), a.length);
        for (int i = 0; i < a.length; i++) {
            assertEquals(b[i], a[i], 1e-9 * (1 + b[0]), "singular value " + i);
            if (i > 0) {
                assertTrue(a[i] <= a[i - 1], "descending");
            }
        }
        // the factors differ by signs of singular vector pairs; their products agree
        int r = Math.max(1, a.length / 2);
        float[][] fa = lapack.factors(r);
        float[][] fb = ejml.factors(r);
        double[] ra = matmul(fa[0], fa[1], m, r, n);
        double[] rb = matmul(fb[0], fb[1], m, r, n);
        for (int i = 0; i < ra.length; i++) {
            assertEquals(rb[i], ra[i], 1e-4 * (1 + Math.abs(rb[i])), "element " + i);
        }
    }

    @Test
    void svdEngineCanBeForcedAndABadNameIsAClearError() {
        String old = System.getProperty("kiln.svd");
        try {
            System.setProperty("kiln.svd", "ejml");
            assertEquals(Svd.Engine.EJML, Svd.of(new double[] {1, 2, 3, 4}, 2, 2).engine());
            System.setProperty("kiln.svd", "magma");
            dev.kiln.KilnArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(
                    dev.kiln.KilnArgumentException.class, Svd.Engine::preferred);
            assertTrue(e.getMessage().contains("lapack or ejml"), e.getMessage());
        } finally {
            if (old == null) {
                System.clearProperty("kiln.svd");
            } else {
                System.setProperty("kiln.svd", old);
            }
        }
    }

    @Test
    void diagonalWeightAtEnergyKeepsTheTwoLargestValues() {
        Graph g = dense(diagonal(K, N, knownSpectrum()), K, N, false);
        LowRankReport r = LowRankFactorization.energy(0.95).factorize(g);
        assertEquals(1, r.factorized().size());
        LowRankReport.Layer l = r.layers().get(0);
        assertEquals(2, l.rank());
        assertEquals(512, l.parametersBefore());
        assertEquals(96, l.parametersAfter());
        assertEquals(125 / 129.13, l.keptEnergy(), 1e-9);
        assertEquals(512 + 16, r.parametersBefore());
        assertEquals(96 + 16, r.parametersAfter());
        assertNull(g.find("w"), "the replaced weight Const is gone");
        // the original node now multiplies by B and keeps its fusion marks; the new one reads x
        Node first = g.node("mm/lowrank");
        Node second = g.node("mm");
        assertEquals(TensorRef.of("x", 0), first.input(0));
        assertEquals(TensorRef.of("mm/lowrank", 0), second.input(0));
        assertEquals(List.of(32L, 2L), List.of(g.constantValue(first.input(1)).shape().dims()[0],
                g.constantValue(first.input(1)).shape().dims()[1]));
        assertFalse(first.hasAttr("_kiln_fused_bias"));
        assertEquals("y", second.attrString("_kiln_fused_bias"));
        assertEquals(TensorRef.of("mm", 0), g.node("y").input(0));
        double[] rec = matmul(weight(g, first), weight(g, second), K, 2, N);
        assertEquals(10, rec[0], 1e-5);
        assertEquals(5, rec[N + 1], 1e-5);
        assertEquals(0, rec[2 * N + 2], 1e-5); // the 2 was truncated
    }

    @Test
    void anExactlyLowRankWeightGivesTheSameProduct() {
        Random rnd = new Random(5);
        float[] w = toFloats(matmul(random(rnd, K * 3), random(rnd, 3 * N), K, 3, N)); // rank 3
        float[] x = random(rnd, 4 * K);
        for (boolean tb : new boolean[] {false, true}) {
            Graph g = dense(w, K, N, tb);
            LowRankReport r = LowRankFactorization.energy(1.0).factorize(g);
            assertEquals(3, r.layers().get(0).rank(), "full rank of W");
            assertFalse(g.node("mm/lowrank").attrBool("transpose_b", true));
            double[] want = matmul(x, w, 4, K, N);
            double[] xa = matmul(x, weight(g, g.node("mm/lowrank")), 4, K, 3);
            double[] got = matmul(toFloats(xa), weight(g, g.node("mm")), 4, 3, N);
            for (int i = 0; i < want.length; i++) {
                assertEquals(want[i], got[i], 1e-4 * (1 + Math.abs(want[i])), "tb " + tb + " at " + i);
            }
        }
    }

    @Test
    void layerThatWouldNotShrinkIsSkippedWithANote() {
        Graph g = dense(diagonal(4, 4, 4, 3, 2, 1), 4, 4, false);
        int before = g.size();
        // reduction 0 gives r = 16 / 8 = 2, and 2 * (4 + 4) = 16 is no smaller than 4 * 4
        LowRankReport r = LowRankFactorization.builder().reduction(0).build().factorize(g);
        assertEquals(before, g.size());
        assertNotNull(g.find("w"));
        assertTrue(r.factorized().isEmpty());
        LowRankReport.Layer l = r.layers().get(0);
        assertEquals(2, l.rank());
        assertEquals(16, l.parametersAfter());
        assertTrue(r.notes().get(0).contains("skipped 'mm'"), r.notes().toString());
        assertEquals(0.0, r.reduction());
    }

    @Test
    void convBecomesAKxKConvWithRFiltersThenAPointwiseConv() {
        Random rnd = new Random(9);
        int rows = 3 * 3 * 4;
        float[] f = toFloats(matmul(random(rnd, rows * 2), random(rnd, 2 * 8), rows, 2, 8)); // rank 2
        Graph g = new Graph();
        g.add(Node.builder("x", "Placeholder").attr("dtype", DType.FLOAT)
                .outputType(TensorType.of(DType.FLOAT, -1, 9, 9, 4)).build());
        g.add(constant("f", Tensor.ofFloats(Shape.of(3, 3, 4, 8), f)));
        g.add(Node.builder("conv", "Conv2D").input("x").input("f").attr("T", DType.FLOAT)
                .attr("strides", AttrValue.ofInts(1, 2, 2, 1)).attr("padding", "SAME")
                .attr("dilations", AttrValue.ofInts(1, 1, 1, 1)).attr("data_format", "NHWC")
                .outputType(TensorType.of(DType.FLOAT, -1, 5, 5, 8)).build());
        g.addInput(new SignatureTensor("x", TensorRef.of("x", 0), TensorType.of(DType.FLOAT, -1, 9, 9, 4)));
        g.addOutput(new SignatureTensor("y", TensorRef.of("conv", 0), TensorType.of(DType.FLOAT, -1, 5, 5, 8)));
        LowRankReport r = LowRankFactorization.energy(0.999).factorize(g);
        assertEquals(2, r.layers().get(0).rank());
        assertEquals(List.of(3L, 3L, 4L, 8L), r.layers().get(0).shape());
        Node first = g.node("conv/lowrank");
        Node second = g.node("conv");
        assertEquals(Shape.of(3, 3, 4, 2), g.constantValue(first.input(1)).shape());
        assertEquals(Shape.of(1, 1, 2, 8), g.constantValue(second.input(1)).shape());
        assertEquals("SAME", first.attrString("padding"));
        assertEquals(2, first.attrInts("strides")[1]);
        assertEquals(1, second.attrInts("strides")[1]);
        assertEquals(Shape.of(-1, 5, 5, 2), first.outputType(0).shape());
        double[] rec = matmul(weight(g, first), weight(g, second), rows, 2, 8);
        for (int i = 0; i < f.length; i++) {
            assertEquals(f[i], rec[i], 1e-4 * (1 + Math.abs(f[i])));
        }
        assertEquals(rows * 8, r.layers().get(0).parametersBefore());
        assertEquals(2 * (rows + 8), r.layers().get(0).parametersAfter());
    }

    @Test
    void aSharedWeightStaysForItsOtherReader() {
        Graph g = dense(diagonal(K, N, knownSpectrum()), K, N, false);
        g.add(Node.builder("mm2", "MatMul").input("x").input("w").attr("T", DType.FLOAT).build());
        g.addOutput(new SignatureTensor("z", TensorRef.of("mm2", 0), TensorType.of(DType.FLOAT, -1, N)));
        LowRankReport r = LowRankFactorization.builder().energy(0.95).layers(Set.of("mm")).build().factorize(g);
        assertEquals(1, r.factorized().size());
        assertEquals(TensorRef.of("w", 0), g.node("mm2").input(1));
        assertEquals(512, g.constantValue(TensorRef.of("w", 0)).numElements());
    }

    @Test
    void minParametersSkipsSmallLayers() {
        Graph g = dense(diagonal(K, N, knownSpectrum()), K, N, false);
        LowRankReport r = LowRankFactorization.builder().minParameters(513).build().factorize(g);
        assertTrue(r.layers().isEmpty());
        assertNotNull(g.find("w"));
    }

    @Test
    void badArgumentsAreNamed() {
        assertTrue(assertThrows(KilnArgumentException.class, () -> LowRankFactorization.energy(0)).getMessage()
                .contains("energy"));
        assertThrows(KilnArgumentException.class, () -> LowRankFactorization.energy(1.01));
        assertTrue(assertThrows(KilnArgumentException.class, () -> LowRankFactorization.builder().reduction(1))
                .getMessage().contains("reduction"));
        assertThrows(KilnArgumentException.class, () -> LowRankFactorization.builder().reduction(-0.1));
        Graph g = dense(diagonal(4, 4, 4, 3, 2, 1), 4, 4, false);
        String unknown = assertThrows(KilnArgumentException.class, () -> LowRankFactorization.builder()
                .layers(Set.of("nope")).build().factorize(g)).getMessage();
        assertTrue(unknown.contains("'nope'"), unknown);
        String notALayer = assertThrows(KilnArgumentException.class, () -> LowRankFactorization.builder()
                .layers(Set.of("y")).build().factorize(g)).getMessage();
        assertTrue(notALayer.contains("'y'"), notALayer);
        String rank = assertThrows(KilnArgumentException.class, () -> LowRankFactorization.builder().rank(5).build()
                .factorize(g)).getMessage();
        assertTrue(rank.contains("'mm'") && rank.contains("min(4, 4)"), rank);
    }
}
