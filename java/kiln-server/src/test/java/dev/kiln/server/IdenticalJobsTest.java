package dev.kiln.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.tensorflow.ExampleModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Identical submissions in flight at once (queued while a paused server takes them, then run after a restart): the
 * second waits on the first instead of running, both end done with the same bytes, and each tenant sees only its own
 * job. Tenants share only when the server is told to; a cancelled first job hands the work to the one waiting on it.
 */
class IdenticalJobsTest {
    private static final String ALICE = "alice-token-0123456789";
    private static final String BOB = "bob-token-01234567890";
    private static Path work;
    private static byte[] tar;

    @BeforeAll
    static void model() throws Exception {
        work = Files.createTempDirectory("kiln-server-identical");
        tar = TestArchives.tarOf(ExampleModels.twoOutputs(work.resolve("m")), "m");
    }

    @AfterAll
    static void clean() {
        DataDir.deleteRecursively(work);
    }

    private static ServerConfig.Builder config(Path data, boolean share) {
        return ServerConfig.builder(data, Tokens.of(Map.of(ALICE, "alice", BOB, "bob"))).port(0).gpuSlots(0)
                .shareCacheAcrossTenants(share);
    }

    private static JsonNode submit(ServerClient c, String token, String options) {
        HttpResponse<String> r = c.submit(token, ServerClient.model("m.tar", tar, options));
        assertEquals(202, r.statusCode(), r.body());
        return ServerClient.json(r);
    }

    private static byte[] onnx(ServerClient c, String id, String token) {
        HttpResponse<byte[]> r = c.getBytes("/v1/jobs/" + id + "/artifacts/model.onnx", token);
        assertEquals(200, r.statusCode());
        return r.body();
    }

    @Test
    void aSecondIdenticalJobWaitsOnTheFirstAndBothEndDone() throws Exception {
        Path data = work.resolve("same-tenant");
        String options = "{\"formats\": [\"onnx\"]}";
        String first;
        String second;
        String cancelled;
        String promoted;
        try (KilnServer s = KilnServer.start(config(data, false).workers(0).build())) {
            ServerClient c = new ServerClient(s.url());
            first = submit(c, ALICE, options).get("id").asText();
            JsonNode b = submit(c, ALICE, options);
            second = b.get("id").asText();
            assertEquals("queued", b.get("state").asText());
            JsonNode view = ServerClient.json(c.get("/v1/jobs/" + second, ALICE));
            assertEquals("waiting for an identical job", view.get("progress").get("step").asText(), view.toString());
            assertEquals(first, view.get("reusedFrom").asText());
            assertTrue(c.get("/metrics", null).body().contains("kiln_jobs_reused_total 1"));

            // another pair; the first is cancelled while queued: the one waiting on it is then run itself
            cancelled = submit(c, ALICE, "{\"formats\": [\"onnx\"], \"seed\": 5}").get("id").asText();
            promoted = submit(c, ALICE, "{\"formats\": [\"onnx\"], \"seed\": 5}").get("id").asText();
            assertEquals(202, c.delete("/v1/jobs/" + cancelled, ALICE).statusCode());
            JsonNode p = ServerClient.json(c.get("/v1/jobs/" + promoted, ALICE));
            assertEquals("queued", p.get("progress").get("step").asText(), p.toString());
        }
        try (KilnServer s = KilnServer.start(config(data, false).workers(2).build())) {
            ServerClient c = new ServerClient(s.url());
            JsonNode a = c.awaitFinished(first, ALICE, 180);
            JsonNode b = c.awaitFinished(second, ALICE, 180);
            assertEquals("done", a.get("state").asText(), a.toString());
            assertEquals("done", b.get("state").asText(), b.toString());
            assertEquals(1, a.get("attempts").asInt());
            assertEquals(0, b.get("attempts").asInt(), "the second job never ran: " + b);
            assertArrayEquals(onnx(c, first, ALICE), onnx(c, second, ALICE));
            assertEquals(a.get("report"), b.get("report"));
            assertFalse(Files.exists(data.resolve("jobs").resolve(second).resolve("out")), "no second output");
            assertFalse(Files.exists(data.resolve("jobs").resolve(second).resolve("model")), "its upload is removed");

            JsonNode p = c.awaitFinished(promoted, ALICE, 180);
            assertEquals("done", p.get("state").asText(), p.toString());
            assertEquals(1, p.get("attempts").asInt(), "it ran itself: " + p);
            assertEquals("cancelled", ServerClient.json(c.get("/v1/jobs/" + cancelled, ALICE)).get("state").asText());
        }
    }

    @Test
    void tenantsShareInFlightWorkOnlyWhenTheServerSaysSo() throws Exception {
        String options = "{\"formats\": [\"onnx\"], \"seed\": 11}";
        for (boolean share : new boolean[] {true, false}) {
            Path data = work.resolve("tenants-" + share);
            String alices;
            String bobs;
            try (KilnServer s = KilnServer.start(config(data, share).workers(0).build())) {
                ServerClient c = new ServerClient(s.url());
                alices = submit(c, ALICE, options).get("id").asText();
                bobs = submit(c, BOB, options).get("id").asText();
            }
            try (KilnServer s = KilnServer.start(config(data, share).workers(1).build())) {
                ServerClient c = new ServerClient(s.url());
                JsonNode a = c.awaitFinished(alices, ALICE, 180);
                JsonNode b = c.awaitFinished(bobs, BOB, 180);
                assertEquals("done", a.get("state").asText(), a.toString());
                assertEquals("done", b.get("state").asText(), b.toString());
                assertEquals(share ? 0 : 1, b.get("attempts").asInt(), "share=" + share + ": " + b);
                assertNull(b.get("reusedFrom"), "another tenant's job id is not shown: " + b);
                assertTrue(Arrays.equals(onnx(c, alices, ALICE), onnx(c, bobs, BOB)));
                // each tenant sees only its own job
                assertEquals(403, c.get("/v1/jobs/" + alices, BOB).statusCode());
                assertEquals(403, c.get("/v1/jobs/" + alices + "/artifacts/model.onnx", BOB).statusCode());
                JsonNode bobsList = ServerClient.json(c.get("/v1/jobs", BOB));
                assertEquals(1, bobsList.get("total").asInt());
                assertEquals(bobs, bobsList.get("jobs").get(0).get("id").asText());
            }
        }
    }
}
