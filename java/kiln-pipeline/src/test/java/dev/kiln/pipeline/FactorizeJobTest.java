package dev.kiln.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.KilnArgumentException;
import dev.kiln.lowrank.RankRule;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class FactorizeJobTest {
    @TempDir
    Path dir;

    @Test
    void writesSavedModelOnnxAndReport() throws Exception {
        Path model = Path.of(System.getProperty("kiln.repo.root", "../.."), "..", "shared", "models",
                "kotlindl_mnist1_saved_model").normalize();
        assumeTrue(Files.isDirectory(model), "skipped: ../shared/models/kotlindl_mnist1_saved_model is absent");
        FactorizeJob.Result r = FactorizeJob.builder(model, dir).reduction(0.5).build().run();
        assertTrue(Files.isRegularFile(r.savedModel().resolve("saved_model.pb")));
        assertTrue(Files.size(r.onnx()) > 0);
        JsonNode json = new ObjectMapper().readTree(r.reportJson().toFile());
        assertEquals(r.report().parametersAfter(), json.get("parametersAfter").asLong());
        assertEquals(2, json.get("layers").size());
        // 784x128 at reduction 0.5: r = floor(0.5 * 784 * 128 / 912) = 55
        assertEquals(55, r.report().layers().get(0).rank());
        assertTrue(r.report().reduction() > 0.4, "reduction " + r.report().reduction());
    }

    @Test
    void optionsReachThePassAndAreChecked() {
        FactorizeJob job = FactorizeJob.builder(Path.of("m"), dir).rank(4).build();
        assertEquals(RankRule.fixed(4), job.factorization().rule());
        assertThrows(KilnArgumentException.class, () -> FactorizeJob.builder(Path.of("m"), dir).energy(2));
        assertThrows(KilnArgumentException.class, () -> FactorizeJob.builder(Path.of("m"), dir).reduction(1));
    }
}
