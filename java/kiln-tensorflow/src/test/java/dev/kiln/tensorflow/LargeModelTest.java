package dev.kiln.tensorflow;

import dev.kiln.graph.Graph;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** ExampleModels.largeModel at 1 MB: its weights are variables of about the asked size, and it round-trips. */
class LargeModelTest {
    @TempDir
    Path tmp;

    @Test
    void oneMegabyteVersionImportsFrozenAndRoundTrips() {
        Path dir = ExampleModels.largeModel(tmp.resolve("large"), 1 << 20);
        Graph graphOnly = TfImporter.load(dir, ImportOptions.builder().loadWeights(false).build());
        assertTrue(graphOnly.opHistogram().getOrDefault("VariableV2", 0) > 5, graphOnly.opHistogram().toString());
        Graph g = TfImporter.load(dir);
        long weightBytes = g.nodes().stream().filter(n -> n.op().equals("Const"))
                .mapToLong(n -> n.attrs().get("value") instanceof dev.kiln.graph.AttrValue.TensorValue t
                        ? t.value().byteSize() : 0).sum();
        assertTrue(weightBytes >= 1 << 20 && weightBytes < 2 << 20, "weights: " + weightBytes + " bytes");
        assertEquals(0, g.opHistogram().getOrDefault("VariableV2", 0));
        assertEquals("[?,10]", g.outputs().get(0).type().shape().toString());
        RoundTrip.check("ExampleModels.largeModel(1 MB)", dir, ImportOptions.defaults(), tmp);
    }
}
