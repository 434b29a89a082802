package dev.kiln.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code kiln serve}: bad flags are one clear line and exit 2; good ones serve the API until the server stops. */
class ServeCliTest {
    @TempDir
    Path dir;

    @Test
    void missingOrBadTokensAreClearErrors() throws Exception {
        CliTest.Run noData = CliTest.kiln("serve", "--port", "0");
        assertEquals(2, noData.status(), noData.err());
        assertTrue(noData.err().contains("--data"), noData.err());

        CliTest.Run noFile = CliTest.kiln("serve", "--port", "0", "--data", dir.resolve("d").toString(),
                "--tokens", dir.resolve("missing.txt").toString());
        assertEquals(2, noFile.status(), noFile.err());
        assertTrue(noFile.err().contains("cannot read the tokens file"), noFile.err());

        Path shortToken = Files.writeString(dir.resolve("short.txt"), "abc alice\n");
        CliTest.Run tooShort = CliTest.kiln("serve", "--port", "0", "--data", dir.resolve("d").toString(),
                "--tokens", shortToken.toString());
        assertEquals(2, tooShort.status(), tooShort.err());
        assertTrue(tooShort.err().contains("shorter than 16 characters"), tooShort.err());
    }

    @Test
    void servesTheApiUntilStopped() throws Exception {
        Path tokens = Files.writeString(dir.resolve("tokens.txt"), "# token tenant\ndave-token-0123456789 dave\n");
        int port;
        try (ServerSocket s = new ServerSocket(0)) {
            port = s.getLocalPort();
        }
        AtomicInteger status = new AtomicInteger(-1);
        Thread t = new Thread(() -> status.set(Main.execute("serve", "--port", String.valueOf(port), "--data",
                dir.resolve("data").toString(), "--tokens", tokens.toString(), "--workers", "1")));
        t.start();
        HttpClient http = HttpClient.newHttpClient();
        String base = "http://127.0.0.1:" + port;
        HttpResponse<String> health = null;
        for (int i = 0; i < 100 && (health == null || health.statusCode() != 200); i++) {
            try {
                health = http.send(HttpRequest.newBuilder(URI.create(base + "/healthz")).build(),
                        HttpResponse.BodyHandlers.ofString());
            } catch (java.io.IOException notYet) {
                Thread.sleep(100);
            }
        }
        assertEquals(200, health.statusCode());
        HttpResponse<String> jobs = http.send(HttpRequest.newBuilder(URI.create(base + "/v1/jobs"))
                .header("Authorization", "Bearer dave-token-0123456789").build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, jobs.statusCode(), jobs.body());
        assertTrue(jobs.body().contains("\"total\" : 0"), jobs.body());
        assertTrue(Files.isRegularFile(dir.resolve("data/jobs.db")));
        ServeCommand.running.close();
        t.join(30_000);
        assertEquals(0, status.get());
    }
}
