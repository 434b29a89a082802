package dev.kiln.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.eval.RandomInputs;
import dev.kiln.eval.TensorComparison;
import dev.kiln.graph.Tensor;
import dev.kiln.onnx.OnnxRunner;
import dev.kiln.pipeline.OptimizeJob;
import dev.kiln.tensorflow.ExampleModels;
import dev.kiln.tensorflow.TfImporter;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The whole service over real HTTP on loopback: a SavedModel written by TensorFlow is tarred, submitted, optimized
 * by a worker, and its model.onnx fetched; ONNX Runtime runs it and its outputs equal those of the model.onnx that a
 * direct {@link OptimizeJob} run writes. The same submission again is answered from the first job's result. The
 * report, listing, metrics and OpenAPI document answer as documented.
 */
class ServerEndToEndTest {
    private static final String TOKEN = "alice-token-0123456789";
    private static Path work;
    private static Path model;
    private static KilnServer server;
    private static ServerClient client;

    @BeforeAll
    static void start() throws Exception {
        work = Files.createTempDirectory("kiln-server-e2e");
        model = ExampleModels.twoOutputs(work.resolve("two_outputs"));
        server = KilnServer.start(ServerConfig.builder(work.resolve("data"), Tokens.of(Map.of(TOKEN, "alice")))
                .port(0).workers(1).build());
        client = new ServerClient(server.url());
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
        DataDir.deleteRecursively(work);
    }

    @Test
    void submittedModelIsOptimizedAndItsOnnxMatchesADirectRun() throws Exception {
        byte[] tgz = TestArchives.gzip(TestArchives.tarOf(model, "two_outputs"));
        String options = "{\"formats\": [\"onnx\"], \"precisions\": [\"fp32\", \"fp16\"]}";
        HttpResponse<String> r = client.submit(TOKEN, ServerClient.model("two_outputs.tar.gz", tgz, options));
        assertEquals(202, r.statusCode(), r.body());
        JsonNode accepted = ServerClient.json(r);
        assertEquals("queued", accepted.get("state").asText());
        String id = accepted.get("id").asText();
        assertEquals("/v1/jobs/" + id, r.headers().firstValue("Location").orElseThrow());

        JsonNode job = client.awaitFinished(id, TOKEN, 180);
        assertEquals("done", job.get("state").asText(), job.toString());
        assertEquals(100, job.get("progress").get("percent").asInt());
        assertEquals("two_outputs", job.get("model").get("name").asText());
        assertTrue(job.get("report").get("allPassed").asBoolean(), job.toString());
        assertTrue(job.get("timings").get("runMillis").asLong() > 0);

        HttpResponse<byte[]> onnx = client.getBytes("/v1/jobs/" + id + "/artifacts/model.onnx", TOKEN);
        assertEquals(200, onnx.statusCode());
        Path served = work.resolve("served.onnx");
        Files.write(served, onnx.body());

        Path direct = work.resolve("direct");
        OptimizeJob.builder(model).output(direct).formats(java.util.EnumSet.of(OptimizeJob.Format.ONNX))
                .build().run();
        var inputs = RandomInputs.forSignature(TfImporter.load(model).inputs(), 7, 3);
        try (OnnxRunner a = OnnxRunner.open(served, 1); OnnxRunner b = OnnxRunner.open(direct.resolve("model.onnx"),
                1)) {
            Map<String, Tensor> got = a.run(inputs);
            Map<String, Tensor> want = b.run(inputs);
            assertEquals(want.keySet(), got.keySet());
            for (String k : want.keySet()) {
                TensorComparison c = TensorComparison.compare(want.get(k), got.get(k));
                assertTrue(c.shapeAndTypeMatch() && c.maxAbsError() == 0, k + ": " + c);
            }
        }

        HttpResponse<String> html = client.get("/v1/jobs/" + id + "/artifacts/report.html", TOKEN);
        assertEquals(200, html.statusCode());
        assertTrue(html.headers().firstValue("Content-Type").orElseThrow().startsWith("text/html"));
        assertTrue(html.body().contains("two_outputs"), "the report names the uploaded model");
        assertTrue(!html.body().contains(work.toString()), "the report does not show the server's paths");
        HttpResponse<String> names = client.get("/v1/jobs/" + id + "/artifacts", TOKEN);
        assertTrue(names.body().contains("model_fp16.onnx") && names.body().contains("report.json"), names.body());
        HttpResponse<String> escape = client.get("/v1/jobs/" + id + "/artifacts/../../../jobs.db", TOKEN);
        assertTrue(escape.statusCode() == 400 || escape.statusCode() == 404, escape.statusCode() + " " + escape.body());
        assertTrue(!escape.body().contains("SQLite"), "the database is not served");
        assertEquals(404, client.get("/v1/jobs/" + id + "/artifacts/nothing.onnx", TOKEN).statusCode());

        // the same model bytes and options (given differently) → the earlier result, without a rerun
        String sameOptions = "{\"precisions\": [\"fp16\", \"fp32\"], \"formats\": [\"onnx\"], \"opset\": 17}";
        HttpResponse<String> again = client.submit(TOKEN, ServerClient.model("copy.tar.gz", tgz, sameOptions));
        assertEquals(202, again.statusCode(), again.body());
        JsonNode reused = ServerClient.json(again);
        assertEquals("done", reused.get("state").asText());
        assertEquals(id, reused.get("reusedFrom").asText());
        HttpResponse<byte[]> onnxAgain = client.getBytes("/v1/jobs/" + reused.get("id").asText()
                + "/artifacts/model.onnx", TOKEN);
        assertEquals(200, onnxAgain.statusCode());
        assertTrue(java.util.Arrays.equals(onnx.body(), onnxAgain.body()));

        JsonNode list = ServerClient.json(client.get("/v1/jobs?state=done&limit=1", TOKEN));
        assertEquals(2, list.get("total").asInt());
        assertEquals(1, list.get("jobs").size());

        String metrics = client.get("/metrics", null).body();
        assertTrue(metrics.contains("kiln_jobs{state=\"done\"} 2"), metrics);
        assertTrue(metrics.contains("kiln_jobs_reused_total 1"), metrics);
        assertTrue(metrics.contains("kiln_step_seconds_count{step=\"export\"} 1"), metrics);
        assertTrue(metrics.matches("(?s).*kiln_bytes_in_total [1-9][0-9]*.*"), metrics);
    }

