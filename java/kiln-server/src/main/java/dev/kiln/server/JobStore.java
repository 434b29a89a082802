package dev.kiln.server;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * The jobs in SQLite (one file, {@code jobs.db} in the data directory): WAL journal with {@code synchronous=FULL},
 * so an accepted job (202 is sent after its row commits) survives a crash or power loss. One connection, its use
 * serialized: the server's writes are a few small rows per job, far below what that allows.
 */
final class JobStore implements AutoCloseable {
    private static final String COLUMNS = "id, tenant, state, created_ms, started_ms, finished_ms, step, percent, "
            + "options, model_name, model_bytes, cache_key, result_dir, reused_from, error, summary, attempts, "
            + "cancel_requested, expired_ms";

    private final Connection c;

    private JobStore(Connection c) {
        this.c = c;
    }

    static JobStore open(Path file) {
        try {
            Connection c = DriverManager.getConnection("jdbc:sqlite:" + file.toAbsolutePath());
            try (Statement s = c.createStatement()) {
                s.execute("PRAGMA journal_mode=WAL");
                s.execute("PRAGMA synchronous=FULL");
                s.execute("PRAGMA busy_timeout=5000");
            }
            Migrations.apply(c);
            return new JobStore(c);
        } catch (SQLException e) {
            throw new IllegalStateException("cannot open the job database " + file + ": " + e.getMessage(), e);
        }
    }

    synchronized void insert(Job j) {
        update("INSERT INTO jobs(" + COLUMNS + ") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", j.id(), j.tenant(),
                j.state().wire(), j.createdMs(), j.startedMs(), j.finishedMs(), j.step(), j.percent(), j.options(),
                j.modelName(), j.modelBytes(), j.cacheKey(), j.resultDir(), j.reusedFrom(), j.error(), j.summary(),
                j.attempts(), j.cancelRequested() ? 1 : 0, j.expiredMs());
    }

    synchronized Optional<Job> get(String id) {
        List<Job> l = query("SELECT " + COLUMNS + " FROM jobs WHERE id = ?", id);
        return l.isEmpty() ? Optional.empty() : Optional.of(l.get(0));
    }

    /** A tenant's jobs, newest first, optionally of one state. */
    synchronized List<Job> list(String tenant, JobState state, int limit, int offset) {
        return state == null
                ? query("SELECT " + COLUMNS + " FROM jobs WHERE tenant = ? ORDER BY created_ms DESC, id LIMIT ? OFFSET ?",
                tenant, limit, offset)
                : query("SELECT " + COLUMNS + " FROM jobs WHERE tenant = ? AND state = ? ORDER BY created_ms DESC, id "
                + "LIMIT ? OFFSET ?", tenant, state.wire(), limit, offset);
    }

    synchronized long count(String tenant, JobState state) {
        return state == null ? scalar("SELECT COUNT(*) FROM jobs WHERE tenant = ?", tenant)
                : scalar("SELECT COUNT(*) FROM jobs WHERE tenant = ? AND state = ?", tenant, state.wire());
    }

    /** Jobs in {@code state}, all tenants. */
    synchronized long countState(JobState state) {
        return scalar("SELECT COUNT(*) FROM jobs WHERE state = ?", state.wire());
    }

    synchronized Map<JobState, Long> countByState() {
        Map<JobState, Long> m = new EnumMap<>(JobState.class);
        for (JobState s : JobState.values()) {
            m.put(s, scalar("SELECT COUNT(*) FROM jobs WHERE state = ?", s.wire()));
        }
        return m;
    }

    /** Queued jobs with work of their own (not attached to an identical one), oldest first: the workers' order. */
    synchronized List<String> queuedIds() {
        List<String> ids = new ArrayList<>();
        for (Job j : query("SELECT " + COLUMNS + " FROM jobs WHERE state = 'queued' AND reused_from IS NULL "
                + "ORDER BY created_ms, id")) {
            ids.add(j.id());
        }
        return ids;
    }

    /** queued → running; false when the job is no longer queued (cancelled meanwhile). */
    synchronized boolean markRunning(String id, long now) {
        return update("UPDATE jobs SET state = 'running', started_ms = ?, attempts = attempts + 1, step = 'starting', "
                + "percent = 0 WHERE id = ? AND state = 'queued'", now, id) == 1;
    }

    synchronized void progress(String id, String step, int percent) {
        update("UPDATE jobs SET step = ?, percent = ? WHERE id = ? AND state = 'running'", step, percent, id);
    }

