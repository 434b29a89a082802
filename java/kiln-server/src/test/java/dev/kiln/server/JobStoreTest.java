package dev.kiln.server;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The job database: migrations applied once, a newer schema refused, and recovery after a stop mid-job. */
class JobStoreTest {
    @TempDir
    Path dir;

    private static Job queued(String id) {
        return new Job(id, "t", JobState.QUEUED, System.currentTimeMillis(), null, null, null, 0, "{}", "m", 10, "k",
                null, null, null, null, 0, false, null);
    }

    @Test
    void migrationsApplyOnceAndANewerSchemaIsRefused() throws Exception {
        Path db = dir.resolve("jobs.db");
        try (JobStore s = JobStore.open(db)) {
            s.insert(queued("a"));
        }
        try (Connection c = DriverManager.getConnection("jdbc:sqlite:" + db)) {
            assertEquals(0, Migrations.apply(c), "reopening applies nothing");
            try (Statement st = c.createStatement()) {
                st.execute("INSERT INTO schema_migrations VALUES (" + (Migrations.latest() + 1) + ", 'future', 0)");
            }
        }
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> JobStore.open(db));
        assertTrue(e.getMessage().contains("newer than this server"), e.getMessage());
    }

    @Test
    void jobsLeftRunningAreRequeuedUntilTheirAttemptsRunOut() {
        try (JobStore s = JobStore.open(dir.resolve("jobs.db"))) {
            s.insert(queued("a"));
            s.insert(queued("b"));
            assertTrue(s.markRunning("a", 1));
            assertTrue(s.markRunning("b", 1));
            assertEquals(java.util.List.of("a", "b"), s.recover(2, 2).stream().sorted().toList());
            assertEquals(JobState.QUEUED, s.get("a").orElseThrow().state());
            assertTrue(s.markRunning("a", 3));
            assertEquals(java.util.List.of(), s.recover(2, 4).stream().filter("a"::equals).toList());
            Job a = s.get("a").orElseThrow();
            assertEquals(JobState.FAILED, a.state());
            assertTrue(a.error().contains("each of 2 attempts"), a.error());
            assertFalse(s.markRunning("a", 5), "a failed job does not run again");
            assertEquals("ok", s.integrityCheck());
        }
    }
}
