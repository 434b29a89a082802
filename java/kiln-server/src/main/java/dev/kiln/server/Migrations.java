package dev.kiln.server;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;

/**
 * The job database's schema as numbered migrations, applied in order, each in its own transaction, and recorded in
 * {@code schema_migrations}. A new column or index is a new entry at the end; an applied entry never changes. A
 * database newer than this server (a migration it does not know) is refused rather than guessed at.
 */
final class Migrations {
    private record Migration(int version, String description, List<String> statements) { }

    private static final List<Migration> ALL = List.of(
            new Migration(1, "jobs", List.of("""
                    CREATE TABLE jobs (
                      id TEXT PRIMARY KEY,
                      tenant TEXT NOT NULL,
                      state TEXT NOT NULL,
                      created_ms INTEGER NOT NULL,
                      started_ms INTEGER,
                      finished_ms INTEGER,
                      step TEXT,
                      percent INTEGER NOT NULL DEFAULT 0,
                      options TEXT NOT NULL,
                      model_name TEXT,
                      model_bytes INTEGER NOT NULL,
                      cache_key TEXT NOT NULL,
                      result_dir TEXT,
                      reused_from TEXT,
                      error TEXT,
                      summary TEXT,
                      attempts INTEGER NOT NULL DEFAULT 0,
                      cancel_requested INTEGER NOT NULL DEFAULT 0
                    )""",
                    "CREATE INDEX jobs_state ON jobs(state, created_ms)",
                    "CREATE INDEX jobs_tenant ON jobs(tenant, created_ms)",
                    "CREATE INDEX jobs_cache ON jobs(tenant, cache_key, state)")),
            new Migration(2, "retention: when a job's outputs were removed", List.of(
                    "ALTER TABLE jobs ADD COLUMN expired_ms INTEGER")),
            new Migration(3, "identical jobs: look-ups by cache key across tenants and of the jobs waiting on one",
                    List.of("CREATE INDEX jobs_cache_any ON jobs(cache_key, state)",
                            "CREATE INDEX jobs_reused ON jobs(reused_from, state)")));

    private Migrations() {
    }

    /** The newest schema version this server knows. */
    static int latest() {
        return ALL.get(ALL.size() - 1).version();
    }

    /** Applies every migration not yet applied; returns how many were. */
    static int apply(Connection c) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, "
                    + "description TEXT NOT NULL, applied_ms INTEGER NOT NULL)");
        }
        int current = 0;
        try (Statement s = c.createStatement(); ResultSet r = s.executeQuery(
                "SELECT COALESCE(MAX(version), 0) FROM schema_migrations")) {
            current = r.next() ? r.getInt(1) : 0;
        }
        if (current > latest()) {
            throw new IllegalStateException("the job database is at schema version " + current + ", newer than this "
                    + "server's " + latest() + ": run a newer kiln");
        }
        int applied = 0;
        boolean auto = c.getAutoCommit();
        c.setAutoCommit(false);
        try {
            for (Migration m : ALL) {
                if (m.version() <= current) {
                    continue;
                }
                try (Statement s = c.createStatement()) {
                    for (String sql : m.statements()) {
                        s.execute(sql);
                    }
                }
                try (PreparedStatement p = c.prepareStatement(
                        "INSERT INTO schema_migrations(version, description, applied_ms) VALUES (?, ?, ?)")) {
                    p.setInt(1, m.version());
                    p.setString(2, m.description());
                    p.setLong(3, System.currentTimeMillis());
                    p.executeUpdate();
                }
                c.commit();
                applied++;
            }
        } catch (SQLException | RuntimeException e) {
            c.rollback();
            throw e;
        } finally {
            c.setAutoCommit(auto);
        }
        return applied;
    }
}
