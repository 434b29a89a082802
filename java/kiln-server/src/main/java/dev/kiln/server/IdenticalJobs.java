package dev.kiln.server;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Identical jobs in flight at once: a submission whose cache key (model bytes + options + calibration data) matches a
 * job still queued or running is stored attached to it ({@code reused_from}) and given to no worker, so the work is
 * done once. When that job ends its followers are settled here: done → each follower is done with the same outputs;
 * failed → each fails with the same reason (the same input fails the same way); cancelled → the oldest follower runs
 * itself (it kept its own upload for this) and the others attach to it. A follower cancelled by its owner simply ends.
 */
final class IdenticalJobs {
    private final JobStore store;
    private final DataDir dirs;
    private final Metrics metrics;

    IdenticalJobs(JobStore store, DataDir dirs, Metrics metrics) {
        this.store = store;
        this.dirs = dirs;
        this.metrics = metrics;
    }

    /**
     * Settles the followers of {@code leaderId} once it has ended; returns the id of the follower that must now run
     * itself (to be given to the workers), or null. Does nothing while the leader is still queued or running.
     */
    String settle(String leaderId) {
        Job leader = store.get(leaderId).orElse(null);
        if (leader != null && !leader.state().finished()) {
            return null;
        }
        List<Job> followers = store.followers(leaderId);
        if (followers.isEmpty()) {
            return null;
        }
        long now = System.currentTimeMillis();
        if (leader != null && leader.state() == JobState.DONE && leader.expiredMs() == null) {
            for (Job f : followers) {
                if (store.finishFromLeader(f.id(), leader.resultDir(), leader.summary(), now)) {
                    metrics.finished(JobState.DONE, Map.of());
                    DataDir.deleteRecursively(dirs.model(f.id()));
                }
            }
            return null;
        }
        if (leader != null && leader.state() == JobState.FAILED) {
            for (Job f : followers) {
                if (store.finish(f.id(), JobState.FAILED, null, null, "an identical job that ran for this one failed: "
                        + leader.error(), now)) {
                    metrics.finished(JobState.FAILED, Map.of());
                    DataDir.deleteRecursively(dirs.model(f.id()));
                }
            }
            return null;
        }
        // cancelled (or gone): the oldest follower does the work, the others wait on it
        Job next = followers.get(0);
        store.attach(next.id(), null);
        for (Job f : followers.subList(1, followers.size())) {
            store.attach(f.id(), next.id());
        }
        return next.id();
    }

    /** At start: settles the followers whose leader ended before the previous process could; returns ids to run. */
    List<String> settleAll() {
        List<String> run = new ArrayList<>();
        for (String leader : store.leadersOfWaiting()) {
            String next = settle(leader);
            if (next != null) {
                run.add(next);
            }
        }
        return run;
    }
}
