package dev.kiln.quant;

import dev.kiln.KilnArgumentException;
import dev.kiln.calib.Histogram;
import dev.kiln.calib.ThresholdMethod;
import dev.kiln.calib.Thresholds;
import dev.kiln.graph.AttrValue;
import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorType;
import dev.kiln.kernels.AxisView;
import org.junit.jupiter.api.Test;

import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class WeightRangesTest {
    private static float[] gaussian(int n, long seed) {
        Random r = new Random(seed);
        float[] w = new float[n];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) r.nextGaussian() * 0.1f;
        }
        return w;
    }

    @Test
    void minmaxIsTheChannelsMaxAbsAndAZeroChannelGetsScaleOne() {
        // [outer 3, channels 4, inner 5]; channel 2 all zeros
        AxisView view = new AxisView(3, 4, 5);
        float[] w = gaussian(60, 1);
        float[] max = new float[4];
        for (int o = 0; o < 3; o++) {
            for (int c = 0; c < 4; c++) {
                for (int i = 0; i < 5; i++) {
                    int k = (o * 4 + c) * 5 + i;
                    if (c == 2) {
                        w[k] = 0;
                    }
                    max[c] = Math.max(max[c], Math.abs(w[k]));
                }
            }
        }
        assertArrayEquals(max, WeightRanges.amax(w, view, ThresholdMethod.minmax()));
        float[] s = WeightRanges.scales(w, view, ThresholdMethod.minmax(), 127);
        assertEquals(1f, s[2]);
        assertEquals(max[0] / 127, s[0]);
        // the old entry point is the minmax one, bit for bit
        assertArrayEquals(s, WeightFakeQuant.scales(w, view, 127));
        assertArrayEquals(WeightFakeQuant.apply(w, view, 64), WeightFakeQuant.apply(w, view, 64,
                ThresholdMethod.minmax()));
        for (ThresholdMethod m : new ThresholdMethod[] {ThresholdMethod.mse(), ThresholdMethod.entropy(),
                ThresholdMethod.percentile(99.9)}) {
            float[] sm = WeightRanges.scales(w, view, m, 127);
            assertEquals(1f, sm[2], m + ": an all-zero channel keeps scale 1");
        }
    }

    @Test
    void aHistogramMethodIsTheMethodsThresholdOverEachChannel() {
        // a HWIO-like view: the channel is the last axis, so its values are strided
        AxisView view = new AxisView(300, 3, 1);
        float[] w = gaussian(900, 2);
        float[] amax = WeightRanges.amax(w, view, ThresholdMethod.mse());
        for (int c = 0; c < 3; c++) {
            float[] ch = new float[300];
            for (int o = 0; o < 300; o++) {
                ch[o] = w[o * 3 + c];
            }
            float t = Thresholds.threshold(Histogram.absolute(WeightRanges.BINS).add(ch), ThresholdMethod.mse());
            assertEquals(t, amax[c], "channel " + c);
        }
    }

    @Test
    void percentileClipsAnOutlierToQmax() {
        float[] w = gaussian(4096, 3);
        w[1234] = 5f; // 50 sigma
        w[77] = -4.5f;
        AxisView view = AxisView.perTensor(w.length);
        ThresholdMethod p = ThresholdMethod.percentile(99.9);
        for (int qmax : new int[] {127, 64}) {
            float s = WeightFakeQuant.scales(w, view, qmax, p)[0];
            assertTrue(s < 5f / qmax / 4, "scale " + s + " well below max/qmax " + 5f / qmax);
            float[] fq = WeightFakeQuant.apply(w, view, qmax, p);
            assertEquals(qmax * s, fq[1234], "the outlier clips to +qmax codes");
            assertEquals(-qmax * s, fq[77], "and the negative one to -qmax");
        }
    }

    @Test
    void fakeQuantInsertionUsesTheWeightMethod() {
        Graph g = new Graph();
        g.add(Node.builder("x", "Placeholder").attr("dtype", DType.FLOAT)
                .outputType(TensorType.of(DType.FLOAT, 1, 8, 8, 3)).build());
        float[] v = gaussian(3 * 3 * 3 * 16, 4);
        Tensor wt = Tensor.ofFloats(Shape.of(3, 3, 3, 16), v);
        g.add(Node.builder("w", "Const").attr("dtype", AttrValue.of(DType.FLOAT)).attr("value", AttrValue.of(wt))
                .outputType(wt.type()).build());
        g.add(Node.builder("conv", "Conv2D").attr("T", DType.FLOAT).input("x").input("w")
                .outputType(TensorType.of(DType.FLOAT, -1)).build());
        ThresholdMethod mse = ThresholdMethod.mse();
        FakeQuantInsertion fq = FakeQuantInsertion.builder().weightMethod(mse).build();
        assertEquals(mse, fq.weightMethod());
        assertEquals(ThresholdMethod.minmax(), FakeQuantInsertion.standard().weightMethod());
        Graph out = fq.transform(g);
        AxisView hwio = AxisView.of(wt.shape().dims(), 3);
        assertArrayEquals(WeightFakeQuant.apply(v, hwio, 127, mse), out.node("w").attrTensor("value").floats());
    }

    @Test
    void badArgumentsAreRefused() {
        assertThrows(KilnArgumentException.class, () -> WeightRanges.amax(new float[4], AxisView.perTensor(4), null));
        assertThrows(KilnArgumentException.class, () -> WeightRanges.amax(new float[4], AxisView.perTensor(5),
                ThresholdMethod.mse()));
        assertThrows(KilnArgumentException.class, () -> FakeQuantInsertion.builder().weightMethod(null));
    }
}
