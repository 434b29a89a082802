package dev.kiln.tensorflow;

import dev.kiln.eval.RandomInputs;
import dev.kiln.eval.TensorComparison;
import dev.kiln.graph.Graph;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.Tensor;
import org.junit.jupiter.api.Assumptions;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Test helper: the shared models folder and the import → export → run-through-TF round trip. */
final class RoundTrip {
    static final double TOLERANCE = 1e-5;

    private RoundTrip() {
    }

    /** ../shared/models, or skips the test with the reason when it is absent. */
    static Path sharedModels() {
        String root = System.getProperty("kiln.repo.root", ".");
        Path p = Path.of(root).resolve("../shared/models").normalize();
        Assumptions.assumeTrue(Files.isDirectory(p), "shared models folder " + p + " is absent (fresh clone without"
                + " ../shared): skipping tests on real models");
        return p;
    }

    /**
     * Imports {@code model}, writes it as a SavedModel and a frozen graph under {@code tmp}, runs the original and
     * both exports (and the IR itself) through TensorFlow on the same random inputs and checks every output agrees
     * within {@link #TOLERANCE}. Returns the worst relative error.
     */
    static double check(String label, Path model, ImportOptions opts, Path tmp) {
        return check(label, model, opts, tmp, 3);
    }

    static double check(String label, Path model, ImportOptions opts, Path tmp, int batch) {
        Graph g = TfImporter.load(model, opts);
        assertFalse(g.nodes().stream().anyMatch(n -> n.op().equals("VarHandleOp") || n.op().equals("VariableV2")
                || n.op().equals("ReadVariableOp")), label + ": variables left after freezing");
        assertFalse(g.nodes().stream().anyMatch(n -> n.op().endsWith("PartitionedCall")), label + ": calls left");
        Path sm = tmp.resolve(label.replaceAll("[^A-Za-z0-9_.-]", "_") + "_saved_model");
        Path pb = tmp.resolve(label.replaceAll("[^A-Za-z0-9_.-]", "_") + ".pb");
        TfExporter.writeSavedModel(g, sm);
        TfExporter.writeFrozenGraph(g, pb);
        assertTrue(Files.isRegularFile(sm.resolve("saved_model.pb")));
        Map<String, Tensor> feeds = RandomInputs.forSignature(g.inputs(), 42, batch);
        Map<String, Tensor> expected;
        try (TfRunner r = TfRunner.open(model, opts)) {
            expected = r.run(feeds);
        }
        List<Map<String, Tensor>> actual = new ArrayList<>();
        try (TfRunner r = TfRunner.open(sm, ImportOptions.builder().signature(g.metadata().get("signature")).build())) {
            actual.add(r.run(feeds));
        }
        try (TfRunner r = TfRunner.of(g)) {
            actual.add(r.run(feeds));
        }
        List<String> ins = g.inputs().stream().map(s -> s.tensor().toString()).toList();
        List<String> outs = g.outputs().stream().map(s -> s.tensor().toString()).toList();
        try (TfRunner r = TfRunner.open(pb, ImportOptions.builder().inputNames(ins).outputNames(outs).build())) {
            Map<String, Tensor> f = new LinkedHashMap<>();
            for (SignatureTensor s : g.inputs()) {
                f.put(s.tensor().toString(), feeds.get(s.name()));
            }
            Map<String, Tensor> raw = r.run(f);
            Map<String, Tensor> byName = new LinkedHashMap<>();
            for (SignatureTensor s : g.outputs()) {
                byName.put(s.name(), raw.get(s.tensor().toString()));
            }
            actual.add(byName);
        }
        double worst = 0;
        String[] kinds = {"SavedModel", "IR", "frozen .pb"};
        for (int k = 0; k < actual.size(); k++) {
            assertEquals(expected.keySet(), actual.get(k).keySet(), label + " " + kinds[k] + ": output names");
            for (String name : expected.keySet()) {
                TensorComparison c = TensorComparison.compare(expected.get(name), actual.get(k).get(name));
                assertTrue(c.within(TOLERANCE), label + " " + kinds[k] + " output " + name + ": " + c);
                worst = Math.max(worst, c.maxRelError());
            }
        }
        System.out.printf("%-55s nodes %5s -> %4d  outputs %s  max rel error %.2g%n", label,
                g.metadata().getOrDefault("original_nodes", "?"), g.size(), expected.keySet(), worst);
        return worst;
    }
}
