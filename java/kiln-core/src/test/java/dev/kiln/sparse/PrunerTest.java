package dev.kiln.sparse;

import dev.kiln.KilnArgumentException;
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

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PrunerTest {

    /**
     * x -> conv1 [3,3,4,8] -> conv2 [3,3,8,16] (+ bias) -> dw [3,3,16,1] -> mm1 [16,32] -> mm2 [32,16] with
     * transpose_b ([N, K]) -> mm3 [32,4]. Shapes need not chain: only the weights matter here.
     */
    static Graph graph(long seed) {
        Random rnd = new Random(seed);
        Graph g = new Graph();
        g.add(Node.builder("x", "Placeholder").attr("dtype", DType.FLOAT)
                .outputType(TensorType.of(DType.FLOAT, -1, 8, 8, 4)).build());
        layer(g, rnd, "conv1", "Conv2D", "x", false, 3, 3, 4, 8);
        layer(g, rnd, "conv2", "Conv2D", "conv1", false, 3, 3, 8, 16);
        constant(g, "conv2/bias", random(rnd, 16));
        g.add(Node.builder("conv2/bias_add", "BiasAdd").attr("T", DType.FLOAT).input("conv2").input("conv2/bias")
                .build());
        layer(g, rnd, "dw", "DepthwiseConv2dNative", "conv2/bias_add", false, 3, 3, 16, 1);
        layer(g, rnd, "mm1", "MatMul", "dw", false, 16, 32);
        layer(g, rnd, "mm2", "MatMul", "mm1", true, 32, 16);
        layer(g, rnd, "mm3", "MatMul", "mm2", false, 32, 4);
        g.addInput(new SignatureTensor("x", TensorRef.of("x", 0), TensorType.of(DType.FLOAT, -1)));
        g.addOutput(new SignatureTensor("y", TensorRef.of("mm3", 0), TensorType.of(DType.FLOAT, -1)));
        return g;
    }

    static void layer(Graph g, Random rnd, String name, String op, String in, boolean transposeB, long... dims) {
        constant(g, name + "/w", random(rnd, dims));
        Node.Builder b = Node.builder(name, op).attr("T", DType.FLOAT).input(in).input(name + "/w");
        if (transposeB) {
            b.attr("transpose_b", true);
        }
        g.add(b.build());
    }

    static void constant(Graph g, String name, Tensor t) {
        g.add(Node.builder(name, "Const").attr("dtype", DType.FLOAT).attr("value", t).outputType(t.type()).build());
    }

    static Tensor random(Random rnd, long... dims) {
        Shape s = Shape.of(dims);
        float[] v = new float[(int) s.numElements()];
        for (int i = 0; i < v.length; i++) {
            v[i] = (float) rnd.nextGaussian();
        }
        return Tensor.ofFloats(s, v);
    }

    static float[] weights(Graph g, String layer) {
        return g.constantValue(g.node(layer).input(1)).floats();
    }

    static long zeros(float[] w) {
        long z = 0;
        for (float v : w) {
            z += v == 0f ? 1 : 0;
        }
        return z;
    }

    @Test
    void unstructuredPrunesEachMiddleLayerToTheTargetAndLeavesFirstLastAndBiasAlone() {
        Graph g = graph(1);
        Graph original = g.copy();
        PruningReport r = Pruner.of(PruningPlan.of(PruningPattern.unstructured(0.5))).prune(g);
        assertEquals(List.of("conv2", "dw", "mm1", "mm2"), r.layers().stream().map(PruningReport.Layer::name).toList());
        for (PruningReport.Layer l : r.layers()) {
            float[] w = weights(g, l.name());
            assertEquals(w.length / 2, zeros(w), l.name());
            assertEquals(zeros(w), l.zeros());
            assertEquals(0.5, l.sparsity(), 1e-12);
            assertEquals("unstructured", l.pattern());
            float[] before = weights(original, l.name());
            float minKept = Float.MAX_VALUE;
            float maxPruned = 0;
            for (int i = 0; i < w.length; i++) {
                if (w[i] == 0f) {
                    maxPruned = Math.max(maxPruned, Math.abs(before[i]));
                } else {
                    assertEquals(before[i], w[i]);
                    minKept = Math.min(minKept, Math.abs(w[i]));
                }
            }
            assertTrue(maxPruned <= minKept, l.name() + ": pruned " + maxPruned + " > kept " + minKept);
            assertNotNull(g.sparsity().get(l.weight()));
            assertEquals(0.5, g.sparsity().get(l.weight()).density(), 1e-12);
        }
        assertArrayEquals(weights(original, "conv1"), weights(g, "conv1"));
        assertArrayEquals(weights(original, "mm3"), weights(g, "mm3"));
        assertArrayEquals(original.node("conv2/bias").attrTensor("value").floats(),
                g.node("conv2/bias").attrTensor("value").floats());
        assertEquals(0.5, r.globalSparsity(), 1e-12);
        assertTrue(r.notes().stream().anyMatch(n -> n.contains("'conv1'") && n.contains("first")),
                r.notes().toString());
        assertTrue(r.notes().stream().anyMatch(n -> n.contains("'mm3'") && n.contains("last")), r.notes().toString());
    }

    @Test
    void globalUnstructuredUsesOneThresholdOverAllSelectedLayers() {
        Graph g = graph(2);
        // make mm1's weights large: a global threshold prunes little of it and more of the others
        Tensor big = g.node("mm1/w").attrTensor("value");
        float[] v = big.floats();
        for (int i = 0; i < v.length; i++) {
            v[i] *= 10;
        }
        g.replace(g.node("mm1/w").withAttr("value", dev.kiln.graph.AttrValue.of(Tensor.ofFloats(big.shape(), v))));
        Graph original = g.copy();
        PruningReport r = Pruner.of(PruningPlan.of(PruningPattern.unstructuredGlobal(0.5))).prune(g);
        long total = r.weights();
        assertEquals(total - Sparsity.keepCount(total, 0.5), r.zeros());
        PruningReport.Layer mm1 = r.layers().stream().filter(l -> l.name().equals("mm1")).findFirst().orElseThrow();
        assertTrue(mm1.sparsity() < 0.2, "mm1 sparsity " + mm1.sparsity());
        float minKept = Float.MAX_VALUE;
        float maxPruned = 0;
        for (PruningReport.Layer l : r.layers()) {
            float[] w = weights(g, l.name());
            float[] before = weights(original, l.name());
            for (int i = 0; i < w.length; i++) {
                if (w[i] == 0f) {
                    maxPruned = Math.max(maxPruned, Math.abs(before[i]));
                } else {
                    minKept = Math.min(minKept, Math.abs(w[i]));
                }
            }
        }
        assertTrue(maxPruned <= minKept, "pruned " + maxPruned + " > kept " + minKept);
    }

    @Test
    void twoFourRunsAlongTheInputChannelAxisOfEveryLayout() {
        Graph g = graph(3);
        PruningReport r = Pruner.of(PruningPlan.builder(PruningPattern.twoFour()).includeFirstAndLast(true).build())
                .prune(g);
        assertEquals(6, r.layers().size());
        for (PruningReport.Layer l : r.layers()) {
            assertNotNull(l.nm(), l.name());
            assertTrue(l.nm().ok(), l.name() + ": " + l.nm());
            assertEquals(0.5, l.sparsity(), 1e-12, l.name());
            assertEquals("2:4", l.pattern());
        }
        // conv2 HWIO [3,3,8,16]: each group of 4 consecutive input channels at fixed (h, w, o) keeps 2
        float[] w = weights(g, "conv2");
        for (int h = 0; h < 9; h++) {
            for (int o = 0; o < 16; o++) {
                for (int c0 = 0; c0 < 8; c0 += 4) {
                    int nz = 0;
                    for (int c = c0; c < c0 + 4; c++) {
                        nz += w[(h * 8 + c) * 16 + o] != 0f ? 1 : 0;
                    }
                    assertEquals(2, nz);
                }
            }
        }
        // mm2 with transpose_b is [N, K]: groups run along the rows' K
        float[] m2 = weights(g, "mm2");
        for (int n = 0; n < 32; n++) {
            for (int k0 = 0; k0 < 16; k0 += 4) {
                int nz = 0;
                for (int k = k0; k < k0 + 4; k++) {
                    nz += m2[n * 16 + k] != 0f ? 1 : 0;
                }
                assertEquals(2, nz);
            }
        }
    }

    @Test
    void nmOnAnIndivisibleLayerIsAnErrorNamingItOrASkipWithANote() {
        Graph g = graph(4);
        Random rnd = new Random(9);
        constant(g, "odd/w", random(rnd, 6, 8));
        g.add(Node.builder("odd", "MatMul").attr("T", DType.FLOAT).input("mm2").input("odd/w").build());
        PruningPlan plan = PruningPlan.builder(PruningPattern.twoFour()).layers(Set.of("odd", "mm1")).build();
        KilnArgumentException e = assertThrows(KilnArgumentException.class, () -> Pruner.of(plan).prune(g.copy()));
        assertTrue(e.getMessage().contains("'odd'") && e.getMessage().contains("6 input channels"), e.getMessage());
        PruningReport r = Pruner.of(PruningPlan.builder(PruningPattern.twoFour()).layers(Set.of("odd", "mm1"))
                .skipIndivisible(true).build()).prune(g);
        assertEquals(List.of("mm1"), r.layers().stream().map(PruningReport.Layer::name).toList());
        assertTrue(r.notes().stream().anyMatch(n -> n.contains("'odd'")), r.notes().toString());
        assertEquals(0, zeros(weights(g, "odd")));
    }

    @Test
    void blocksAreWholeOnTheOutByInView() {
        Graph g = graph(5);
        PruningReport r = Pruner.of(PruningPlan.builder(PruningPattern.block(4, 0.5)).layers(Set.of("mm1", "conv2"))
                .build()).prune(g);
        assertEquals(2, r.layers().size());
        r.layers().forEach(l -> assertEquals(0.5, l.sparsity(), 1e-12, l.name()));
        // mm1 [K=16, N=32]: view [out=32, in=16]; a 4x4 block is 4 n's x 4 k's, all zero or all kept
        float[] w = weights(g, "mm1");
        for (int n0 = 0; n0 < 32; n0 += 4) {
            for (int k0 = 0; k0 < 16; k0 += 4) {
                int nz = 0;
                for (int n = n0; n < n0 + 4; n++) {
                    for (int k = k0; k < k0 + 4; k++) {
                        nz += w[k * 32 + n] != 0f ? 1 : 0;
                    }
                }
                assertTrue(nz == 0 || nz == 16, "block (" + n0 + ", " + k0 + ") has " + nz + " non-zeros");
            }
        }
    }

    @Test
    void aSharedWeightIsCopiedAndTheOtherReaderKeepsTheDenseValues() {
        Graph g = graph(6);
        g.add(Node.builder("peek", "Identity").attr("T", DType.FLOAT).input("mm1/w").build());
        float[] dense = weights(g, "mm1");
        PruningReport r = Pruner.of(PruningPlan.builder(PruningPattern.unstructured(0.5)).layers(Set.of("mm1"))
                .build()).prune(g);
        assertEquals("mm1/w/pruned", r.layers().get(0).weight());
        assertEquals("mm1/w/pruned", g.node("mm1").input(1).node());
        assertArrayEquals(dense, g.node("mm1/w").attrTensor("value").floats());
        assertEquals(dense.length / 2, zeros(weights(g, "mm1")));
    }

    @Test
    void selectionByOpMinimumWeightsAndNameWhichIncludesFirstAndLast() {
        PruningReport byOp = Pruner.of(PruningPlan.builder(PruningPattern.unstructured(0.25)).ops(Set.of("MatMul"))
                .build()).prune(graph(7));
        assertEquals(List.of("mm1", "mm2"), byOp.layers().stream().map(PruningReport.Layer::name).toList());
        PruningReport bySize = Pruner.of(PruningPlan.builder(PruningPattern.unstructured(0.25)).minWeights(513)
                .includeFirstAndLast(true).build()).prune(graph(7));
        assertEquals(List.of("conv2"), bySize.layers().stream().map(PruningReport.Layer::name).toList());
        PruningReport byName = Pruner.of(PruningPlan.builder(PruningPattern.unstructured(0.25))
                .layers(Set.of("conv1", "mm3")).build()).prune(graph(7));
        assertEquals(List.of("conv1", "mm3"), byName.layers().stream().map(PruningReport.Layer::name).toList());
    }

    @Test
    void badArgumentsAreNamed() {
        assertTrue(assertThrows(KilnArgumentException.class, () -> PruningPattern.unstructured(1.0)).getMessage()
                .contains("sparsity"));
        assertThrows(KilnArgumentException.class, () -> PruningPattern.unstructured(-0.1));
        assertThrows(KilnArgumentException.class, () -> PruningPattern.block(4, 1.5));
        assertTrue(assertThrows(KilnArgumentException.class, () -> PruningPattern.nm(4, 4)).getMessage()
                .contains("4:4"));
        assertThrows(KilnArgumentException.class, () -> PruningPattern.nm(2, 0));
        assertThrows(KilnArgumentException.class, () -> PruningPlan.builder(PruningPattern.twoFour())
                .ops(Set.of("BiasAdd")));
        KilnArgumentException e = assertThrows(KilnArgumentException.class, () -> Pruner.of(
                PruningPlan.builder(PruningPattern.twoFour()).layers(Set.of("nope")).build()).prune(graph(8)));
        assertTrue(e.getMessage().contains("'nope'"), e.getMessage());
        KilnArgumentException bias = assertThrows(KilnArgumentException.class, () -> Pruner.of(
                PruningPlan.builder(PruningPattern.twoFour()).layers(Set.of("conv2/bias_add")).build())
                .prune(graph(8)));
        assertTrue(bias.getMessage().contains("'conv2/bias_add'"), bias.getMessage());
    }

    @Test
    void theReportWritesJsonAndMarkdown() {
        PruningReport r = Pruner.of(PruningPlan.of(PruningPattern.twoFour())).prune(graph(9));
        String json = r.toJson();
        assertTrue(json.contains("\"global_sparsity\": 0.500000"), json);
        assertTrue(json.contains("\"name\": \"conv2\""), json);
        assertTrue(r.toMarkdown().contains("| conv2 | Conv2D | [3, 3, 8, 16] | 1152 | 576 | 50.00% | 2:4 | 2:4 ok |"),
                r.toMarkdown());
    }
}
