package dev.kiln.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.data.NpyWriter;
import dev.kiln.tensorflow.ExampleModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Each family of options as a real job on a small CNN written by TensorFlow: INT8 calibrated on an uploaded .npy, on a
 * .npy named by path under an allowed root, and on random data (flagged); 2:4 pruning; low rank; TensorRT build
 * flags (no GPU here: they reach the trtexec plan). Bad values of each are a 400 that names them.
 */
class ServerOptionsTest {
    private static final String TOKEN = "judy-token-0123456789";
    private static Path work;
    private static Path root;
    private static byte[] tar;
    private static byte[] npy;
    private static KilnServer server;
    private static ServerClient client;

    @BeforeAll
    static void start() throws Exception {
        work = Files.createTempDirectory("kiln-server-options");
        tar = TestArchives.tarOf(ExampleModels.exampleCnn(work.resolve("cnn")), "cnn");
        root = Files.createDirectories(work.resolve("allowed"));
        float[] x = new float[24 * 32 * 32 * 3];
        Random r = new Random(3);
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) r.nextGaussian();
        }
        NpyWriter.write(root.resolve("calib.npy"), x, 24, 32, 32, 3);
        npy = Files.readAllBytes(root.resolve("calib.npy"));
        server = KilnServer.start(ServerConfig.builder(work.resolve("data"), Tokens.of(Map.of(TOKEN, "judy")))
                .port(0).workers(2).gpuSlots(0).allowedRoots(List.of(root)).build());
        client = new ServerClient(server.url());
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
        DataDir.deleteRecursively(work);
    }

    private static HttpResponse<String> submit(String options, Map<String, ServerClient.Part> extra) {
        Map<String, ServerClient.Part> parts = new LinkedHashMap<>(ServerClient.model("cnn.tar", tar, options));
        parts.putAll(extra);
        return client.submit(TOKEN, parts);
    }

    private static String accepted(String options, Map<String, ServerClient.Part> extra) {
        HttpResponse<String> r = submit(options, extra);
        assertEquals(202, r.statusCode(), r.body());
        return ServerClient.json(r).get("id").asText();
    }

    private static JsonNode done(String id) throws Exception {
        JsonNode j = client.awaitFinished(id, TOKEN, 300);
        assertEquals("done", j.get("state").asText(), j.toString());
        return ServerClient.JSON.readTree(client.get("/v1/jobs/" + id + "/artifacts/report.json", TOKEN).body());
    }

    private static String artifact(String id, String name) {
        HttpResponse<String> r = client.get("/v1/jobs/" + id + "/artifacts/" + name, TOKEN);
        assertEquals(200, r.statusCode(), name + ": " + r.body());
        return r.body();
    }

    @Test
    void everyOptionFamilyRunsAsARealJob() throws Exception {
        String int8Part = accepted("{\"formats\": [\"onnx\"], \"precisions\": [\"int8\"], \"int8Targets\": "
                + "[\"onnxruntime\"], \"calibMethod\": \"entropy\", \"calibBatch\": 8}",
                Map.of("data", new ServerClient.Part("calib.npy", npy)));
        String int8Path = accepted("{\"formats\": [\"onnx\"], \"precisions\": [\"int8\"], \"int8Targets\": "
                + "[\"onnxruntime\"], \"dataScale\": 0.5, \"weightMethod\": \"mse\"}",
                Map.of("data_path", new ServerClient.Part(null, root.resolve("calib.npy").toString()
                        .getBytes(StandardCharsets.UTF_8))));
        String int8Random = accepted("{\"formats\": [\"onnx\"], \"precisions\": [\"int8\"], \"calibRandom\": true, "
                + "\"calibSamples\": 16, \"int8Targets\": [\"onnxruntime\"]}", Map.of());
        String pruned = accepted("{\"formats\": [\"onnx\"], \"prune\": \"2:4\"}", Map.of());
        String lowRank = accepted("{\"formats\": [\"onnx\"], \"lowRank\": 0.5}", Map.of());
        String engine = accepted("{\"formats\": [\"tensorrt\"], \"precisions\": [\"fp32\"], \"tensorrt\": "
                + "{\"workspace\": \"256M\", \"builderOptimizationLevel\": 2, \"minShapes\": \"input:1x32x32x3\", "
                + "\"optShapes\": \"input:4x32x32x3\", \"maxShapes\": \"input:8x32x32x3\"}}", Map.of());

        JsonNode r = done(int8Part);
        assertFalse(r.get("calibration").get("random").asBoolean(), r.get("calibration").toString());
        assertEquals(24, r.get("calibration").get("samples").asInt());
        assertTrue(r.get("calibration").get("method").asText().contains("entropy"), r.get("calibration").toString());
        assertTrue(r.get("artifacts").toString().contains("\"int8-onnxruntime\""), r.get("artifacts").toString());

        r = done(int8Path);
        assertEquals(24, r.get("calibration").get("samples").asInt());
        assertFalse(r.get("calibration").get("random").asBoolean());
        assertTrue(r.get("weightMethod").asText().contains("mse"), r.get("weightMethod").toString());

        r = done(int8Random);
        assertTrue(r.get("calibration").get("random").asBoolean(), "random calibration is flagged");
        assertEquals(16, r.get("calibration").get("samples").asInt());

        r = done(pruned);
        JsonNode pruning = r.get("pruning");
        assertTrue(pruning.get("plan").asText().contains("2:4"), pruning.toString());
        boolean halfZero = false;
        for (JsonNode layer : pruning.get("layers")) {
            halfZero |= layer.get("zeros").asLong() * 2 >= layer.get("weights").asLong()
                    && layer.get("weights").asLong() > 0;
        }
        assertTrue(halfZero, "a layer is 2:4 sparse: " + pruning);

        r = done(lowRank);
        JsonNode lr = r.get("lowRank");
        assertTrue(lr != null && !lr.isNull(), r.toString());
        assertTrue(lr.get("parametersAfter").asLong() < lr.get("parametersBefore").asLong(), lr.toString());

        done(engine);
        String script = artifact(engine, "build_model.sh");
        assertTrue(script.contains("--builderOptimizationLevel=2"), script);
        assertTrue(script.contains("workspace:256"), script);
        assertTrue(script.contains("input:1x32x32x3") && script.contains("input:8x32x32x3"), script);
    }

    @Test
    void rnnKeepWritesTheSharedKerasLstmAsOneOnnxLstm() throws Exception {
        Path lstm = Path.of(System.getProperty("kiln.repo.root", "../.."), "..", "shared", "models",
                "tfnet_keras_lstm_from_sequential");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isDirectory(lstm), lstm + " is absent (fresh clone without "
                + "../shared): skipping the job on the real Keras LSTM");
        Map<String, ServerClient.Part> parts = new LinkedHashMap<>(ServerClient.model("lstm.tar",
                TestArchives.tarOf(lstm, "lstm"), "{\"formats\": [\"onnx\"], \"rnn\": \"keep\"}"));
        HttpResponse<String> r = client.submit(TOKEN, parts);
        assertEquals(202, r.statusCode(), r.body());
        String id = ServerClient.json(r).get("id").asText();
        JsonNode report = done(id);
        assertEquals(1, report.get("optimized").get("ops").get("PartitionedCall").asInt(), report.get("optimized")
                .toString());
        for (JsonNode v : report.get("verifications")) {
            assertTrue(v.get("passed").asBoolean(), v.toString());
        }
        byte[] onnx = client.getBytes("/v1/jobs/" + id + "/artifacts/model.onnx", TOKEN).body();
        assertTrue(dev.kiln.onnx.proto.Onnx.ModelProto.parseFrom(onnx).getGraph().getNodeList().stream()
                .anyMatch(n -> n.getOpType().equals("LSTM")), "one ONNX LSTM");
        HttpResponse<String> bad = submit("{\"rnn\": \"fuse\"}", Map.of());
        assertEquals(400, bad.statusCode(), bad.body());
        assertTrue(ServerClient.json(bad).get("error").asText().contains("option 'rnn'"), bad.body());
    }

    @Test
    void badValuesOfEachFamilyAre400sThatNameThem() {
        Map<String, String> cases = new LinkedHashMap<>();
        cases.put("{\"prune\": \"3:x\"}", "option 'prune'");
        cases.put("{\"prune\": \"0.5\", \"lowRank\": 2}", "option 'lowRank'");
        cases.put("{\"precisions\": [\"int8\"], \"calibRandom\": true, \"calibMethod\": \"median\"}",
                "option 'calibMethod'");
        cases.put("{\"precisions\": [\"int8\"], \"calibRandom\": true, \"int8Weights\": \"8bit\"}",
                "option 'int8Weights'");
        cases.put("{\"precisions\": [\"int8\"]}", "needs calibration data");
        cases.put("{\"formats\": [\"tensorrt\"], \"tensorrt\": {\"device\": 1}}", "unknown option 'tensorrt.device'");
        cases.put("{\"formats\": [\"tensorrt\"], \"tensorrt\": {\"workspace\": \"lots\"}}", "option 'tensorrt'");
        cases.put("{\"formats\": [\"tensorrt\"], \"tensorrt\": {\"minShapes\": \"input:1x32x32x3\"}}",
                "minShapes, optShapes and maxShapes");
        cases.put("{\"timingCache\": \"/tmp/x\"}", "unknown option 'timingCache'");
        for (Map.Entry<String, String> c : cases.entrySet()) {
            HttpResponse<String> r = submit(c.getKey(), Map.of());
            assertEquals(400, r.statusCode(), c.getKey() + " -> " + r.body());
            String error = ServerClient.json(r).get("error").asText();
            assertTrue(error.contains(c.getValue()), c.getKey() + " -> " + error);
        }
        HttpResponse<String> outside = submit("{\"precisions\": [\"int8\"]}", Map.of("data_path",
                new ServerClient.Part(null, work.resolve("cnn/saved_model.pb").toString()
                        .getBytes(StandardCharsets.UTF_8))));
        assertEquals(403, outside.statusCode(), outside.body());
    }
}
