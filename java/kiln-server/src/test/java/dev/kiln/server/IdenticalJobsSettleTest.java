package dev.kiln.server;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * How the jobs waiting on an identical one end, on the database alone: with its result when it is done, with its
 * reason when it failed, by running themselves (the oldest; the others then wait on it) when it was cancelled, and,
 * at start, for a job that ended before the previous process could settle its followers. Attaching is per tenant
 * unless the scope is shared, and never to a job that has ended.
 */
class IdenticalJobsSettleTest {
    @TempDir
    Path dir;

    private static Job queued(String id, String tenant, long created) {
        return new Job(id, tenant, JobState.QUEUED, created, null, null, null, 0, "{}", "m", 10, "key", null, null,
                null, null, 0, false, null);
    }

    private JobStore store() {
        return JobStore.open(dir.resolve("jobs.db"));
    }

    @Test
    void followersEndWithTheirLeader() {
        try (JobStore s = store()) {
            IdenticalJobs identical = new IdenticalJobs(s, new DataDir(dir), new Metrics());
            assertNull(s.insertOrAttach(queued("lead", "t", 1), "t").reusedFrom());
            assertEquals("lead", s.insertOrAttach(queued("f1", "t", 2), "t").reusedFrom());
            assertNull(s.insertOrAttach(queued("other-tenant", "u", 3), "u").reusedFrom(), "per tenant");
            assertEquals("lead", s.insertOrAttach(queued("shared", "u", 4), null).reusedFrom(), "shared scope");
            assertEquals(List.of("lead", "other-tenant"), s.queuedIds(), "followers are not given to workers");

            assertNull(identical.settle("lead"), "nothing to settle while the leader is queued");
            assertTrue(s.markRunning("lead", 5));
            assertTrue(s.finish("lead", JobState.DONE, "jobs/lead/out", "{\"allPassed\":true}", null, 6));
            assertNull(identical.settle("lead"));
            for (String id : List.of("f1", "shared")) {
                Job f = s.get(id).orElseThrow();
                assertEquals(JobState.DONE, f.state(), f.toString());
                assertEquals("jobs/lead/out", f.resultDir());
                assertEquals("{\"allPassed\":true}", f.summary());
                assertEquals(0, f.attempts());
            }
            assertNull(s.insertOrAttach(queued("late", "t", 7), "t").reusedFrom(), "an ended job takes no followers");
        }
    }

    @Test
    void aFailedLeaderFailsItsFollowersWithItsReason() {
        try (JobStore s = store()) {
            IdenticalJobs identical = new IdenticalJobs(s, new DataDir(dir), new Metrics());
            s.insertOrAttach(queued("lead", "t", 1), "t");
            s.insertOrAttach(queued("f1", "t", 2), "t");
            assertTrue(s.markRunning("lead", 3));
            s.finish("lead", JobState.FAILED, null, null, "model.pb: unsupported op 'Frobnicate'", 4);
            identical.settle("lead");
            Job f = s.get("f1").orElseThrow();
            assertEquals(JobState.FAILED, f.state());
            assertTrue(f.error().contains("unsupported op 'Frobnicate'"), f.error());
        }
    }

    @Test
    void aCancelledLeaderHandsTheWorkToTheOldestFollower() {
        try (JobStore s = store()) {
            IdenticalJobs identical = new IdenticalJobs(s, new DataDir(dir), new Metrics());
            s.insertOrAttach(queued("lead", "t", 1), "t");
            s.insertOrAttach(queued("f1", "t", 2), "t");
            s.insertOrAttach(queued("f2", "t", 3), "t");
            assertTrue(s.cancelQueued("lead", 4));
            assertEquals("f1", identical.settle("lead"));
            assertNull(s.get("f1").orElseThrow().reusedFrom(), "f1 runs itself");
            assertEquals("f1", s.get("f2").orElseThrow().reusedFrom(), "f2 now waits on f1");
            assertEquals(List.of("f1"), s.queuedIds());
        }
    }

    @Test
    void atStartFollowersOfAnEndedLeaderAreSettled() {
        try (JobStore s = store()) {
            s.insertOrAttach(queued("lead", "t", 1), "t");
            s.insertOrAttach(queued("f1", "t", 2), "t");
            assertTrue(s.markRunning("lead", 3));
            // the process died after the leader's row said done, before its followers were settled
            s.finish("lead", JobState.DONE, "jobs/lead/out", "{}", null, 4);
        }
        try (JobStore s = store()) {
            assertEquals(List.of("lead"), s.leadersOfWaiting());
            assertEquals(List.of(), new IdenticalJobs(s, new DataDir(dir), new Metrics()).settleAll());
            assertEquals(JobState.DONE, s.get("f1").orElseThrow().state());
            assertEquals(List.of(), s.leadersOfWaiting());
        }
    }
}
