package dev.kiln.onnx;

import dev.kiln.calib.ThresholdMethod;
import dev.kiln.eval.RandomInputs;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Tensor;
import dev.kiln.onnx.proto.Onnx.ModelProto;
import dev.kiln.onnx.proto.Onnx.StringStringEntryProto;
import dev.kiln.quant.FakeQuantInsertion;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The INT8 weight method of the ONNX export: max |w| by default, and the same weights as the fake-quant SavedModel. */
class Int8WeightMethodTest {
    private static final String[] WEIGHTS = {"conv1/kernel", "dw1/kernel", "conv2/kernel", "fc/kernel"};

    private static Map<String, Tensor> inits(Graph g, Precision p, ThresholdMethod method) {
        OnnxExporter.Builder b = OnnxExporter.builder().precision(p);
        if (method != null) {
            b.int8WeightMethod(method);
        }
        return OnnxReader.initializers(b.build().toModel(g));
    }

    private static String metadata(ModelProto m, String key) {
        return m.getMetadataPropsList().stream().filter(e -> e.getKey().equals(key))
                .map(StringStringEntryProto::getValue).findFirst().orElse(null);
    }

    /** Kiln's weight scales before weight methods existed: max |w| per channel / 127. */
    private static float[] maxScales(float[] w, long[] dims, int axis) {
        long inner = 1;
        for (int i = axis + 1; i < dims.length; i++) {
            inner *= dims[i];
        }
        float[] amax = new float[(int) dims[axis]];
        for (int i = 0; i < w.length; i++) {
            int c = (int) ((i / inner) % dims[axis]);
            amax[c] = Math.max(amax[c], Math.abs(w[i]));
        }
        float[] s = new float[amax.length];
        for (int c = 0; c < s.length; c++) {
            s[c] = amax[c] > 0 ? amax[c] / 127 : 1f;
        }
        return s;
    }

    @Test
    void theDefaultIsMaxAbsAndBitIdenticalToExplicitMinmax() {
        Graph g = TestGraphs.cnn(21);
        Map<String, Tensor> in = RandomInputs.forSignature(g.inputs(), 3, 4);
        MinMaxCalibration.minMax(g, in, MinMaxCalibration.ortFp32(in));
        for (Precision p : new Precision[] {Precision.INT8, Precision.INT8_WEIGHTS_ONLY}) {
            Map<String, Tensor> dflt = inits(g, p, null);
            Map<String, Tensor> minmax = inits(g, p, ThresholdMethod.minmax());
            assertEquals(dflt.keySet(), minmax.keySet(), p.toString());
            for (String k : dflt.keySet()) {
                assertEquals(dflt.get(k).bytes(), minmax.get(k).bytes(), p + " initializer " + k);
            }
        }
        // and the scales are the max |w| ones: conv weights OIHW on axis 0, the dense one [K, N] on axis 1
        Map<String, Tensor> w8 = inits(g, Precision.INT8, null);
        for (String w : WEIGHTS) {
            Tensor f = w8.get(w);
            int axis = w.startsWith("fc") ? 1 : 0;
            assertArrayEquals(maxScales(f.floats(), f.shape().dims(), axis), w8.get(w + "/scale").floats(), w);
        }
        ModelProto m = OnnxExporter.builder().precision(Precision.INT8).build().toModel(g);
        assertEquals("minmax", metadata(m, "kiln.int8_weight_method"));
    }

    @Test
    void onnxAndFakeQuantComputeWithTheSameWeightsForMse() {
        Graph g = TestGraphs.cnn(22);
        ThresholdMethod mse = ThresholdMethod.mse();
        ModelProto m = OnnxExporter.builder().precision(Precision.INT8_WEIGHTS_ONLY).int8WeightMethod(mse).build()
                .toModel(g);
        assertEquals("mse", metadata(m, "kiln.int8_weight_method"));
        Map<String, Tensor> onnx = OnnxReader.initializers(m);
        Map<String, Tensor> byMax = inits(g, Precision.INT8_WEIGHTS_ONLY, null);
        Graph fq = FakeQuantInsertion.builder().weightMethod(mse).build().transform(g);
        boolean clipped = false;
        for (String w : WEIGHTS) {
            Tensor original = g.node(w).attrTensor("value");
            float[] expected = fq.node(w).attrTensor("value").floats(); // HWIO / [H, W, C, M] / [K, N]
            long[] codes = onnx.get(w + "/int8").asLongs();
            float[] scale = onnx.get(w + "/scale").floats();
            long[] d = original.shape().dims();
            float[] dequantized = new float[expected.length];
            if (w.startsWith("fc")) { // [K, N], channel N on axis 1 in both
                for (int i = 0; i < codes.length; i++) {
                    dequantized[i] = (int) codes[i] * scale[(int) (i % d[1])];
                }
            } else { // ONNX [O, I, H, W] (depthwise: [C * M, 1, H, W]) back to TF's [H, W, I, O]
                long hh = d[0];
                long ww = d[1];
                boolean dw = w.startsWith("dw");
                long ci = dw ? 1 : d[2];
                long co = dw ? d[2] * d[3] : d[3];
                for (long o = 0; o < co; o++) {
                    for (long i = 0; i < ci; i++) {
                        for (long y = 0; y < hh; y++) {
                            for (long x = 0; x < ww; x++) {
                                long src = ((o * ci + i) * hh + y) * ww + x;
                                long dst = ((y * ww + x) * ci + i) * co + o;
                                dequantized[(int) dst] = (int) codes[(int) src] * scale[(int) o];
                            }
                        }
                    }
                }
            }
            for (int i = 0; i < expected.length; i++) {
                assertEquals(Float.floatToIntBits(expected[i]), Float.floatToIntBits(dequantized[i]),
                        w + " element " + i + ": fake quant " + expected[i] + ", ONNX " + dequantized[i]);
            }
            float[] max = byMax.get(w + "/scale").floats();
            for (int c = 0; c < scale.length; c++) {
                clipped |= scale[c] < max[c];
            }
        }
        assertTrue(clipped, "mse chose a range below max |w| somewhere, so the comparison covers clipping");
    }
}
