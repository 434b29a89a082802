package dev.kiln.tensorflow;

import dev.kiln.eval.RandomInputs;
import dev.kiln.eval.TensorComparison;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.RecurrentCall;
import dev.kiln.graph.Shape;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.types.TFloat32;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A Keras LSTM kept whole at import (one call of its {@code standard_lstm} function, the function and its loop in the
 * graph's library): what {@link RecurrentLayers#AUTO} does for a sequence of unknown length and
 * {@link RecurrentLayers#KEEP} for any. TensorFlow running the original model is the oracle, at several lengths.
 */
class KeptRecurrentLayerTest {
    @TempDir
    Path tmp;

    private static List<Node> keptCalls(Graph g) {
        return g.nodes().stream().filter(n -> RecurrentCall.of(n) != null).toList();
    }

    /** Random [batch, steps, 3] inputs for the LSTM's one input. */
    private static Map<String, Tensor> feeds(Graph g, int batch, int steps, long seed) {
        SignatureTensor in = g.inputs().get(0);
        SignatureTensor fixed = new SignatureTensor(in.name(), in.tensor(),
                new TensorType(in.type().dtype(), Shape.of(batch, steps, 3)));
        return RandomInputs.forSignature(List.of(fixed), seed, batch);
    }

    @Test
    void anyLengthLstmIsKeptWholeAndRunsAtEveryLength() throws IOException {
        Path m = KerasLstmModels.anyLength(KerasLstmModels.shared(), tmp.resolve("lstm_any_length"));
        Graph g = TfImporter.load(m, ImportOptions.defaults());
        List<Node> calls = keptCalls(g);
        assertEquals(1, calls.size(), "one kept LSTM call: " + g.opHistogram());
        assertEquals(new RecurrentCall(RecurrentCall.Kind.KERAS_LSTM, false, false, false), RecurrentCall.of(calls.get(0)));
        assertEquals(0, g.nodes().stream().filter(n -> TfOpSupport.isControlFlow(n.op())).count(), "no loop in the graph");
        String fn = calls.get(0).attrs().get("f") instanceof dev.kiln.graph.AttrValue.Func f ? f.name() : null;
        assertNotNull(fn);
        assertTrue(g.functions().containsKey(fn), "the called function is in the library: " + g.functions().keySet());
        assertTrue(g.functions().size() >= 3, "with its loop's condition and body: " + g.functions().keySet());
        assertEquals(Shape.of(-1, 32), g.typeOf(dev.kiln.graph.TensorRef.of(calls.get(0).name(), 0)).shape());

        Path sm = tmp.resolve("kept_saved_model");
        TfExporter.writeSavedModel(g, sm);
        for (int steps : new int[] {1, 4, 11}) {
            Map<String, Tensor> in = feeds(g, 3, steps, 7 + steps);
            Map<String, Tensor> expected;
            try (TfRunner r = TfRunner.open(m, ImportOptions.defaults())) {
                expected = r.run(in);
            }
            try (TfRunner r = TfRunner.of(g)) {
                assertClose(expected, r.run(in), "IR at " + steps + " steps");
            }
            assertClose(expected, Map.of("dense", callSignature(sm, in.get("input_1"))), "exported SavedModel's "
                    + "serving_default at " + steps + " steps");
        }
    }

    @Test
    void fixedLengthLstmUnrollsByDefaultAndIsKeptOnRequest() {
        Path m = KerasLstmModels.shared();
        Graph unrolled = TfImporter.load(m, ImportOptions.defaults());
        assertEquals(0, keptCalls(unrolled).size(), "5 known steps: unrolled by default");
        assertTrue(unrolled.functions().isEmpty());
        Graph kept = TfImporter.load(m, ImportOptions.builder().recurrentLayers(RecurrentLayers.KEEP).build());
        assertEquals(1, keptCalls(kept).size(), kept.opHistogram().toString());
        Map<String, Tensor> in = feeds(kept, 2, 5, 3);
        try (TfRunner a = TfRunner.of(unrolled); TfRunner b = TfRunner.of(kept)) {
            assertClose(a.run(in), b.run(in), "kept vs unrolled");
        }
    }

    /** TF Java's own signature API on an exported SavedModel: what a serving user calls. */
    private static Tensor callSignature(Path savedModel, Tensor x) {
        try (SavedModelBundle b = SavedModelBundle.load(savedModel.toString(), "serve");
             TFloat32 in = (TFloat32) TfTensors.toTf(x)) {
            try (var result = b.function("serving_default").call(Map.of("input_1", in))) {
                return TfTensors.fromTf(result.get("dense").orElseThrow());
            }
        }
    }

    private static void assertClose(Map<String, Tensor> expected, Map<String, Tensor> actual, String what) {
        for (String name : expected.keySet()) {
            TensorComparison c = TensorComparison.compare(expected.get(name), actual.get(name));
            assertTrue(c.within(RoundTrip.TOLERANCE), what + " output " + name + ": " + c);
        }
    }

    @Test
    void kerasStyleGruIsKeptWholeWhenItsLengthIsUnknownAndUnrolledWhenKnown() throws IOException {
        Path any = KerasGruGraphs.gru(tmp.resolve("gru_any.pb"), -1, true, false);
        Graph kept = TfImporter.load(any, ImportOptions.defaults());
        List<Node> calls = keptCalls(kept);
        assertEquals(1, calls.size(), kept.opHistogram().toString());
        assertEquals(new RecurrentCall(RecurrentCall.Kind.KERAS_GRU, false, false, true), RecurrentCall.of(calls.get(0)));
        Path sm = tmp.resolve("gru_saved_model");
        TfExporter.writeSavedModel(kept, sm);
        for (int steps : new int[] {1, 6}) {
            List<SignatureTensor> fixed = new java.util.ArrayList<>();
            for (SignatureTensor s : kept.inputs()) {
                fixed.add(s.name().equals("x") ? new SignatureTensor(s.name(), s.tensor(),
                        new TensorType(s.type().dtype(), Shape.of(2, steps, 3))) : s);
            }
            Map<String, Tensor> in = RandomInputs.forSignature(fixed, steps, 2);
            Map<String, Tensor> expected;
            try (TfRunner r = TfRunner.open(any, ImportOptions.defaults())) {
                expected = r.run(in);
            }
            try (TfRunner r = TfRunner.open(sm, ImportOptions.defaults())) {
                assertClose(expected, r.run(in), "SavedModel with the kept GRU at " + steps + " steps");
            }
        }
        Path fixedLength = KerasGruGraphs.gru(tmp.resolve("gru_6.pb"), 6, true, false);
        assertEquals(0, keptCalls(TfImporter.load(fixedLength, ImportOptions.defaults())).size(), "6 steps: unrolled");
        RoundTrip.check("Keras-style GRU, 6 steps, unrolled", fixedLength, ImportOptions.defaults(), tmp);
    }
}
