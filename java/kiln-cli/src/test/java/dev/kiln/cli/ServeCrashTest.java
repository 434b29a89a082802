package dev.kiln.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.tensorflow.ExampleModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code kiln serve} killed with SIGKILL while a job runs: after a restart on the same data directory the job is run
 * again from the beginning and finishes, the database passes SQLite's integrity check, and no half-written output
 * was ever published. Both servers are real processes ({@code java dev.kiln.cli.Main serve}).
 */
class ServeCrashTest {
    private static final String TOKEN = "frank-token-0123456789";
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private final HttpClient http = HttpClient.newHttpClient();

    @Test
    void aJobKilledMidRunIsRerunAfterRestart() throws Exception {
        Path model = ExampleModels.twoOutputs(dir.resolve("m"));
        Path tokens = Files.writeString(dir.resolve("tokens.txt"), TOKEN + " frank\n");
        Path data = dir.resolve("data");
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        String base = "http://127.0.0.1:" + port;

        Process first = serve(port, data, tokens, "first");
        String id;
        try {
            awaitHealthy(base, first);
            id = submit(base, zip(model));
            long deadline = System.currentTimeMillis() + 120_000;
            String state = "queued";
            while (state.equals("queued") && System.currentTimeMillis() < deadline) {
                state = job(base, id).get("state").asText();
            }
            assertEquals("running", state, "the job started");
            first.destroyForcibly(); // SIGKILL: no shutdown hook runs
            assertTrue(first.waitFor(30, TimeUnit.SECONDS));
        } finally {
            first.destroyForcibly();
        }
        assertFalse(Files.exists(data.resolve("jobs").resolve(id).resolve("out")), "nothing published");

        Process second = serve(port, data, tokens, "second");
        try {
            awaitHealthy(base, second);
            JsonNode j = job(base, id);
            long deadline = System.currentTimeMillis() + 180_000;
            while (!j.get("state").asText().equals("done") && !j.get("state").asText().equals("failed")
                    && System.currentTimeMillis() < deadline) {
                Thread.sleep(200);
                j = job(base, id);
            }
            assertEquals("done", j.get("state").asText(), j.toString());
            assertEquals(2, j.get("attempts").asInt(), j.toString());
            JsonNode ready = JSON.readTree(get(base + "/readyz").body());
            assertEquals("ok", ready.get("database").asText());
            HttpResponse<String> onnx = get(base + "/v1/jobs/" + id + "/artifacts/model.onnx");
            assertEquals(200, onnx.statusCode());
        } finally {
            second.destroy();
            second.waitFor(60, TimeUnit.SECONDS);
            second.destroyForcibly();
        }
    }

    private Process serve(int port, Path data, Path tokens, String name) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = List.of(java, "-Xmx2g", "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "serve", "--port", String.valueOf(port), "--data", data.toString(), "--tokens", tokens.toString(),
                "--workers", "1");
        return new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(dir.resolve(name + ".log").toFile()).start();
    }

    private void awaitHealthy(String base, Process p) throws Exception {
        for (int i = 0; i < 600; i++) {
            assertTrue(p.isAlive(), "the server exited early");
            try {
                if (get(base + "/healthz").statusCode() == 200) {
                    return;
                }
            } catch (IOException notYet) {
                // not listening yet
            }
            Thread.sleep(100);
        }
        throw new AssertionError("the server did not answer within 60 s");
    }

    private static byte[] zip(Path model) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ZipOutputStream z = new ZipOutputStream(out); var files = Files.walk(model)) {
            for (Path p : files.filter(Files::isRegularFile).toList()) {
                z.putNextEntry(new ZipEntry(model.relativize(p).toString().replace(File.separatorChar, '/')));
                z.write(Files.readAllBytes(p));
                z.closeEntry();
            }
        }
        return out.toByteArray();
    }

    private String submit(String base, byte[] zip) throws Exception {
        String boundary = "crash-test-boundary";
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.writeBytes(("--" + boundary + "\r\nContent-Disposition: form-data; name=\"model\"; filename=\"m.zip\""
                + "\r\n\r\n").getBytes(StandardCharsets.UTF_8));
        body.writeBytes(zip);
        body.writeBytes(("\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.UTF_8));
        HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/jobs"))
                .header("Authorization", "Bearer " + TOKEN)
                .header("Content-Type", "multipart/form-data; boundary=" + boundary)
                .POST(HttpRequest.BodyPublishers.ofByteArray(body.toByteArray())).build(),
                HttpResponse.BodyHandlers.ofString());
        assertEquals(202, r.statusCode(), r.body());
        return JSON.readTree(r.body()).get("id").asText();
    }

    private JsonNode job(String base, String id) throws Exception {
        return JSON.readTree(get(base + "/v1/jobs/" + id).body());
    }

    private HttpResponse<String> get(String url) throws IOException, InterruptedException {
        return http.send(HttpRequest.newBuilder(URI.create(url)).header("Authorization", "Bearer " + TOKEN).build(),
                HttpResponse.BodyHandlers.ofString());
    }
}
