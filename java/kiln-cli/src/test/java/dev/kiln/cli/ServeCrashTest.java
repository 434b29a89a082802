package dev.kiln.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.KilnTemporaries;
import dev.kiln.tensorflow.ExampleModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code kiln serve} as a real process ({@code java dev.kiln.cli.Main serve}), SIGKILLed while jobs run, several times
 * over, each time restarted on the same {@code --data}: every accepted job ends done or failed with a reason (with
 * {@code --max-attempts 2}, a job killed during both its attempts fails saying so, one killed once is rerun), every
 * published output is whole (each file's SHA-256 is the one its report.json lists) after every kill, no staging
 * directory or temporary is left at the end, and the SQLite database passes {@code PRAGMA integrity_check}.
 * {@code -Dkiln.serve.kills=N} kills more often (default 3), {@code -Dkiln.kill.seed} repeats a run.
 */
class ServeCrashTest {
    private static final String TOKEN = "frank-token-0123456789";
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    private final HttpClient http = HttpClient.newHttpClient();

    @Test
    void killedRepeatedlyMidJobEveryAcceptedJobEndsAndNothingIsHalfWritten() throws Exception {
        int kills = Integer.getInteger("kiln.serve.kills", 3);
        long seed = Long.getLong("kiln.kill.seed", System.nanoTime());
        Random random = new Random(seed);
        byte[] zip = zip(ExampleModels.exampleCnn(dir.resolve("m")));
        Path tokens = Files.writeString(dir.resolve("tokens.txt"), TOKEN + " frank\n");
        Path data = dir.resolve("data");
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        String base = "http://127.0.0.1:" + port;

        List<String> ids = new ArrayList<>();
        for (int round = 0; round < kills; round++) {
            Process p = serve(port, data, tokens, "run" + round);
            try {
                awaitHealthy(base, p);
                if (round == 0) {
                    for (int i = 0; i < 4; i++) { // distinct seeds: four jobs of their own, no shared result
                        ids.add(submit(base, zip, "{\"formats\": [\"onnx\", \"savedmodel\"], \"seed\": " + i + "}"));
                    }
                }
                assertTrue(awaitRunning(base, ids, 120_000), "a job runs when kill " + (round + 1) + " comes");
                Thread.sleep(random.nextInt(1500)); // somewhere inside the job
                p.destroyForcibly(); // SIGKILL: no shutdown hook runs
                assertTrue(p.waitFor(30, TimeUnit.SECONDS));
            } finally {
                p.destroyForcibly();
            }
            assertPublishedOutputsAreWhole(data, "after kill " + (round + 1) + " (seed " + seed + ")");
        }

        Process last = serve(port, data, tokens, "final");
        StringBuilder outcome = new StringBuilder();
        boolean rerun = false;
        try {
            awaitHealthy(base, last);
            for (String id : ids) {
                JsonNode j = awaitFinished(base, id, 300_000);
                String state = j.get("state").asText();
                outcome.append(' ').append(state).append(" after ").append(j.get("attempts").asInt())
                        .append(" attempt(s)");
                assertTrue(state.equals("done") || state.equals("failed"), j.toString());
                if (state.equals("failed")) {
                    assertTrue(j.hasNonNull("error") && !j.get("error").asText().isBlank(), "a reason: " + j);
                } else {
                    assertEquals(200, get(base + "/v1/jobs/" + id + "/artifacts/model.onnx").statusCode());
                }
                assertTrue(j.get("attempts").asInt() <= 2, j.toString());
                rerun |= j.get("attempts").asInt() == 2;
            }
            assertTrue(rerun, "a job killed mid-run was started again:" + outcome);
            assertEquals("ok", JSON.readTree(get(base + "/readyz").body()).get("database").asText());
        } finally {
            last.destroy(); // SIGTERM: the shutdown hook closes the database
            assertTrue(last.waitFor(60, TimeUnit.SECONDS));
            last.destroyForcibly();
        }
        assertPublishedOutputsAreWhole(data, "at the end (seed " + seed + ")");
        System.out.println("ServeCrashTest: " + kills + " SIGKILLs mid-job (seed " + seed + "); jobs:" + outcome);
        try (Stream<Path> s = Files.walk(data.resolve("jobs"))) {
            List<Path> left = s.filter(p -> p.getFileName().toString().equals("work")
                    || p.getFileName().toString().endsWith(".incoming")
                    || KilnTemporaries.isTemporaryName(p.getFileName().toString())).toList();
            assertTrue(left.isEmpty(), "staging left behind: " + left);
        }
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + data.resolve("jobs.db"));
             Statement s = c.createStatement(); ResultSet r = s.executeQuery("PRAGMA integrity_check")) {
            assertTrue(r.next());
            assertEquals("ok", r.getString(1));
        }
    }

    /** Every {@code jobs/<id>/out} holds its report.json and every file it lists, with the listed SHA-256. */
    private static void assertPublishedOutputsAreWhole(Path data, String when) throws Exception {
        Path jobs = data.resolve("jobs");
        if (!Files.isDirectory(jobs)) {
            return;
        }
        try (Stream<Path> s = Files.list(jobs)) {
            for (Path job : s.toList()) {
                Path out = job.resolve("out");
                if (!Files.isDirectory(out)) {
                    continue;
                }
                Path report = out.resolve("report.json");
                assertTrue(Files.isRegularFile(report), when + ": " + out + " was published without its report");
                JsonNode files = JSON.readTree(report.toFile()).get("files");
                assertTrue(files.size() > 0, when + ": " + report);
                for (JsonNode f : files) {
                    Path file = out.resolve(f.get("path").asText());
                    assertTrue(Files.isRegularFile(file), when + ": " + file + " is missing");
                    assertEquals(f.get("sha256").asText(), sha256(file), when + ": " + file + " is not whole");
                }
            }
        }
    }

    private static String sha256(Path f) throws Exception {
        MessageDigest md = MessageDigest.getInstance("SHA-256");
        try (InputStream in = Files.newInputStream(f)) {
            byte[] buf = new byte[1 << 16];
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /** Waits until one of {@code ids} runs; false when all have ended. */
    private boolean awaitRunning(String base, List<String> ids, long millis) throws Exception {
        long deadline = System.currentTimeMillis() + millis;
        while (System.currentTimeMillis() < deadline) {
            boolean allEnded = true;
            for (String id : ids) {
                String state = job(base, id).get("state").asText();
                if (state.equals("running")) {
                    return true;
                }
                allEnded &= state.equals("done") || state.equals("failed") || state.equals("cancelled");
            }
            if (allEnded) {
                return false;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no job started within " + millis / 1000 + " s");
    }

    private JsonNode awaitFinished(String base, String id, long millis) throws Exception {
        long deadline = System.currentTimeMillis() + millis;
        JsonNode j = job(base, id);
        while (!j.get("state").asText().equals("done") && !j.get("state").asText().equals("failed")) {
            assertTrue(System.currentTimeMillis() < deadline, "job " + id + " did not end: " + j);
            Thread.sleep(200);
            j = job(base, id);
        }
        return j;
    }

    private Process serve(int port, Path data, Path tokens, String name) throws IOException {
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = List.of(java, "-Xmx2g", "-cp", System.getProperty("java.class.path"), Main.class.getName(),
                "serve", "--port", String.valueOf(port), "--data", data.toString(), "--tokens", tokens.toString(),
                "--workers", "1", "--gpus", "0", "--max-attempts", "2");
        return new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectOutput(dir.resolve(name + ".log").toFile()).start();
    }

    private void awaitHealthy(String base, Process p) throws Exception {
        for (int i = 0; i < 1200; i++) {
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
        throw new AssertionError("the server did not answer within 120 s");
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

    private String submit(String base, byte[] zip, String options) throws Exception {
        String boundary = "crash-test-boundary";
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.writeBytes(("--" + boundary + "\r\nContent-Disposition: form-data; name=\"model\"; filename=\"m.zip\""
                + "\r\n\r\n").getBytes(StandardCharsets.UTF_8));
        body.writeBytes(zip);
        body.writeBytes(("\r\n--" + boundary + "\r\nContent-Disposition: form-data; name=\"options\"\r\n\r\n"
                + options + "\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.UTF_8));
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
