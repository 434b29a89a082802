package dev.kiln.tensorflow;

import dev.kiln.graph.Graph;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Functional control flow (While, If, TensorList ops) lowered at import, checked against TensorFlow. */
class ControlFlowImportTest {
    @TempDir
    Path tmp;

    @Test
    void kerasLstmUnrollsAndMatchesTensorFlow() {
        Path model = RoundTrip.sharedModels().resolve("tfnet_keras_lstm_from_sequential");
        double worst = RoundTrip.check("tfnet_keras_lstm_from_sequential", model, ImportOptions.defaults(), tmp);
        Graph g = TfImporter.load(model);
        assertFalse(g.nodes().stream().anyMatch(n -> TfOpSupport.isControlFlow(n.op())), "control flow left");
        assertTrue(worst < 1e-5);
    }
}
