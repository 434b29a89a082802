package dev.kiln.tensorflow;

import dev.kiln.KilnException;
import dev.kiln.graph.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.NodeDef;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The checkpoint read from its files against TensorFlow's own restore op, on every shared model with variables. */
class TensorBundleTest {
    @TempDir
    Path tmp;

    /** The variables import freezes: those the serving signature's outputs need. */
    private static Map<String, NodeDef> variables(Path model, MetaGraphDef mg) {
        Set<String> needed = new java.util.HashSet<>();
        TfImporter.load(model, ImportOptions.builder().loadWeights(false).build()).nodes().stream()
                .filter(n -> Set.of("VarHandleOp", "VariableV2").contains(n.op())).forEach(n -> needed.add(n.name()));
        Map<String, NodeDef> vars = new LinkedHashMap<>();
        for (NodeDef n : mg.getGraphDef().getNodeList()) {
            if (needed.contains(n.getName())) {
                vars.put(n.getName(), n);
            }
        }
        return vars;
    }

    private static byte[] bytes(Tensor t) {
        java.nio.ByteBuffer b = t.bytes();
        byte[] a = new byte[b.remaining()];
        b.duplicate().get(a);
        return a;
    }

    @Test
    void everySharedCheckpointReadsTheSameBytesAsTensorFlowsRestore() throws IOException {
        List<Path> models;
        try (Stream<Path> s = Files.list(RoundTrip.sharedModels())) {
            models = s.filter(p -> Files.isRegularFile(p.resolve("variables/variables.index"))
                    && Files.isRegularFile(p.resolve("variables/variables.data-00000-of-00001"))).sorted().toList();
        }
        int compared = 0;
        for (Path m : models) {
            MetaGraphDef mg = TfImporter.readSavedModel(m).getMetaGraphs(0);
            Map<String, NodeDef> vars;
            try {
                vars = variables(m, mg);
            } catch (KilnException notImportable) {
                continue; // no signature Kiln imports (stateful, several without a default): nothing to freeze
            }
            if (vars.isEmpty()) {
                continue;
            }
            Map<String, Tensor> direct = TfImporter.readFromBundle(m, vars);
            assertTrue(direct != null, m + ": a variable was not matched to a checkpoint entry");
            Map<String, Tensor> restored;
            try {
                restored = TfImporter.restoreThroughTensorFlow(m, mg, vars);
            } catch (KilnException e) {
                continue; // TensorFlow cannot restore this one (no saver in the graph): nothing to compare with
            }
            for (String v : vars.keySet()) {
                assertEquals(restored.get(v).type(), direct.get(v).type(), m + " " + v);
                assertArrayEquals(bytes(restored.get(v)), bytes(direct.get(v)), m + " " + v);
                compared++;
            }
        }
        assertTrue(compared >= 20, "compared only " + compared + " variables");
    }

    @Test
    void aCorruptShardFailsItsChecksumWithTheTensorNamed() throws IOException {
        Path model = ExampleModels.twoOutputs(tmp.resolve("m"));
        Path shard = model.resolve("variables/variables.data-00000-of-00001");
        byte[] b = Files.readAllBytes(shard);
        b[b.length / 2] ^= 0x40;
        Files.write(shard, b);
        KilnException e = assertThrows(KilnException.class, () -> TfImporter.load(model));
        assertTrue(e.getMessage().contains("checksum") && e.getMessage().contains(shard.toString()), e.getMessage());
    }

    @Test
    void aTruncatedIndexIsAClearError() throws IOException {
        Path model = ExampleModels.twoOutputs(tmp.resolve("t"));
        Path index = model.resolve("variables/variables.index");
        byte[] b = Files.readAllBytes(index);
        Files.write(index, java.util.Arrays.copyOf(b, b.length - 20));
        KilnException e = assertThrows(KilnException.class, () -> TfImporter.load(model));
        assertTrue(e.getMessage().contains(index.toString()), e.getMessage());
    }
}
