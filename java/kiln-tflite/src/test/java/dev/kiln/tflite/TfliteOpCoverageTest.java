package dev.kiln.tflite;

import dev.kiln.KilnException;
import dev.kiln.calib.CalibrationTable;
import dev.kiln.calib.ThresholdMethod;
import dev.kiln.data.RepresentativeData;
import dev.kiln.eval.RandomInputs;
import dev.kiln.eval.TensorComparison;
import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Tensor;
import dev.kiln.passes.Passes;
import dev.kiln.tensorflow.TfRunner;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Hand-built graphs with the ops no model of ../shared has, against TensorFlow running the same IR: FP32 within 1e-4
 * relative, FP16 within 1e-2; full INT8 (random-data calibration) close to float (cosine >= 0.99 per output), with
 * Exp computed in float32 between DEQUANTIZE and QUANTIZE since TFLite has no int8 kernel for it.
 */
class TfliteOpCoverageTest {

    @Test
    void opsWithoutARealModelMatchTensorFlow() {
        check(TestGraphs.coverage(7), true);
    }

    @Test
    void resizeSplitAndTileMatchTensorFlow() {
        check(TestGraphs.resizeSplitTile(9), false);
    }

    @Test
    void unrolledRnnUnpackAndFillMatchTensorFlow() {
        check(TestGraphs.unrolledRnn(13), false);
        Graph optimized = TestGraphs.unrolledRnn(13);
        Passes.optimizeForInference().run(optimized);
        check(optimized, false);
    }

    @Test
    void reverseSelectAndElementwiseMathMatchTensorFlow() {
        check(TestGraphs.maskedBidirectional(17), true);
    }

    @Test
    void argMinArgMaxAndOneHotMatchTensorFlow() {
        check(TestGraphs.indices(19), false);
    }

    @Test
    void tf1SelectOfUnknownRankIsRefusedNamingTheNode() {
        TestGraphs t = new TestGraphs(1);
        String x = t.input("x", -1, 6, 8);
        String cond = t.boolInput("cond", -1);
        String sel = t.op("pick", "Select", cond, t.op("a", "Relu", x), t.op("b", "Neg", x));
        t.output("y", sel, -1, 6, 8);
        KilnException e = assertThrows(KilnException.class, () -> TfliteExporter.fp32().toBytes(t.graph()));
        assertTrue(e.getMessage().contains("node 'pick' (Select)") && e.getMessage().contains("rank"),
                e.getMessage());
    }

    @Test
    void smallCnnMatchesTensorFlowUnoptimizedAndOptimized() {
        check(TestGraphs.cnn(3), false);
        Graph optimized = TestGraphs.cnn(3);
        Passes.optimizeForInference().run(optimized);
        check(optimized, false);
    }

    @Test
    void twoInputMlpMatchesTensorFlow() {
        check(TestGraphs.mlp(5), false);
    }

    private static void check(Graph g, boolean expectFloatIsland) {
        Map<String, Tensor> in = RandomInputs.forSignature(g.inputs(), 11, 2);
        Map<String, Tensor> tf;
        try (TfRunner r = TfRunner.of(g)) {
            tf = r.run(in);
        }
        double err32 = TfliteOracleTest.worst(tf, run(TfliteExporter.fp32().toBytes(g), in), "FP32");
        double err16 = TfliteOracleTest.worst(tf, run(TfliteExporter.builder().precision(TflitePrecision.FP16).build()
                .toBytes(g), in), "FP16");
        System.out.printf(java.util.Locale.ROOT, "op coverage %s: FP32 max rel error %.2e, FP16 %.2e%n",
                g.outputs().stream().map(o -> o.name()).toList(), err32, err16);
        assertTrue(err32 <= 1e-4, "FP32 rel error " + err32);
        assertTrue(err16 <= 1e-2, "FP16 rel error " + err16);

        RepresentativeData calib = RepresentativeData.random(g.inputs(), 1, 64).withBatchSize(16);
        CalibrationTable table = Mnist.calibrate(g, calib, ThresholdMethod.minmax());
        byte[] int8 = TfliteExporter.builder().precision(TflitePrecision.INT8).table(table).build().toBytes(g);
        Map<String, Tensor> q = run(int8, in);
        for (Map.Entry<String, Tensor> e : tf.entrySet()) {
            if (e.getValue().dtype() != DType.FLOAT) { // indices: 8-bit codes can tie where floats do not
                double same = agreement(e.getValue(), q.get(e.getKey()));
                System.out.printf(java.util.Locale.ROOT, "  INT8 %s indices equal to TF's: %.3f%n", e.getKey(), same);
                assertTrue(same >= 0.9, "INT8 output " + e.getKey() + ": " + same + " of the indices equal TF's");
                continue;
            }
            double cos = cosine(e.getValue().asFloats(), q.get(e.getKey()).asFloats());
            System.out.printf(java.util.Locale.ROOT, "  INT8 %s cosine %.5f%n", e.getKey(), cos);
            assertTrue(cos >= 0.99, "INT8 output " + e.getKey() + ": cosine " + cos + " to TF");
        }
        byte[] dyn = TfliteExporter.builder().precision(TflitePrecision.DYNAMIC_RANGE).build().toBytes(g);
        for (Map.Entry<String, Tensor> e : run(dyn, in).entrySet()) {
            double cos = cosine(tf.get(e.getKey()).asFloats(), e.getValue().asFloats());
            assertTrue(cos >= 0.99, "dynamic range output " + e.getKey() + ": cosine " + cos + " to TF");
            TensorComparison c = TensorComparison.compare(tf.get(e.getKey()), e.getValue());
            assertTrue(c.shapeAndTypeMatch(), c.toString());
        }
    }

    /** The fraction of equal elements of two integer tensors of one shape. */
    static double agreement(Tensor expected, Tensor actual) {
        TensorComparison c = TensorComparison.compare(expected, actual);
        assertTrue(c.shapeAndTypeMatch(), c.toString());
        long[] a = expected.asLongs();
        long[] b = actual.asLongs();
        int same = 0;
        for (int i = 0; i < a.length; i++) {
            same += a[i] == b[i] ? 1 : 0;
        }
        return a.length == 0 ? 1 : same / (double) a.length;
    }

    static Map<String, Tensor> run(byte[] model, Map<String, Tensor> in) {
        try (TfliteRunner r = TfliteRunner.of(model, 1, "test model")) {
            return r.run(in);
        }
    }

    static double cosine(float[] a, float[] b) {
        double dot = 0;
        double na = 0;
        double nb = 0;
        for (int i = 0; i < a.length; i++) {
            dot += a[i] * (double) b[i];
            na += a[i] * (double) a[i];
            nb += b[i] * (double) b[i];
        }
        return na == 0 && nb == 0 ? 1 : dot / Math.sqrt(na * nb);
    }
}
