package dev.kiln.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.tensorflow.ExampleModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The queue over real HTTP: a full queue answers 429 with Retry-After; concurrent submissions are all kept; a
 * restart on the same data directory runs the jobs left queued and re-runs one left running (as after a crash) from
 * a clean start; a running job cancelled between steps ends cancelled with no output.
 */
class ServerQueueTest {
    private static final String TOKEN = "carol-token-0123456789";
    private static Path work;
    private static byte[] tar;

    @BeforeAll
    static void model() throws Exception {
        work = Files.createTempDirectory("kiln-server-queue");
        tar = TestArchives.tarOf(ExampleModels.twoOutputs(work.resolve("m")), "m");
    }

    @AfterAll
    static void clean() {
        DataDir.deleteRecursively(work);
    }

    private static ServerConfig.Builder config(Path data) {
        return ServerConfig.builder(data, Tokens.of(Map.of(TOKEN, "carol"))).port(0);
    }

    private static String submit(ServerClient c, String options) {
        HttpResponse<String> r = c.submit(TOKEN, ServerClient.model("m.tar", tar, options));
        assertEquals(202, r.statusCode(), r.body());
        return ServerClient.json(r).get("id").asText();
    }

    @Test
    void aFullQueueAnswers429WithRetryAfter() {
        try (KilnServer s = KilnServer.start(config(work.resolve("full")).workers(0).queueCapacity(2).build())) {
            ServerClient c = new ServerClient(s.url());
            submit(c, null);
            submit(c, null);
            HttpResponse<String> r = c.submit(TOKEN, ServerClient.model("m.tar", tar, null));
            assertEquals(429, r.statusCode(), r.body());
            assertEquals(String.valueOf(JobsApi.RETRY_AFTER_SECONDS), r.headers().firstValue("Retry-After")
                    .orElseThrow());
            assertTrue(ServerClient.json(r).get("error").asText().contains("queue is full"));
            assertEquals(503, c.get("/readyz", null).statusCode());
            assertTrue(c.get("/metrics", null).body().contains("kiln_jobs_rejected_total 1"));
            assertEquals(2, ServerClient.json(c.get("/v1/jobs?state=queued", TOKEN)).get("total").asInt());
        }
    }

    @Test
    void concurrentSubmissionsAreAllKept() throws Exception {
        try (KilnServer s = KilnServer.start(config(work.resolve("concurrent")).workers(0).build())) {
            ServerClient c = new ServerClient(s.url());
            ExecutorService pool = Executors.newFixedThreadPool(4);
            List<Future<String>> ids = new ArrayList<>();
            for (int i = 0; i < 8; i++) {
                String options = "{\"seed\": " + i + "}";
                ids.add(pool.submit(() -> submit(c, options)));
            }
            Set<String> distinct = new HashSet<>();
            for (Future<String> f : ids) {
                distinct.add(f.get());
            }
            pool.shutdown();
            assertEquals(8, distinct.size());
            JsonNode list = ServerClient.json(c.get("/v1/jobs?state=queued&limit=200", TOKEN));
            assertEquals(8, list.get("total").asInt());
            Set<String> listed = new HashSet<>();
            list.get("jobs").forEach(j -> listed.add(j.get("id").asText()));
            assertEquals(distinct, listed);
            for (String id : distinct) {
                assertTrue(Files.isRegularFile(work.resolve("concurrent/jobs").resolve(id).resolve("model/m/"
                        + "saved_model.pb")), id);
            }
        }
    }

