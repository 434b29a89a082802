package dev.kiln.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.pipeline.OptimizeJob;
import dev.kiln.tensorflow.ExampleModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The light version of the load benchmark ({@code ServeLoadBenchmark}, 50 jobs of the shared models): 10 submissions
 * at once of two example models and, when ../shared is present, a real Keras model, from a client bounded to 4
 * requests in flight, 2 workers. None is lost, and every job's model.onnx has the SHA-256 of the model.onnx that a
 * serial optimize run of the same model writes (each submission has its own seed, which picks verification inputs
 * only, so that every one is real work).
 */
class ServerLoadTest {
    private static final String TOKEN = "load-token-0123456789";

    @TempDir
    Path tmp;

    @Test
    void concurrentSubmissionsAllEndDoneWithTheSerialRunsBytes() throws Exception {
        Map<String, Path> models = new LinkedHashMap<>();
        models.put("two_outputs", ExampleModels.twoOutputs(tmp.resolve("two_outputs")));
        models.put("residual_add", ExampleModels.residualAdd(tmp.resolve("residual_add")));
        Path shared = Path.of(System.getProperty("kiln.repo.root", "../.."), "..", "shared", "models",
                "tfrust_keras_single_input_saved_model").normalize();
        if (Files.isDirectory(shared)) {
            models.put("keras", shared);
        } else {
            System.out.println("ServerLoadTest: " + shared + " is absent: example models only");
        }
        Map<String, byte[]> archives = new LinkedHashMap<>();
        Map<String, String> serial = new LinkedHashMap<>();
        for (Map.Entry<String, Path> m : models.entrySet()) {
            Path out = tmp.resolve("serial").resolve(m.getKey());
            OptimizeJob.builder(m.getValue()).output(out).formats(EnumSet.of(OptimizeJob.Format.ONNX)).log(s -> { })
                    .build().run();
            serial.put(m.getKey(), sha256(Files.readAllBytes(out.resolve("model.onnx"))));
            archives.put(m.getKey(), TestArchives.tarOf(m.getValue(), m.getKey()));
        }
        List<String> names = new ArrayList<>(models.keySet());
        int jobs = 10;
        try (KilnServer s = KilnServer.start(ServerConfig.builder(tmp.resolve("data"), Tokens.of(Map.of(TOKEN,
                "load"))).port(0).workers(2).gpuSlots(0).build())) {
            ServerClient c = new ServerClient(s.url());
            ExecutorService client = Executors.newFixedThreadPool(4); // the bound: 4 requests in flight
            List<Future<String>> ids = new ArrayList<>();
            double[] millis = new double[jobs];
            for (int i = 0; i < jobs; i++) {
                int n = i;
                String name = names.get(i % names.size());
                ids.add(client.submit(() -> {
                    long t = System.nanoTime();
                    HttpResponse<String> r = c.submit(TOKEN, ServerClient.model(name + ".tar", archives.get(name),
                            "{\"formats\": [\"onnx\"], \"seed\": " + (100 + n) + "}"));
                    millis[n] = (System.nanoTime() - t) / 1e6;
                    assertEquals(202, r.statusCode(), r.body());
                    return ServerClient.json(r).get("id").asText();
                }));
            }
            for (int i = 0; i < jobs; i++) {
                String id = ids.get(i).get();
                String name = names.get(i % names.size());
                JsonNode j = c.awaitFinished(id, TOKEN, 300);
                assertEquals("done", j.get("state").asText(), j.toString());
                assertEquals(1, j.get("attempts").asInt(), "real work, not a reused result: " + j);
                byte[] onnx = c.getBytes("/v1/jobs/" + id + "/artifacts/model.onnx", TOKEN).body();
                assertEquals(serial.get(name), sha256(onnx), "job " + i + " (" + name + ")");
            }
            client.shutdown();
            assertEquals(jobs, ServerClient.json(c.get("/v1/jobs?state=done&limit=200", TOKEN)).get("total").asInt());
            Arrays.sort(millis);
            System.out.printf("ServerLoadTest: %d jobs of %d models, submit latency p50 %.0f ms, max %.0f ms%n", jobs,
                    names.size(), millis[(jobs - 1) / 2], millis[jobs - 1]);
        }
    }

    private static String sha256(byte[] bytes) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
    }
}
