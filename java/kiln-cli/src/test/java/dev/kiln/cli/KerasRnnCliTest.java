package dev.kiln.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static dev.kiln.cli.CliTest.kiln;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The Keras LSTM SavedModel of ../shared end to end: inspect, and optimize to SavedModel, ONNX and TFLite. */
class KerasRnnCliTest {
    @TempDir
    Path tmp;

    private static Path lstm() {
        return CliTest.sharedModels().resolve("tfnet_keras_lstm_from_sequential");
    }

    @Test
    void inspectDescribesTheUnrolledLstm() {
        CliTest.Run r = kiln("inspect", lstm().toString());
        assertEquals(0, r.status(), r.err() + r.out());
        assertTrue(r.out().contains("input_1"), r.out());
        assertTrue(r.out().contains("Unpack"), r.out());
        assertFalse(r.out().contains("unsupported control flow"), r.out());
    }

    @Test
    void optimizeWritesEveryFormatAndPrecisionAndEachVerifiesAgainstTensorFlow() throws Exception {
        Path out = tmp.resolve("lstm");
        CliTest.Run r = kiln("optimize", lstm().toString(), "-o", out.toString(), "--format", "savedmodel,onnx,tflite",
                "--precision", "fp32,fp16,int8-dynamic", "--samples", "4");
        assertEquals(0, r.status(), r.err() + r.out());
        JsonNode report = new ObjectMapper().readTree(out.resolve("report.json").toFile());
        int verified = 0;
        for (JsonNode v : report.get("verifications")) {
            assertTrue(v.get("passed").asBoolean(), v.toString());
            verified++;
        }
        assertTrue(verified >= 6, "verifications: " + report.get("verifications"));
        assertFalse(report.get("optimized").get("ops").has("StatelessWhile"));
        assertTrue(Files.isRegularFile(out.resolve("saved_model").resolve("saved_model.pb")));
    }

    @Test
    void calibratedInt8OfTheUnrolledMatMulsStaysCloseToFloat() throws Exception {
        Path out = tmp.resolve("lstm-int8");
        CliTest.Run r = kiln("optimize", lstm().toString(), "-o", out.toString(), "--format", "onnx,tflite",
                "--precision", "int8", "--calib-random", "--calib-samples", "32", "--json");
        assertEquals(0, r.status(), r.err() + r.out());
        JsonNode rep = new ObjectMapper().readTree(r.out());
        JsonNode candidates = rep.at("/evaluation/candidates");
        assertTrue(candidates.size() >= 2, rep.get("evaluation").toString());
        for (JsonNode c : candidates) {
            for (JsonNode o : c.get("outputs")) {
                // the sigmoid output in [0, 1]: INT8 activations and weights of 10 unrolled MatMuls, loosely near FP32
                assertTrue(o.get("cosine").asDouble() >= 0.99, c.toString());
                assertTrue(o.get("maxAbsError").asDouble() <= 0.05, c.toString());
            }
        }
        System.out.println("LSTM INT8 (random calibration) vs TF FP32: " + candidates);
    }

    @Test
    void inputShapesOfASavedModelAreCheckedAgainstItsSignature() {
        CliTest.Run wrong = kiln("optimize", lstm().toString(), "-o", tmp.resolve("a").toString(), "--input-shapes",
                "input_1[-1,6,3]");
        assertEquals(2, wrong.status(), wrong.err());
        assertTrue(wrong.err().contains("input_1") && wrong.err().contains("does not fit"), wrong.err());
        CliTest.Run unknown = kiln("optimize", lstm().toString(), "-o", tmp.resolve("b").toString(), "--input-shapes",
                "nope[1,5,3]");
        assertEquals(2, unknown.status(), unknown.err());
        assertTrue(unknown.err().contains("'nope'") && unknown.err().contains("its inputs: input_1"), unknown.err());
        assertFalse(Files.exists(tmp.resolve("a")) || Files.exists(tmp.resolve("b")), "nothing written");
    }

    @Test
    void variableLengthLstmIsKeptWholeVerifiedAndRefusedByTflite() throws Exception {
        Path model = dev.kiln.tensorflow.KerasLstmModels.anyLength(lstm(), tmp.resolve("lstm_any_length"));
        Path out = tmp.resolve("any");
        CliTest.Run r = kiln("optimize", model.toString(), "-o", out.toString(), "--format", "savedmodel,onnx",
                "--samples", "4");
        assertEquals(0, r.status(), r.err() + r.out());
        JsonNode report = new ObjectMapper().readTree(out.resolve("report.json").toFile());
        assertEquals(1, report.get("optimized").get("ops").get("PartitionedCall").asInt(), report.get("optimized")
                .toString());
        int verified = 0;
        for (JsonNode v : report.get("verifications")) {
            assertTrue(v.get("passed").asBoolean(), v.toString());
            verified++;
        }
        assertEquals(3, verified, "original, SavedModel, ONNX: " + report.get("verifications"));
        assertEquals("[1,4,9,16]", report.get("verifications").get(1).get("sequenceLengths").toString(),
                "the samples vary the sequence length");
        assertTrue(r.out().contains("4 random samples, sequence lengths 1, 4, 9, 16"), r.out());
        assertEquals(1, dev.kiln.onnx.OnnxReader.read(out.resolve("model.onnx")).getGraph().getNodeList().stream()
                .filter(n -> n.getOpType().equals("LSTM")).count(), "one ONNX LSTM");

        CliTest.Run tflite = kiln("export", model.toString(), "--format", "tflite", "-o",
                tmp.resolve("any.tflite").toString());
        assertEquals(4, tflite.status(), tflite.err());
        assertTrue(tflite.err().contains("Keras LSTM") && tflite.err().contains("--input-shapes"), tflite.err());
        assertFalse(Files.exists(tmp.resolve("any.tflite")));
    }

    @Test
    void rnnKeepWritesOneOnnxLstmForTheFixedLengthModelAndBadModesAreRefused() {
        Path onnx = tmp.resolve("kept.onnx");
        CliTest.Run r = kiln("export", lstm().toString(), "--format", "onnx", "--rnn", "keep", "-o", onnx.toString());
        assertEquals(0, r.status(), r.err() + r.out());
        var nodes = dev.kiln.onnx.OnnxReader.read(onnx).getGraph().getNodeList();
        assertEquals(1, nodes.stream().filter(n -> n.getOpType().equals("LSTM")).count(), nodes.toString());
        CliTest.Run bad = kiln("export", lstm().toString(), "--format", "onnx", "--rnn", "fuse", "-o",
                tmp.resolve("bad.onnx").toString());
        assertEquals(2, bad.status(), bad.err());
        assertTrue(bad.err().contains("'fuse'") && bad.err().contains("auto, unroll, keep or loop"), bad.err());
    }
}