    /** Ends a job (from queued or running); false when it had already ended. */
    synchronized boolean finish(String id, JobState state, String resultDir, String summary, String error, long now) {
        return update("UPDATE jobs SET state = ?, result_dir = ?, summary = ?, error = ?, finished_ms = ?, "
                + "percent = CASE WHEN ? = 'done' THEN 100 ELSE percent END, "
                + "step = CASE WHEN ? = 'done' THEN 'done' ELSE step END "
                + "WHERE id = ? AND state IN ('queued', 'running')", state.wire(), resultDir, summary, error, now,
                state.wire(), state.wire(), id) == 1;
    }

    /** running → queued: the server stopped it mid-way, to be rerun from the beginning at the next start. */
    synchronized void requeue(String id) {
        update("UPDATE jobs SET state = 'queued', step = NULL, percent = 0, started_ms = NULL, "
                + "attempts = attempts - 1 WHERE id = ? AND state = 'running'", id);
    }

    /** queued → cancelled; false when it is no longer queued (a worker took it). */
    synchronized boolean cancelQueued(String id, long now) {
        return update("UPDATE jobs SET state = 'cancelled', cancel_requested = 1, finished_ms = ?, "
                + "error = 'cancelled while queued' WHERE id = ? AND state = 'queued'", now, id) == 1;
    }

    synchronized void requestCancel(String id) {
        update("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", id);
    }

    /**
     * A finished job with the same cache key, whose result can be reused: of this tenant, or of any tenant when
     * {@code tenant} is null.
     */
    synchronized Optional<Job> findDone(String tenant, String cacheKey) {
        List<Job> l = query("SELECT " + COLUMNS + " FROM jobs WHERE (? IS NULL OR tenant = ?) AND cache_key = ? "
                + "AND state = 'done' AND reused_from IS NULL AND expired_ms IS NULL ORDER BY finished_ms DESC LIMIT 1",
                tenant, tenant, cacheKey);
        return l.isEmpty() ? Optional.empty() : Optional.of(l.get(0));
    }

    /**
     * Inserts the queued job {@code j}, attached to an identical job already queued or running (same cache key; of
     * the same tenant, or of any when {@code tenant} is null) when there is one: it then runs no work of its own and
     * ends with that job (see {@link #followers}). In one step with the lookup, so that the job it attaches to cannot
     * end in between. Returns the job as stored.
     */
    synchronized Job insertOrAttach(Job j, String tenant) {
        List<Job> leaders = query("SELECT " + COLUMNS + " FROM jobs WHERE (? IS NULL OR tenant = ?) AND cache_key = ? "
                + "AND state IN ('queued', 'running') AND reused_from IS NULL ORDER BY created_ms, id LIMIT 1",
                tenant, tenant, j.cacheKey());
        Job stored = leaders.isEmpty() ? j : new Job(j.id(), j.tenant(), j.state(), j.createdMs(), j.startedMs(),
                j.finishedMs(), j.step(), j.percent(), j.options(), j.modelName(), j.modelBytes(), j.cacheKey(),
                j.resultDir(), leaders.get(0).id(), j.error(), j.summary(), j.attempts(), j.cancelRequested(),
                j.expiredMs());
        insert(stored);
        return stored;
    }

    /** The queued jobs attached to {@code leaderId}, oldest first. */
    synchronized List<Job> followers(String leaderId) {
        return query("SELECT " + COLUMNS + " FROM jobs WHERE reused_from = ? AND state = 'queued' ORDER BY "
                + "created_ms, id", leaderId);
    }

    /** Queued jobs attached to a job that has ended (the server stopped before it settled them). */
    synchronized List<String> leadersOfWaiting() {
        List<String> ids = new ArrayList<>();
        for (Job j : query("SELECT " + COLUMNS + " FROM jobs WHERE state = 'queued' AND reused_from IS NOT NULL "
                + "AND reused_from NOT IN (SELECT id FROM jobs WHERE state IN ('queued', 'running'))")) {
            if (!ids.contains(j.reusedFrom())) {
                ids.add(j.reusedFrom());
            }
        }
        return ids;
    }

    /** A waiting follower takes its leader's result: queued → done, served from {@code resultDir}. */
    synchronized boolean finishFromLeader(String id, String resultDir, String summary, long now) {
        return update("UPDATE jobs SET state = 'done', result_dir = ?, summary = ?, started_ms = ?, finished_ms = ?, "
                + "step = 'done', percent = 100 WHERE id = ? AND state = 'queued'", resultDir, summary, now, now, id)
                == 1;
    }