    @Test
    void int8IsCalibratedOnTheUploadedNpyData() throws Exception {
        float[] samples = new float[32 * 8];
        java.util.Random random = new java.util.Random(3);
        for (int i = 0; i < samples.length; i++) {
            samples[i] = (float) random.nextGaussian();
        }
        Path npy = work.resolve("calib.npy");
        dev.kiln.data.NpyWriter.write(npy, samples, 32, 8);
        Map<String, ServerClient.Part> parts = new java.util.LinkedHashMap<>(ServerClient.model("two_outputs.tar",
                TestArchives.tarOf(model, "two_outputs"), "{\"formats\": [\"onnx\"], \"precisions\": [\"int8\"]}"));
        parts.put("data", new ServerClient.Part("calib.npy", Files.readAllBytes(npy)));
        HttpResponse<String> r = client.submit(TOKEN, parts);
        assertEquals(202, r.statusCode(), r.body());
        String id = ServerClient.json(r).get("id").asText();
        JsonNode job = client.awaitFinished(id, TOKEN, 180);
        assertEquals("done", job.get("state").asText(), job.toString());
        JsonNode report = ServerClient.json(client.get("/v1/jobs/" + id + "/artifacts/report.json", TOKEN));
        assertEquals(32, report.get("calibration").get("samples").asInt(), report.get("calibration").toString());
        assertTrue(!report.get("calibration").get("random").asBoolean());
        assertEquals(200, client.getBytes("/v1/jobs/" + id + "/artifacts/model_int8_onnxruntime.onnx", TOKEN)
                .statusCode());
    }

    @Test
    void openRoutesAnswerWithoutAToken() throws Exception {
        assertEquals(200, client.get("/healthz", null).statusCode());
        HttpResponse<String> ready = client.get("/readyz", null);
        assertEquals(200, ready.statusCode(), ready.body());
        assertEquals("ok", ServerClient.json(ready).get("database").asText());
        // GPU slots as kiln-tensorrt's probe finds GPUs; none here: tensorrt jobs plan on the CPU workers
        int gpus = dev.kiln.tensorrt.TensorRtProbe.deviceCount();
        assertEquals(gpus, ServerClient.json(ready).get("gpuSlots").asInt());
        assertTrue(ServerClient.json(ready).get("tensorrt").asText().contains(gpus == 0
                ? "tensorrt jobs write the ONNX and a trtexec plan on the CPU workers"
                : "one TensorRT engine build per GPU"), ready.body());
        String metrics = client.get("/metrics", null).body();
        assertTrue(metrics.contains("\nkiln_gpu_slots " + gpus + "\n"), metrics);
        assertTrue(metrics.contains("\nkiln_tensorrt_gpus_found " + gpus + "\n"), metrics);
        JsonNode api = ServerClient.json(client.get("/openapi.json", null));
        assertTrue(api.get("openapi").asText().startsWith("3."));
        assertTrue(api.get("paths").has("/v1/jobs/{id}/artifacts/{name}"));
        HttpResponse<String> page = client.get("/", null);
        assertEquals(200, page.statusCode());
        assertTrue(page.body().contains("<title>Kiln jobs</title>"));
        assertEquals(404, client.get("/nowhere", null).statusCode());
        assertEquals(405, client.delete("/healthz", null).statusCode());
    }
}
