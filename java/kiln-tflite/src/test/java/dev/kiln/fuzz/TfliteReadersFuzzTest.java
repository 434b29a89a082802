package dev.kiln.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.kiln.tflite.TfliteRunner;

/**
 * Fuzz test of what Kiln does with a .tflite file (kiln bench / compare of a .tflite): Kiln's structural check of the
 * FlatBuffer, then TFLite's interpreter loading it and reading its signature. A corrupt file must be a KilnException
 * naming it; a crash of the JVM in native code is a finding like any other. In a normal build it runs the inputs under
 * src/test/resources/dev/kiln/fuzz/TfliteReadersFuzzTestInputs/model/ (Kiln's FP32, FP16, dynamic-range and INT8
 * exports, written by TfliteFileCheckTest with -Dkiln.tflite.writeSeeds=DIR); fuzzing is described in the README
 * (Reliability).
 */
class TfliteReadersFuzzTest {
    @FuzzTest
    void model(byte[] data) {
        UntrustedFile.check("model.tflite", data, f -> {
            try (TfliteRunner r = TfliteRunner.open(f, 1, false)) {
                r.inputSignature();
            }
        });
    }
}
