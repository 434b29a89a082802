package dev.kiln.spark;

import org.apache.spark.sql.SparkSession;

/** The SparkSession Kiln's jobs run on, made the same way by the CLI and the tests. */
public final class KilnSpark {
    private KilnSpark() {
    }

    /**
     * A session on {@code master} (local[N], spark://host:7077, k8s://..., yarn); under spark-submit, the master and
     * settings spark-submit gave win. No UI for local runs: nothing to look at, and a port less to bind.
     */
    public static SparkSession session(String master, String appName) {
        SparkSession.Builder b = SparkSession.builder().appName(appName);
        if (master != null) {
            b = b.master(master);
        }
        if (master != null && master.startsWith("local")) {
            b = b.config("spark.ui.enabled", "false").config("spark.sql.shuffle.partitions", "4");
        }
        return b.getOrCreate();
    }
}
