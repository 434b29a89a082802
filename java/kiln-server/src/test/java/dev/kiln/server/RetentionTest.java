package dev.kiln.server;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The retention limit: outputs past the age limit go, then the oldest until the rest fit the size limit; jobs that
 * reused a removed output expire with it; an expired job's artifacts answer 410 and its result is no longer reused.
 */
class RetentionTest {
    private static final String TOKEN = "grace-token-0123456789";

    @TempDir
    Path dir;

    private Job done(JobStore store, DataDir dirs, String id, long finished, int bytes, String reusedFrom)
            throws Exception {
        String result = reusedFrom == null ? DataDir.outRelative(id) : DataDir.outRelative(reusedFrom);
        if (reusedFrom == null) {
            Files.createDirectories(dirs.resolve(result));
            Files.write(dirs.resolve(result).resolve("file.bin"), new byte[bytes]);
        }
        Job j = new Job(id, "grace", JobState.DONE, finished, finished, finished, "done", 100, "{}", "m", 10,
                "key-" + (reusedFrom == null ? id : reusedFrom), result, reusedFrom, null, "{}", 1, false, null);
        store.insert(j);
        return j;
    }

    @Test
    void oldAndThenOldestOutputsAreRemoved() throws Exception {
        DataDir dirs = new DataDir(dir.resolve("data"));
        Files.createDirectories(dirs.jobs());
        try (JobStore store = JobStore.open(dirs.database())) {
            done(store, dirs, "a", 1000, 3000, null);
            done(store, dirs, "b", 2000, 2000, null);
            done(store, dirs, "c", 3000, 1000, null);
            done(store, dirs, "r", 3500, 0, "a");

            assertEquals(List.of("jobs/a/out"), new Retention(store, dirs, Duration.ofMillis(1500), 0).sweep(3000));
            assertFalse(Files.exists(dirs.resolve("jobs/a/out")));
            assertNotNull(store.get("a").orElseThrow().expiredMs());
            assertNotNull(store.get("r").orElseThrow().expiredMs(), "the job reusing a's output expires with it");
            assertTrue(store.findDone("grace", "key-a").isEmpty(), "an expired result is not reused");

            assertEquals(List.of("jobs/b/out"), new Retention(store, dirs, null, 1500).sweep(4000));
            assertTrue(Files.exists(dirs.resolve("jobs/c/out/file.bin")));
            assertEquals(List.of(), new Retention(store, dirs, null, 1500).sweep(5000), "within the limits now");
        }
        try (KilnServer s = KilnServer.start(ServerConfig.builder(dirs.root(), Tokens.of(Map.of(TOKEN, "grace")))
                .port(0).workers(0).build())) {
            ServerClient c = new ServerClient(s.url());
            HttpResponse<String> gone = c.get("/v1/jobs/a/artifacts/file.bin", TOKEN);
            assertEquals(410, gone.statusCode(), gone.body());
            assertTrue(gone.body().contains("retention limit"), gone.body());
            assertTrue(ServerClient.json(c.get("/v1/jobs/r", TOKEN)).has("expired"));
            assertEquals(200, c.getBytes("/v1/jobs/c/artifacts/file.bin", TOKEN).statusCode());
        }
    }
}
