package dev.kiln.tensorflow;

import dev.kiln.eval.RandomInputs;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.graph.TensorType;
import dev.kiln.kernels.AxisView;
import dev.kiln.kernels.JavaKernels;
import dev.kiln.passes.Passes;
import dev.kiln.quant.FakeQuantInsertion;
import dev.kiln.quant.QuantParams;
import dev.kiln.quant.WeightFakeQuant;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * TensorFlow as the oracle for {@link FakeQuantInsertion}: {@link ExampleModels#exampleCnn} → import →
 * optimize_for_inference → symmetric int8 parameters on the input of every Conv2D / DepthwiseConv2dNative / MatMul
 * (amax: max |x| of the FP32 graph run in TF on one random sample; checked on four others, so some values clamp)
 * → fake quant → SavedModel → TF runs it.
 *
 * <p>Checked: every fake-quantized activation that TF computes equals Kiln's bit-exact Java FakeQuant of the float
 * activation TF computed in the same run (so, layer by layer, TF runs exactly the simulated INT8 model); the
 * weights in the SavedModel are the dequantized INT8 weights; the output stays close to FP32 but not equal; and
 * Kiln re-imports the SavedModel with its fake-quant nodes.
 */
class FakeQuantSavedModelOracleTest {
    private static final Set<String> WEIGHTED = Set.of("Conv2D", "DepthwiseConv2dNative", "MatMul");

    @TempDir
    static Path tmp;

    static Graph fp32;
    static Graph fq;
    static Map<String, Tensor> feeds;

    @BeforeAll
    static void build() {
        Path model = ExampleModels.exampleCnn(tmp.resolve("cnn"));
        fp32 = TfImporter.load(model);
        Passes.optimizeForInference().run(fp32);
        // calibrate on one random sample, evaluate on a batch of four others: some of their values clamp
        Set<TensorRef> acts = new LinkedHashSet<>();
        for (Node n : fp32.nodes()) {
            if (WEIGHTED.contains(n.op())) {
                acts.add(n.input(0));
            }
        }
        Map<String, Tensor> calib = fetch(fp32, new ArrayList<>(acts), RandomInputs.forSignature(fp32.inputs(), 1, 1));
        for (TensorRef t : acts) {
            float amax = 0;
            for (float v : calib.get(t.toString()).floats()) {
                amax = Math.max(amax, Math.abs(v));
            }
            fp32.quantization().put(t.toString(), QuantParams.int8Symmetric(amax));
        }
        fq = FakeQuantInsertion.standard().transform(fp32);
        feeds = RandomInputs.forSignature(fp32.inputs(), 2, 4);
    }

    /** Runs {@code g} (written as a SavedModel and opened by TF) and fetches {@code extra} tensors by their text. */
    static Map<String, Tensor> fetch(Graph g, List<TensorRef> extra, Map<String, Tensor> in) {
        Graph probe = g.copy();
        Map<String, Tensor> fed = new LinkedHashMap<>();
        for (SignatureTensor s : g.inputs()) {
            fed.put(s.tensor().toString(), in.get(s.name())); // TF cannot fetch what is fed
        }
        for (TensorRef t : extra) {
            if (fed.containsKey(t.toString())) {
                continue;
            }
            probe.addOutput(new SignatureTensor(t.toString(), t, probe.typeOf(t) != null ? probe.typeOf(t)
                    : TensorType.of(dev.kiln.graph.DType.FLOAT, -1)));
        }
        Path dir = tmp.resolve("probe" + System.nanoTime());
        TfExporter.writeSavedModel(probe, dir);
        try (TfRunner tf = TfRunner.open(dir, ImportOptions.defaults())) {
            Map<String, Tensor> out = new LinkedHashMap<>(tf.run(in));
            out.putAll(fed);
            return out;
        }
    }

    @Test
    void everyFakeQuantInTensorFlowEqualsJavaFakeQuantBitForBit() {
        List<Node> fqs = fq.nodes().stream().filter(n -> n.op().equals(FakeQuantInsertion.FAKE_QUANT)).toList();
        assertEquals(4, fqs.size(), "conv1, dw1, conv3 and logits inputs: " + fqs);
        List<TensorRef> refs = new ArrayList<>();
        for (Node n : fqs) {
            refs.add(n.input(0));
            refs.add(TensorRef.of(n.name(), 0));
        }
        Map<String, Tensor> out = fetch(fq, refs, feeds);
        JavaKernels java = new JavaKernels();
        long elements = 0;
        long clamped = 0;
        for (Node n : fqs) {
            float[] x = out.get(n.input(0).toString()).floats();
            float[] tf = out.get(n.name()).floats();
            float min = fq.constantValue(n.input(1)).floats()[0];
            float max = fq.constantValue(n.input(2)).floats()[0];
            float[] expected = new float[x.length];
            java.fakeQuant(x, AxisView.perTensor(x.length), new float[] {min}, new float[] {max}, 8, true, expected);
            assertArrayEquals(expected, tf, "fake quant '" + n.name() + "'");
            boolean changed = false;
            for (int i = 0; i < x.length; i++) {
                changed |= x[i] != tf[i];
                clamped += Math.abs(x[i]) > max ? 1 : 0;
            }
            assertTrue(changed, "'" + n.name() + "' changes its input");
            elements += x.length;
        }
        assertTrue(clamped > 0, "some activations clamp");
        System.out.printf("fake quant: %d tensors, %d elements bit-identical to Java FakeQuant (%d clamped)%n",
                fqs.size(), elements, clamped);
    }

    @Test
    void savedModelWeightsAreTheDequantizedInt8Weights() {
        Graph back = TfImporter.load(savedModel(fq, "weights"));
        int checked = 0;
        for (Node n : fp32.nodes()) {
            if (!WEIGHTED.contains(n.op())) {
                continue;
            }
            Tensor w = fp32.constantValue(n.input(1));
            long[] d = w.shape().dims();
            AxisView view = n.op().equals("DepthwiseConv2dNative") ? new AxisView(d[0] * d[1], d[2] * d[3], 1)
                    : AxisView.of(d, d.length - 1);
            Tensor got = back.constantValue(back.node(n.name()).input(1));
            assertArrayEquals(WeightFakeQuant.apply(w.floats(), view, 127), got.floats(), n.name());
            checked++;
        }
        assertEquals(4, checked);
    }

    @Test
    void outputIsCloseToFp32AndKilnReimportsTheSavedModel() {
        Path dir = savedModel(fq, "model");
        Map<String, Tensor> ref;
        try (TfRunner tf = TfRunner.of(fp32)) {
            ref = tf.run(feeds);
        }
        Map<String, Tensor> got;
        try (TfRunner tf = TfRunner.open(dir, ImportOptions.defaults())) {
            got = tf.run(feeds);
        }
        float[] a = ref.get("probabilities").floats();
        float[] b = got.get("probabilities").floats();
        double maxDiff = 0;
        for (int i = 0; i < a.length; i++) {
            maxDiff = Math.max(maxDiff, Math.abs(a[i] - b[i]));
        }
        System.out.printf("fake-quantized exampleCnn vs FP32: max |diff| of probabilities %.3g%n", maxDiff);
        assertTrue(maxDiff > 0 && maxDiff < 0.02, "max |diff| " + maxDiff);

        Graph back = TfImporter.load(dir);
        assertEquals(4, back.opHistogram().get(FakeQuantInsertion.FAKE_QUANT));
        for (Node n : back.nodes()) {
            if (n.op().equals(FakeQuantInsertion.FAKE_QUANT)) {
                assertEquals(8, n.attrInt("num_bits"));
                assertTrue(n.attrBool("narrow_range", false));
                assertEquals(fq.constantValue(fq.node(n.name()).input(2)).floats()[0],
                        back.constantValue(n.input(2)).floats()[0]);
            }
        }
        // and runs again from Kiln's IR
        try (TfRunner tf = TfRunner.of(back)) {
            assertArrayEquals(b, tf.run(feeds).get("probabilities").floats());
        }
    }

    @Test
    void explicitPerChannelWeightsRunInTensorFlowAndMatchTheJavaWeights() {
        Graph explicit = FakeQuantInsertion.builder().explicitWeights(true).build().transform(fp32);
        List<Node> fqw = explicit.nodes().stream()
                .filter(n -> n.op().equals(FakeQuantInsertion.FAKE_QUANT_PER_CHANNEL)).toList();
        assertEquals(4, fqw.size(), fqw.toString());
        // the weight each op reads, as TF computes it
        List<TensorRef> refs = new ArrayList<>();
        Map<String, TensorRef> readBy = new LinkedHashMap<>();
        for (Node n : explicit.nodes()) {
            if (WEIGHTED.contains(n.op())) {
                refs.add(n.input(1));
                readBy.put(n.name(), n.input(1));
            }
        }
        Map<String, Tensor> out = fetch(explicit, refs, feeds);
        long total = 0;
        long differ = 0;
        double maxRel = 0;
        for (Map.Entry<String, TensorRef> e : readBy.entrySet()) {
            Node n = fp32.node(e.getKey());
            Tensor w = fp32.constantValue(n.input(1));
            long[] d = w.shape().dims();
            AxisView view = n.op().equals("DepthwiseConv2dNative") ? new AxisView(d[0] * d[1], d[2] * d[3], 1)
                    : AxisView.of(d, d.length - 1);
            float[] java = WeightFakeQuant.apply(w.floats(), view, 127);
            float[] s = WeightFakeQuant.scales(w.floats(), view, 127);
            float[] tf = out.get(e.getValue().toString()).floats();
            for (int i = 0; i < tf.length; i++) {
                total++;
                if (tf[i] != java[i]) {
                    differ++;
                    float scale = s[(int) ((i / view.inner()) % view.channels())];
                    maxRel = Math.max(maxRel, Math.abs(tf[i] - java[i]) / scale);
                }
            }
        }
        System.out.printf("explicit per-channel weights: %d of %d differ from the Java weights, max %.3g steps%n",
                differ, total, maxRel);
        // TF's nudged step (max - min) / 254 may differ from the scale in the last bit; ties round the other way
        assertTrue(maxRel <= 1.0 + 1e-5, "max difference " + maxRel + " steps");
        assertTrue(differ <= total / 100, differ + " of " + total + " weights differ");
    }

    private static Path savedModel(Graph g, String name) {
        Path dir = tmp.resolve(name);
        TfExporter.writeSavedModel(g, dir);
        return dir;
    }
}