    @Test
    void aRestartRunsQueuedJobsAndRerunsOneLeftRunning() throws Exception {
        Path data = work.resolve("restart");
        String queued;
        String interrupted;
        try (KilnServer s = KilnServer.start(config(data).workers(0).build())) {
            ServerClient c = new ServerClient(s.url());
            queued = submit(c, "{\"formats\": [\"onnx\"]}");
            interrupted = submit(c, "{\"formats\": [\"onnx\"], \"seed\": 7}");
        }
        // as if the server died while running the second job: its row says running, half an output exists
        try (JobStore store = JobStore.open(data.resolve("jobs.db"))) {
            assertTrue(store.markRunning(interrupted, System.currentTimeMillis()));
        }
        Path work = data.resolve("jobs").resolve(interrupted).resolve("work");
        Files.createDirectories(work);
        Files.writeString(work.resolve("model.onnx"), "half a model");
        // an upload moved into place whose row never committed
        Path orphan = Files.createDirectories(data.resolve("jobs/0000-orphan/model"));

        try (KilnServer s = KilnServer.start(config(data).workers(1).build())) {
            ServerClient c = new ServerClient(s.url());
            JsonNode a = c.awaitFinished(queued, TOKEN, 180);
            JsonNode b = c.awaitFinished(interrupted, TOKEN, 180);
            assertEquals("done", a.get("state").asText(), a.toString());
            assertEquals("done", b.get("state").asText(), b.toString());
            assertEquals(2, b.get("attempts").asInt());
            byte[] onnx = c.getBytes("/v1/jobs/" + interrupted + "/artifacts/model.onnx", TOKEN).body();
            assertTrue(onnx.length > 100 && !new String(onnx, 0, 12).equals("half a model"));
            assertFalse(Files.exists(work), "no staging directory is left");
            assertFalse(Files.exists(orphan.getParent()), "a directory without a job is removed at start");
            assertFalse(Files.exists(data.resolve("jobs").resolve(interrupted).resolve("model")),
                    "the upload is removed once the job is done");
        }
        try (JobStore store = JobStore.open(data.resolve("jobs.db"))) {
            assertEquals("ok", store.integrityCheck());
        }
    }

    @Test
    void aRunningJobCancelledBetweenStepsLeavesNoOutput() throws Exception {
        Path data = work.resolve("cancel");
        String id;
        try (KilnServer s = KilnServer.start(config(data).workers(0).build())) {
            id = submit(new ServerClient(s.url()), null);
        }
        DataDir dirs = new DataDir(data);
        try (JobStore store = JobStore.open(dirs.database())) {
            JobRunner runner = new JobRunner(store, dirs, new Metrics());
            List<String> seen = new ArrayList<>();
            // the cancel flag rises once the job has reached its second step
            runner.run(id, () -> {
                String step = store.get(id).orElseThrow().step();
                seen.add(step);
                return "optimize".equals(step);
            }, () -> false);
            Job job = store.get(id).orElseThrow();
            assertEquals(JobState.CANCELLED, job.state(), job.toString());
            assertTrue(seen.contains("import"), seen.toString());
            assertFalse(Files.exists(dirs.work(id)));
            assertFalse(Files.exists(dirs.resolve(DataDir.outRelative(id))));
            assertEquals(null, job.resultDir());
        }
    }

    @Test
    void aJobStoppedByShutdownGoesBackToTheQueueWithItsUpload() throws Exception {
        Path data = work.resolve("shutdown");
        String id;
        try (KilnServer s = KilnServer.start(config(data).workers(0).build())) {
            id = submit(new ServerClient(s.url()), null);
        }
        DataDir dirs = new DataDir(data);
        try (JobStore store = JobStore.open(dirs.database())) {
            new JobRunner(store, dirs, new Metrics()).run(id, () -> false,
                    () -> "import".equals(store.get(id).orElseThrow().step()));
            Job job = store.get(id).orElseThrow();
            assertEquals(JobState.QUEUED, job.state(), job.toString());
            assertEquals(0, job.attempts(), "a shutdown is not a failed attempt");
            assertFalse(Files.exists(dirs.work(id)));
            assertTrue(Files.isRegularFile(dirs.model(id).resolve("m/saved_model.pb")), "kept for the next start");
        }
    }
}