    /** Re-points a waiting job: to {@code leaderId}, or (null) to no one, so that it runs itself. */
    synchronized void attach(String id, String leaderId) {
        update("UPDATE jobs SET reused_from = ? WHERE id = ? AND state = 'queued'", leaderId, id);
    }

    /**
     * At startup: jobs left running by a stopped or crashed server go back to the queue (their steps are idempotent:
     * they rerun from the beginning into a fresh directory), unless they already took {@code maxAttempts} tries, in
     * which case they fail with that reason. Returns the ids re-queued.
     */
    synchronized List<String> recover(int maxAttempts, long now) {
        List<String> requeued = new ArrayList<>();
        for (Job j : query("SELECT " + COLUMNS + " FROM jobs WHERE state = 'running'")) {
            if (j.cancelRequested()) {
                finish(j.id(), JobState.CANCELLED, null, null, "cancelled (the server stopped while it ran)", now);
            } else if (j.attempts() >= maxAttempts) {
                finish(j.id(), JobState.FAILED, null, null, "the server stopped during each of " + j.attempts()
                        + " attempts; not retried again", now);
            } else {
                update("UPDATE jobs SET state = 'queued', step = NULL, percent = 0, started_ms = NULL WHERE id = ?",
                        j.id());
                requeued.add(j.id());
            }
        }
        return requeued;
    }

    /** Done jobs that own their outputs (not reusing another's) and still have them, oldest first. */
    synchronized List<Job> withOutputs() {
        return query("SELECT " + COLUMNS + " FROM jobs WHERE state = 'done' AND reused_from IS NULL "
                + "AND expired_ms IS NULL AND result_dir IS NOT NULL ORDER BY finished_ms, id");
    }

    /** Marks every job served from {@code resultDir} (its owner and those reusing it) as expired. */
    synchronized void expire(String resultDir, long now) {
        update("UPDATE jobs SET expired_ms = ? WHERE result_dir = ? AND expired_ms IS NULL", now, resultDir);
    }

    /** SQLite's own consistency check: "ok" when the file is sound. */
    synchronized String integrityCheck() {
        try (Statement s = c.createStatement(); ResultSet r = s.executeQuery("PRAGMA integrity_check")) {
            return r.next() ? r.getString(1) : "no answer";
        } catch (SQLException e) {
            throw new IllegalStateException("job database: " + e.getMessage(), e);
        }
    }

    @Override
    public synchronized void close() {
        try {
            c.close();
        } catch (SQLException e) {
            throw new IllegalStateException("cannot close the job database: " + e.getMessage(), e);
        }
    }

    private int update(String sql, Object... args) {
        try (PreparedStatement p = prepare(sql, args)) {
            return p.executeUpdate();
        } catch (SQLException e) {
            throw new IllegalStateException("job database: " + e.getMessage(), e);
        }
    }

    private long scalar(String sql, Object... args) {
        try (PreparedStatement p = prepare(sql, args); ResultSet r = p.executeQuery()) {
            return r.next() ? r.getLong(1) : 0;
        } catch (SQLException e) {
            throw new IllegalStateException("job database: " + e.getMessage(), e);
        }
    }

    private List<Job> query(String sql, Object... args) {
        try (PreparedStatement p = prepare(sql, args); ResultSet r = p.executeQuery()) {
            List<Job> out = new ArrayList<>();
            while (r.next()) {
                out.add(new Job(r.getString(1), r.getString(2), JobState.parse(r.getString(3)), r.getLong(4),
                        nullableLong(r, 5), nullableLong(r, 6), r.getString(7),
                        r.getInt(8), r.getString(9), r.getString(10), r.getLong(11), r.getString(12), r.getString(13),
                        r.getString(14), r.getString(15), r.getString(16), r.getInt(17), r.getInt(18) != 0,
                        nullableLong(r, 19)));
            }
            return out;
        } catch (SQLException e) {
            throw new IllegalStateException("job database: " + e.getMessage(), e);
        }
    }

    private static Long nullableLong(ResultSet r, int column) throws SQLException {
        long v = r.getLong(column);
        return r.wasNull() ? null : v;
    }

    private PreparedStatement prepare(String sql, Object... args) throws SQLException {
        PreparedStatement p = c.prepareStatement(sql);
        for (int i = 0; i < args.length; i++) {
            p.setObject(i + 1, args[i]);
        }
        return p;
    }
}
