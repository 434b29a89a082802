package dev.kiln.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.kiln.tensorrt.EngineManifest;

/**
 * Fuzz test of the engine manifest reader: the JSON beside every engine, read before an engine is loaded and checked
 * against the running TensorRT and GPU. In a normal build it runs the inputs under
 * src/test/resources/dev/kiln/fuzz/TensorRtReadersFuzzTestInputs/manifest/ (a built and a planned manifest); fuzzing
 * is described in the README (Reliability).
 */
class TensorRtReadersFuzzTest {
    @FuzzTest
    void manifest(byte[] data) {
        UntrustedFile.check("model.engine.manifest.json", data, f -> {
            EngineManifest m = EngineManifest.read(f);
            EngineManifest.parse(m.toJson(), f); // what Kiln writes back must read again
        });
    }
}
