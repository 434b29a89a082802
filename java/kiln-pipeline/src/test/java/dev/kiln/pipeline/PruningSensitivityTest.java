package dev.kiln.pipeline;

import dev.kiln.data.RepresentativeData;
import dev.kiln.graph.Graph;
import dev.kiln.passes.Passes;
import dev.kiln.sparse.PruningPattern;
import dev.kiln.sparse.PruningPlan;
import dev.kiln.sparse.PruningReport;
import dev.kiln.tensorflow.ExampleModels;
import dev.kiln.tensorflow.TfImporter;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The scan and the budgeted plan on the example CNN with random data (cosine cost), and on real MNIST. */
class PruningSensitivityTest {
    @TempDir
    static Path dir;

    static PruningSensitivity sensitivity;

    @BeforeAll
    static void scanOnce() {
        Graph g = TfImporter.load(ExampleModels.exampleCnn(dir.resolve("cnn")));
        Passes.optimizeForInference().run(g);
        RepresentativeData data = RepresentativeData.random(g.inputs(), 7, 16);
        sensitivity = PruningSensitivity.builder(g, data).selection(PruningPlan.builder(
                PruningPattern.unstructured(0.5)).includeFirstAndLast(true).build()).build();
    }

    @Test
    void costsGrowWithSparsityForMostLayers() {
        PruningSensitivity.Table t = sensitivity.scan();
        System.out.println(t.toMarkdown());
        assertEquals(4, t.rows().size(), t.toMarkdown());
        long growing = t.rows().stream().filter(r -> r.costs()[2] >= r.costs()[0]).count();
        assertTrue(growing >= t.rows().size() - 1, t.toMarkdown());
        t.rows().forEach(r -> assertTrue(r.costs()[2] > 0, r.layer() + " pruned 90% changed nothing"));
    }

    @Test
    void aLooseBudgetReachesTheTarget() {
        PruningSensitivity.Plan p = sensitivity.plan(0.6, 1.0);
        System.out.println(p);
        assertTrue(p.met(), p.toString());
        assertTrue(p.global() >= 0.6 && p.cost() <= 1.0, p.toString());
        Graph g = TfImporter.load(dir.resolve("cnn"));
        Passes.optimizeForInference().run(g);
        PruningReport r = p.apply(g);
        long pruned = p.sparsities().values().stream().filter(s -> s > 0).count();
        assertEquals(pruned, r.layers().size());
    }

    @Test
    void aTightBudgetIsNotMet() {
        PruningSensitivity.Plan p = sensitivity.plan(0.6, 0.0);
        System.out.println(p);
        assertFalse(p.met(), p.toString());
        assertTrue(p.global() < 0.6, p.toString());
        assertTrue(p.toString().startsWith("target not met"), p.toString());
    }

    @Test
    void mnistSensitivityTable() {
        Path model = SharedMnist.models().resolve("kotlindl_mnist1_saved_model");
        assumeTrue(Files.isDirectory(model) && Files.isDirectory(SharedMnist.mnist()),
                "skipped: ../shared (models and MNIST data) is absent");
        Graph g = TfImporter.load(model);
        Passes.optimizeForInference().run(g);
        PruningSensitivity s = PruningSensitivity.builder(g, SharedMnist.images(g, 5000, 5000))
                .labels(SharedMnist.labels(5000, 5000))
                .selection(PruningPlan.builder(PruningPattern.unstructured(0.5)).includeFirstAndLast(true).build())
                .build();
        System.out.println("kotlindl_mnist1_saved_model, images 5000-9999\n" + s.scan().toMarkdown());
        System.out.println("plan(0.6, 1.0): " + s.plan(0.6, 1.0));
        System.out.println("plan(0.8, 1.0): " + s.plan(0.8, 1.0));
        assertFalse(s.scan().rows().isEmpty());
    }
}
