package dev.kiln.tensorflow;

import dev.kiln.ErrorCode;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Shape;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.SavedModel;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Functional control flow lowered at import (While unrolled, If inlined, TensorList ops as plain tensors), each
 * model checked against TensorFlow running the original on the same random inputs; and the refusals for what a
 * static shape would fix.
 */
class ControlFlowImportTest {
    private static final ImportOptions UNROLL = ImportOptions.builder().recurrentLayers(RecurrentLayers.UNROLL).build();

    @TempDir
    Path tmp;

    private static long count(Graph g, String op) {
        return g.nodes().stream().filter(n -> n.op().equals(op)).count();
    }

    private static void assertPlain(Graph g) {
        assertFalse(g.nodes().stream().anyMatch(n -> TfOpSupport.isControlFlow(n.op())),
                "control flow left: " + g.nodes().stream().filter(n -> TfOpSupport.isControlFlow(n.op())).toList());
    }

    @Test
    void kerasLstmUnrollsAndMatchesTensorFlow() {
        Path model = RoundTrip.sharedModels().resolve("tfnet_keras_lstm_from_sequential");
        RoundTrip.check("tfnet_keras_lstm_from_sequential", model, ImportOptions.defaults(), tmp);
        Graph g = TfImporter.load(model);
        assertPlain(g);
        // 5 time steps: the cell's two MatMuls once per step (the step Keras traces outside the loop is pruned)
        assertEquals(10, count(g, "MatMul") - 1, "MatMuls besides the Dense layer's");
    }

    @Test
    void handBuiltWhileCaseAndIfUnrollAndMatchTensorFlow() throws IOException {
        Path pb = WhileLoopGraphs.rnn(tmp.resolve("rnn.pb"), 4);
        RoundTrip.check("hand-built While + Case + If", pb, ImportOptions.defaults(), tmp);
        Graph g = TfImporter.load(pb);
        assertPlain(g);
        assertEquals(4, count(g, "MatMul"), "one body per time step");
        assertEquals(1, count(g, "Unpack"));
        assertEquals(1, count(g, "Pack"));
        assertEquals(2, count(g, "Neg"), "the Case negates at the odd steps 1 and 3; the If's else-branch (steps 4 "
                + "> 2) is not taken");
        assertEquals(3, count(g, "Mul"), "the Case doubles at the even steps 0 and 2, the If's then-branch once");
    }

    @Test
    void unknownTimeDimensionIsRefusedWhenUnrollingWithTheFlagThatFixesIt() throws IOException {
        Path pb = WhileLoopGraphs.rnn(tmp.resolve("rnn_any_length.pb"), -1);
        NotRunnableModelsTest.importFails(pb, UNROLL, ErrorCode.UNSUPPORTED, pb.toString(),
                "While loop 'loop'", "no trip count", "'xt'", "x [?,?,3]", "--input-shapes x[-1,N,3]");
        ImportOptions fixed = ImportOptions.builder().inputShapes(Map.of("x", Shape.of(-1, 4, 3))).build();
        RoundTrip.check("hand-built While, steps given", pb, fixed, tmp);
    }

    @Test
    void loopLongerThanTheLimitIsRefusedWhenUnrollingAndKeptOtherwise() throws IOException {
        Path pb = WhileLoopGraphs.rnn(tmp.resolve("rnn_long.pb"), ControlFlowLowering.MAX_ITERATIONS + 1);
        NotRunnableModelsTest.importFails(pb, UNROLL, ErrorCode.UNSUPPORTED, "While loop 'loop'",
                "more than 1000 iterations");
        Graph g = TfImporter.load(pb);
        assertEquals(1, count(g, "StatelessWhile"), g.opHistogram().toString());
        assertEquals(0, count(g, "MatMul"), "no unrolled body left: " + g.opHistogram());
        RoundTrip.check("hand-built While of 1001 steps, kept", pb, ImportOptions.defaults(), tmp);
    }

