package dev.kiln.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.tensorflow.ExampleModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the server refuses, over real HTTP, each with its status and a JSON error naming what is wrong: no or wrong
 * token (401), another tenant's job (403), archives with traversal, absolute paths, links, or that are not archives
 * or are too large (400/413), unknown options and fields (400). Refused uploads leave nothing in the data directory
 * and nothing outside it. Workers are off: nothing here needs a job to run.
 */
class ServerRefusalsTest {
    private static final String ALICE = "alice-token-0123456789";
    private static final String BOB = "bob-token-0123456789ab";
    private static Path work;
    private static Path data;
    private static byte[] goodTar;
    private static KilnServer server;
    private static ServerClient client;

    @BeforeAll
    static void start() throws Exception {
        work = Files.createTempDirectory("kiln-server-refusals");
        data = work.resolve("data");
        goodTar = TestArchives.tarOf(ExampleModels.twoOutputs(work.resolve("m")), "m");
        server = KilnServer.start(ServerConfig.builder(data, Tokens.of(Map.of(ALICE, "alice", BOB, "bob")))
                .port(0).workers(0).maxUploadBytes(goodTar.length + 64 * 1024).maxArchiveRatio(20).build());
        client = new ServerClient(server.url());
    }

    @AfterAll
    static void stop() {
        if (server != null) {
            server.close();
        }
        DataDir.deleteRecursively(work);
    }

    private static void assertRefused(HttpResponse<String> r, int status, String inMessage) {
        assertEquals(status, r.statusCode(), r.body());
        JsonNode e = ServerClient.json(r);
        assertEquals(status, e.get("status").asInt());
        assertTrue(e.get("error").asText().contains(inMessage), "'" + inMessage + "' in " + e);
    }

    private static HttpResponse<String> submitArchive(byte[] archive) {
        return client.submit(ALICE, ServerClient.model("m.tar", archive, null));
    }

    @Test
    void tokensAreRequiredAndTenantsSeeOnlyTheirJobs() {
        assertRefused(client.submit(null, ServerClient.model("m.tar", goodTar, null)), 401, "Authorization");
        assertRefused(client.submit("not-a-known-token-xyz", ServerClient.model("m.tar", goodTar, null)), 401,
                "unknown bearer token");
        assertRefused(client.get("/v1/jobs", null), 401, "Authorization");
        HttpResponse<String> r = client.submit(ALICE, ServerClient.model("m.tar", goodTar, null));
        assertEquals(202, r.statusCode(), r.body());
        String id = ServerClient.json(r).get("id").asText();
        assertEquals(200, client.get("/v1/jobs/" + id, ALICE).statusCode());
        assertRefused(client.get("/v1/jobs/" + id, BOB), 403, "another tenant");
        assertRefused(client.delete("/v1/jobs/" + id, BOB), 403, "another tenant");
        assertRefused(client.get("/v1/jobs/" + id + "/artifacts/model.onnx", BOB), 403, "another tenant");
        assertEquals(0, ServerClient.json(client.get("/v1/jobs", BOB)).get("total").asInt());
        assertRefused(client.get("/v1/jobs/no-such-job", ALICE), 404, "no job");
        // cancelling the queued job ends it at once and removes its upload
        HttpResponse<String> c = client.delete("/v1/jobs/" + id, ALICE);
        assertEquals(202, c.statusCode(), c.body());
        assertEquals("cancelled", ServerClient.json(c).get("state").asText());
        assertFalse(Files.exists(data.resolve("jobs").resolve(id)));
        assertRefused(client.delete("/v1/jobs/" + id, ALICE), 409, "already cancelled");
    }

