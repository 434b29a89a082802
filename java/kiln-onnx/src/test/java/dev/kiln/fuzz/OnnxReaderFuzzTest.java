package dev.kiln.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.kiln.onnx.OnnxReader;

/**
 * Fuzz tests of Kiln's ONNX reader: a model file read, summarized and its initializers turned into tensors (what
 * {@code kiln inspect} and the evaluation of an ONNX model do), and a single TensorProto file (ONNX's test data).
 * Seeds and past findings: src/test/resources/dev/kiln/fuzz/OnnxReaderFuzzTestInputs/<method>/.
 */
class OnnxReaderFuzzTest {
    @FuzzTest
    void model(byte[] data) {
        UntrustedFile.check("model.onnx", data, f -> {
            OnnxReader.summarize(f);
            OnnxReader.initializers(f);
        });
    }

    @FuzzTest
    void tensor(byte[] data) {
        UntrustedFile.check("input_0.pb", data, OnnxReader::readTensor);
    }
}