    @Test
    void unknownLengthLoopAndRunTimeBranchesAreKeptAndTensorFlowRunsThem() throws IOException {
        Path pb = WhileLoopGraphs.rnn(tmp.resolve("rnn_any_length.pb"), -1);
        Graph g = TfImporter.load(pb);
        assertEquals(1, count(g, "StatelessWhile"), g.opHistogram().toString());
        assertEquals(1, count(g, "StatelessIf"), "the If after the loop depends on the length: kept");
        assertTrue(g.functions().keySet().containsAll(java.util.List.of("loop_cond", "loop_body", "double_it",
                "negate_it")), g.functions().keySet().toString());
        Graph body = g.subgraphs().get("loop/body");
        assertEquals(6, body.inputs().size());
        assertEquals(6, body.outputs().size());
        assertEquals(1, count(body, "StatelessCase"), "the Case on the step's parity is kept in the body");
        assertEquals(2, body.subgraphs().size(), "its two branches: " + body.subgraphs().keySet());
        assertTrue(g.subgraphs().containsKey("loop/cond") && g.subgraphs().containsKey("branch/then_branch")
                && g.subgraphs().containsKey("branch/else_branch"), g.subgraphs().keySet().toString());
        java.nio.file.Path sm = tmp.resolve("kept_loop_saved_model");
        TfExporter.writeSavedModel(g, sm);
        for (int steps : new int[] {1, 2, 3, 6}) {
            dev.kiln.graph.SignatureTensor x = g.inputs().stream().filter(s -> s.name().equals("x")).findFirst()
                    .orElseThrow();
            java.util.List<dev.kiln.graph.SignatureTensor> fixed = new java.util.ArrayList<>();
            for (dev.kiln.graph.SignatureTensor s : g.inputs()) {
                fixed.add(s == x ? new dev.kiln.graph.SignatureTensor(s.name(), s.tensor(),
                        new dev.kiln.graph.TensorType(s.type().dtype(), Shape.of(2, steps, 3))) : s);
            }
            var in = dev.kiln.eval.RandomInputs.forSignature(fixed, steps, 2);
            java.util.Map<String, dev.kiln.graph.Tensor> expected;
            try (TfRunner r = TfRunner.open(pb, ImportOptions.defaults())) {
                expected = r.run(in);
            }
            try (TfRunner ir = TfRunner.of(g); TfRunner saved = TfRunner.open(sm, ImportOptions.defaults())) {
                var fromIr = ir.run(in);
                var fromSaved = saved.run(in);
                for (String name : expected.keySet()) {
                    var c = dev.kiln.eval.TensorComparison.compare(expected.get(name), fromIr.get(name));
                    assertTrue(c.within(RoundTrip.TOLERANCE), steps + " steps, IR, " + name + ": " + c);
                    c = dev.kiln.eval.TensorComparison.compare(expected.get(name), fromSaved.get(name));
                    assertTrue(c.within(RoundTrip.TOLERANCE), steps + " steps, SavedModel, " + name + ": " + c);
                }
            }
        }
    }

    @Test
    void kerasLstmWithUnknownTimeStepsIsRefusedWhenUnrollingThenImportsWithInputShapes() throws IOException {
        Path original = RoundTrip.sharedModels().resolve("tfnet_keras_lstm_from_sequential");
        Path m = KerasLstmModels.anyLength(original, tmp.resolve("lstm_any_length"));
        NotRunnableModelsTest.importFails(m, UNROLL, ErrorCode.UNSUPPORTED, m.toString(),
                "While loop '", "/while'", "input_1 [?,?,3]", "--input-shapes input_1[-1,N,3]");
        ImportOptions fixed = ImportOptions.builder().inputShapes(Map.of("input_1", Shape.of(-1, 5, 3))).build();
        RoundTrip.check("keras lstm, steps given", m, fixed, tmp);
        Graph g = TfImporter.load(m, fixed);
        assertEquals(Shape.of(-1, 5, 3), g.inputs().get(0).type().shape());
        assertPlain(g);
    }

    @Test
    void lstmSavedOnAGpuMachineImportsTheCpuImplementation() throws IOException {
        Path original = RoundTrip.sharedModels().resolve("tfnet_keras_lstm_from_sequential");
        Path m = KerasLstmModels.copy(original, tmp.resolve("lstm_gpu"));
        // what Keras writes when it traces on a GPU: the serving path calls gpu_lstm_with_fallback (CudnnRNN); the
        // library's standard_lstm with the same api_implements is the CPU variant TensorFlow's implementation
        // selector swaps in
        SavedModel.Builder sm = SavedModel.parseFrom(Files.readAllBytes(m.resolve("saved_model.pb"))).toBuilder();
        var lib = sm.getMetaGraphsBuilder(0).getGraphDefBuilder().getLibraryBuilder();
        int swapped = 0;
        for (int f = 0; f < lib.getFunctionCount(); f++) {
            var fn = lib.getFunctionBuilder(f);
            for (int i = 0; i < fn.getNodeDefCount(); i++) {
                NodeDef n = fn.getNodeDef(i);
                if (n.getOp().equals("PartitionedCall")
                        && n.getAttrOrThrow("f").getFunc().getName().equals("__inference_standard_lstm_3635")) {
                    var attr = n.getAttrOrThrow("f").toBuilder();
                    attr.getFuncBuilder().setName("__inference_gpu_lstm_with_fallback_3729");
                    fn.setNodeDef(i, n.toBuilder().putAttr("f", attr.build()));
                    swapped++;
                }
            }
        }
        assertEquals(1, swapped, "the serving path's LSTM call");
        Files.write(m.resolve("saved_model.pb"), sm.build().toByteArray());

        Graph g = TfImporter.load(m);
        assertEquals(0, count(g, "CudnnRNN"));
        assertPlain(g);
        var in = dev.kiln.eval.RandomInputs.forSignature(g.inputs(), 7, 3);
        java.util.Map<String, dev.kiln.graph.Tensor> expected;
        try (TfRunner r = TfRunner.open(original, ImportOptions.defaults())) {
            expected = r.run(in);
        }
        try (TfRunner r = TfRunner.of(g)) {
            var c = dev.kiln.eval.TensorComparison.compare(expected.get("dense"), r.run(in).get("dense"));
            assertTrue(c.within(RoundTrip.TOLERANCE), c.toString());
        }
    }
}
