package dev.kiln.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.kiln.tensorflow.ImportOptions;
import dev.kiln.tensorflow.TfImporter;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Fuzz tests of the TensorFlow import up to Kiln's IR: a frozen GraphDef .pb, and a SavedModel's saved_model.pb
 * (signature, functions inlined, without reading the variables: restoring them runs TensorFlow's own C++ reader).
 * Seeds and past findings: src/test/resources/dev/kiln/fuzz/TfImporterFuzzTestInputs/<method>/.
 */
class TfImporterFuzzTest {
    @FuzzTest
    void frozenGraph(byte[] data) {
        UntrustedFile.check("frozen.pb", data, TfImporter::load);
    }

    @FuzzTest
    void savedModel(byte[] data) {
        UntrustedFile.check("saved_model.pb", data, pb -> {
            Path dir = Files.createDirectories(pb.resolveSibling("fuzzed_saved_model"));
            Files.createDirectories(dir.resolve("variables"));
            Files.copy(pb, dir.resolve("saved_model.pb"), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            UntrustedFile.checkFile(dir, d -> TfImporter.load(d, ImportOptions.builder().loadWeights(false).build()));
        });
    }
}