    @Test
    void unsafeArchivesAreRefusedAndLeaveNothingBehind() throws Exception {
        byte[] pb = "not really a graph".getBytes(StandardCharsets.UTF_8);
        assertRefused(submitArchive(TestArchives.tar(List.of(TestArchives.Entry.file("m/../../evil.txt", pb)))),
                400, "'..': m/../../evil.txt");
        assertRefused(submitArchive(TestArchives.tar(List.of(TestArchives.Entry.file("/tmp/evil.txt", pb)))),
                400, "absolute path: /tmp/evil.txt");
        assertRefused(submitArchive(TestArchives.tar(List.of(TestArchives.Entry.dir("m/"),
                new TestArchives.Entry("m/saved_model.pb", '2', new byte[0], "/etc/passwd")))), 400,
                "symbolic link: m/saved_model.pb");
        assertRefused(submitArchive(TestArchives.tar(List.of(
                new TestArchives.Entry("m/variables", '1', new byte[0], "/etc/shadow")))), 400,
                "hard link: m/variables");
        assertRefused(submitArchive(TestArchives.zip(List.of(TestArchives.Entry.file("../evil.txt", pb)))), 400,
                "'..': ../evil.txt");
        assertRefused(submitArchive("just some text, not an archive".getBytes(StandardCharsets.UTF_8)), 400,
                "not a .tar, .tar.gz or .zip");
        byte[] truncated = java.util.Arrays.copyOf(goodTar, 700);
        HttpResponse<String> t = submitArchive(truncated);
        assertEquals(400, t.statusCode(), t.body());
        assertRefused(submitArchive(TestArchives.tar(List.of(TestArchives.Entry.file("x/readme.txt", pb)))), 400,
                "no saved_model.pb");
        // a zip bomb: 3 MiB of zeros compress to a few KiB, over the ratio of 20 configured here
        byte[] bomb = TestArchives.zip(List.of(TestArchives.Entry.file("m/saved_model.pb", new byte[3 << 20])));
        assertRefused(submitArchive(bomb), 400, "zip bomb");
        // over the upload limit
        byte[] big = new byte[goodTar.length + 128 * 1024];
        new java.util.Random(1).nextBytes(big);
        assertRefused(submitArchive(big), 413, "larger than the limit");

        try (Stream<Path> s = Files.list(data.resolve("jobs"))) {
            List<Path> left = s.filter(p -> !isAcceptedJob(p)).toList();
            assertEquals(List.of(), left, "refused uploads leave no directory");
        }
        try (Stream<Path> s = Files.walk(work)) {
            assertEquals(List.of(), s.filter(p -> p.getFileName().toString().equals("evil.txt")).toList());
        }
        assertFalse(Files.exists(Path.of("/tmp/evil.txt")) && Files.size(Path.of("/tmp/evil.txt")) == pb.length,
                "nothing written at the absolute path");
    }

    private static boolean isAcceptedJob(Path p) {
        return server != null && !p.getFileName().toString().endsWith(".incoming")
                && ServerClient.json(client.get("/v1/jobs/" + p.getFileName(), ALICE)).has("state");
    }

    @Test
    void badOptionsAndFormsAreRefusedByName() {
        assertRefused(client.submit(ALICE, ServerClient.model("m.tar", goodTar, "{\"precision\": [\"fp16\"]}")),
                400, "unknown option 'precision'");
        assertRefused(client.submit(ALICE, ServerClient.model("m.tar", goodTar, "{\"formats\": [\"coreml\"]}")),
                400, "unknown format 'coreml'");
        assertRefused(client.submit(ALICE, ServerClient.model("m.tar", goodTar, "{\"opset\": \"17\"}")), 400,
                "'opset' must be a whole number");
        assertRefused(client.submit(ALICE, ServerClient.model("m.tar", goodTar, "{not json")), 400,
                "not valid JSON");
        assertRefused(client.submit(ALICE, ServerClient.model("m.tar", goodTar, "{\"precisions\": [\"int8\"]}")),
                400, "needs calibration data");
        Map<String, ServerClient.Part> extra = new java.util.LinkedHashMap<>(
                ServerClient.model("m.tar", goodTar, null));
        extra.put("script", new ServerClient.Part("run.sh", new byte[] {1}));
        assertRefused(client.submit(ALICE, extra), 400, "unknown form field 'script'");
        assertRefused(client.submit(ALICE, Map.of("options", new ServerClient.Part(null, "{}".getBytes(
                StandardCharsets.UTF_8)))), 400, "'model' part is missing");
        Map<String, ServerClient.Part> withData = new java.util.LinkedHashMap<>(
                ServerClient.model("m.tar", goodTar, null));
        withData.put("data", new ServerClient.Part("d.npy", "not numpy".getBytes(StandardCharsets.UTF_8)));
        assertRefused(client.submit(ALICE, withData), 400, "calibrates INT8, but 'precisions' has no 'int8'");
        withData.put("options", new ServerClient.Part(null, "{\"precisions\": [\"int8\"]}".getBytes(
                StandardCharsets.UTF_8)));
        assertRefused(client.submit(ALICE, withData), 400, "neither .npy nor .npz");
        assertRefused(client.get("/v1/jobs?state=sleeping", ALICE), 400, "unknown job state 'sleeping'");
        assertRefused(client.get("/v1/jobs?limit=0", ALICE), 400, "'limit' must be in [1, 200]");
    }
}
