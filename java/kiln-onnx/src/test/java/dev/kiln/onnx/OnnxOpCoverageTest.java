package dev.kiln.onnx;

import dev.kiln.eval.TensorComparison;
import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.Tensor;
import dev.kiln.passes.Passes;
import dev.kiln.tensorflow.ImportOptions;
import dev.kiln.tensorflow.TfImporter;
import dev.kiln.tensorflow.TfTensors;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.Result;
import org.tensorflow.Session;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every TF op in the ONNX lowering table, proven on a graph built with TF Java: TensorFlow runs the original graph,
 * Kiln imports the frozen GraphDef, exports it to ONNX as imported and after optimizeForInference, and ONNX Runtime
 * runs both on the same inputs (at the default opset, or the one the graph's ops need). Float outputs agree within
 * the case's relative tolerance (1e-4), integer and bool outputs exactly; a case with only float outputs is also
 * exported as FP16 and agrees within 1e-2. Each case first checks that the ops it proves are in the imported graph,
 * so that the export as imported lowers them.
 */
class OnnxOpCoverageTest {
    /** Ops without a case of their own, and why. */
    static final Map<String, String> WITHOUT_OWN_CASE = Map.ofEntries(
            Map.entry("Placeholder", "every case (its inputs)"),
            Map.entry("Const", "every case with constants"),
            Map.entry("NoOp", "none needed: only control edges reach it, and the export follows data edges"),
            // control flow kept at import: proven on whole models at several sequence lengths, not per op
            Map.entry("PartitionedCall", "KeptLstmOnnxTest (a Keras LSTM kept whole)"),
            Map.entry("While", "KeptControlFlowOnnxTest (hand-built loop, stateful ops)"),
            Map.entry("StatelessWhile", "KeptControlFlowOnnxTest (hand-built loop; Keras LSTM as a loop)"),
            Map.entry("If", "KeptControlFlowOnnxTest (hand-built loop, stateful ops)"),
            Map.entry("StatelessIf", "KeptControlFlowOnnxTest (hand-built loop)"),
            Map.entry("Case", "KeptControlFlowOnnxTest (hand-built loop, stateful ops)"),
            Map.entry("StatelessCase", "KeptControlFlowOnnxTest (hand-built loop)"),
            Map.entry("TensorListFromTensor", "KeptControlFlowOnnxTest"),
            Map.entry("TensorListReserve", "KeptControlFlowOnnxTest"),
            Map.entry("TensorListGetItem", "KeptControlFlowOnnxTest"),
            Map.entry("TensorListSetItem", "KeptControlFlowOnnxTest"),
            Map.entry("TensorListStack", "KeptControlFlowOnnxTest"));

    /** FP16 (float16 weights and compute, float32 inputs and outputs): relative to the output's largest value. */
    static final double FP16_TOLERANCE = 1e-2;

    @TempDir
    static Path dir;

    @TestFactory
    Stream<DynamicTest> tensorflowAndOnnxRuntimeAgree() {
        return OnnxOpCases.all().stream().map(c -> DynamicTest.dynamicTest(c.name(), () -> verify(c)));
    }

    @Test
    void everyRegisteredOpHasACase() {
        Set<String> proven = new TreeSet<>();
        for (OnnxOpCases.Case c : OnnxOpCases.all()) {
            for (String op : c.ops()) {
                assertTrue(OnnxOpSupport.isSupported(op), "case " + c.name() + " names op " + op
                        + ", which has no ONNX lowering");
                proven.add(op);
            }
        }
        List<String> missing = OnnxLowerings.all().keySet().stream()
                .filter(op -> !proven.contains(op) && !WITHOUT_OWN_CASE.containsKey(op)).toList();
        assertEquals(List.of(), missing, "registered ops without a TF-vs-ONNX Runtime case");
    }

    /** The case names that prove {@code op}, for the table in docs/onnx.md. */
    static List<String> casesOf(String op) {
        return OnnxOpCases.all().stream().filter(c -> c.ops().contains(op)).map(OnnxOpCases.Case::name).toList();
    }

    private static void verify(OnnxOpCases.Case c) throws Exception {
        try (TfOpGraph t = new TfOpGraph(c.name().hashCode())) {
            c.build().accept(t);
            Path pb = dir.resolve(c.name() + ".pb");
            Files.write(pb, t.g.toGraphDef().toByteArray());
            Map<String, Tensor> expected = runTensorFlow(t);
            ImportOptions opts = ImportOptions.builder().inputNames(new ArrayList<>(t.feeds.keySet()))
                    .outputNames(t.outputs).build();
            Graph imported = TfImporter.load(pb, opts);
            Graph optimized = imported.copy();
            Passes.optimizeForInference().run(optimized);
            Set<String> ops = imported.nodes().stream().map(Node::op).collect(Collectors.toSet());
            for (String op : c.ops()) {
                assertTrue(ops.contains(op), c.name() + ": op " + op + " is not in the imported graph (" + ops
                        + "), so this case would not prove its lowering");
            }
            compare(c, "as imported", imported, t.feeds, expected, Precision.FP32, c.tolerance());
            compare(c, "optimized", optimized, t.feeds, expected, Precision.FP32, c.tolerance());
            if (expected.values().stream().allMatch(v -> v.dtype() == DType.FLOAT)) {
                compare(c, "FP16", optimized, t.feeds, expected, Precision.FP16, FP16_TOLERANCE);
            }
        }
    }

    static Map<String, Tensor> runTensorFlow(TfOpGraph t) {
        List<org.tensorflow.Tensor> fed = new ArrayList<>();
        try (Session s = new Session(t.g)) {
            Session.Runner r = s.runner();
            for (Map.Entry<String, Tensor> e : t.feeds.entrySet()) {
                org.tensorflow.Tensor tt = TfTensors.toTf(e.getValue());
                fed.add(tt);
                r.feed(e.getKey(), tt);
            }
            for (String o : t.outputs) {
                r.fetch(o);
            }
            Map<String, Tensor> out = new LinkedHashMap<>();
            try (Result res = r.run()) {
                for (int i = 0; i < t.outputs.size(); i++) {
                    out.put(t.outputs.get(i), TfTensors.fromTf(res.get(i)));
                }
            }
            return out;
        } finally {
            fed.forEach(org.tensorflow.Tensor::close);
        }
    }

    private static void compare(OnnxOpCases.Case c, String which, Graph g, Map<String, Tensor> in,
                                Map<String, Tensor> expected, Precision precision, double tolerance) {
        Path onnx = dir.resolve(c.name() + "-" + which.replace(' ', '-') + ".onnx");
        int opset = OnnxOpSupport.DEFAULT_OPSET; // the default, unless an op of the graph needs a newer one
        for (Node n : g.nodes()) {
            OnnxOpSupport.Mapping m = OnnxOpSupport.mapping(n.op());
            opset = Math.max(opset, m == null ? 0 : m.minOpset());
        }
        OnnxExporter.builder().opset(opset).precision(precision).build().export(g, onnx);
        Map<String, Tensor> actual;
        try (OnnxRunner r = OnnxRunner.open(onnx, 1)) {
            actual = r.run(in);
        }
        for (Map.Entry<String, Tensor> e : expected.entrySet()) {
            String what = c.name() + " (" + which + ") output " + e.getKey();
            Tensor a = actual.get(e.getKey());
            assertTrue(a != null, what + " missing from ONNX Runtime's outputs " + actual.keySet());
            TensorComparison cmp = TensorComparison.compare(e.getValue(), a);
            assertTrue(cmp.shapeAndTypeMatch(), what + ": " + cmp);
            boolean exact = e.getValue().dtype() != DType.FLOAT && e.getValue().dtype() != DType.DOUBLE;
            assertTrue(exact ? cmp.maxAbsError() == 0 : cmp.maxRelError() <= tolerance, what + ": " + cmp);
        }
    }
}
