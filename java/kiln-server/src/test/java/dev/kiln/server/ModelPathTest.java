package dev.kiln.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.tensorflow.ExampleModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A model named by its path on the server: accepted under an allowed root and optimized from a copy; refused outside
 * the roots (also through a link that leads out), as a relative path, or on a server without roots.
 */
class ModelPathTest {
    private static final String TOKEN = "ivan-token-0123456789";

    @TempDir
    Path dir;

    private static Map<String, ServerClient.Part> byPath(String path) {
        Map<String, ServerClient.Part> parts = new LinkedHashMap<>();
        parts.put("model_path", new ServerClient.Part(null, path.getBytes(StandardCharsets.UTF_8)));
        parts.put("options", new ServerClient.Part(null, "{\"formats\": [\"onnx\"]}".getBytes(
                StandardCharsets.UTF_8)));
        return parts;
    }

    @Test
    void pathsUnderAnAllowedRootOnly() throws Exception {
        Path root = Files.createDirectories(dir.resolve("models"));
        Path inside = ExampleModels.twoOutputs(root.resolve("two_outputs"));
        Path outside = ExampleModels.twoOutputs(dir.resolve("elsewhere/two_outputs"));
        Path link = Files.createSymbolicLink(root.resolve("sneaky"), outside);
        try (KilnServer s = KilnServer.start(ServerConfig.builder(dir.resolve("data"),
                Tokens.of(Map.of(TOKEN, "ivan"))).port(0).workers(1).allowedRoots(List.of(root)).build())) {
            ServerClient c = new ServerClient(s.url());
            HttpResponse<String> r = c.submit(TOKEN, byPath(inside.toAbsolutePath().toString()));
            assertEquals(202, r.statusCode(), r.body());
            JsonNode job = c.awaitFinished(ServerClient.json(r).get("id").asText(), TOKEN, 180);
            assertEquals("done", job.get("state").asText(), job.toString());
            assertEquals("two_outputs", job.get("model").get("name").asText());
            assertEquals(200, c.getBytes("/v1/jobs/" + job.get("id").asText() + "/artifacts/model.onnx", TOKEN)
                    .statusCode());
            assertTrue(Files.isRegularFile(inside.resolve("saved_model.pb")), "the source is left as it was");

            HttpResponse<String> out = c.submit(TOKEN, byPath(outside.toAbsolutePath().toString()));
            assertEquals(403, out.statusCode(), out.body());
            assertTrue(out.body().contains("not under an allowed root"), out.body());
            HttpResponse<String> viaLink = c.submit(TOKEN, byPath(link.toAbsolutePath().toString()));
            assertEquals(403, viaLink.statusCode(), viaLink.body());
            HttpResponse<String> relative = c.submit(TOKEN, byPath("models/two_outputs"));
            assertEquals(400, relative.statusCode(), relative.body());
            assertTrue(relative.body().contains("absolute path"), relative.body());
        }
        try (KilnServer s = KilnServer.start(ServerConfig.builder(dir.resolve("data2"),
                Tokens.of(Map.of(TOKEN, "ivan"))).port(0).workers(0).build())) {
            HttpResponse<String> r = new ServerClient(s.url()).submit(TOKEN, byPath(inside.toString()));
            assertEquals(400, r.statusCode(), r.body());
            assertTrue(r.body().contains("--allow-root"), r.body());
        }
    }
}
