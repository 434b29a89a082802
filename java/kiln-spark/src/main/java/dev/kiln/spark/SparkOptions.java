package dev.kiln.spark;

import org.apache.logging.log4j.Level;
import org.apache.logging.log4j.core.config.Configurator;
import org.apache.spark.sql.SparkSession;

import picocli.CommandLine.Option;

/** Where the job runs: the master (none under spark-submit, which sets it) and the number of partitions. */
final class SparkOptions {
    @Option(names = "--master", paramLabel = "URL", description = "local[N], local[*], spark://HOST:7077, "
            + "k8s://https://HOST:PORT, yarn; default: spark-submit's --master, else local[*]")
    String master;

    @Option(names = "--partitions", paramLabel = "N", description = "Spark partitions (default: the default "
            + "parallelism, e.g. N of local[N])")
    int partitions;

    /** The session: spark-submit's when it set a master, else one on --master (default local[*]). */
    SparkSession session(String app) {
        boolean submitted = System.getProperty("spark.master") != null;
        String m = master != null ? master : submitted ? null : "local[*]";
        if (m != null && m.startsWith("local")) {
            // in-process: Spark's INFO lines would drown Kiln's progress (a cluster keeps its own log configuration)
            Configurator.setRootLevel(Level.WARN);
            Configurator.setLevel("org.apache.spark.util.Utils", Level.ERROR);
            Configurator.setLevel("org.apache.hadoop.util.NativeCodeLoader", Level.ERROR);
        }
        return KilnSpark.session(m, app);
    }

    int partitions(SparkSession spark) {
        return partitions > 0 ? partitions : spark.sparkContext().defaultParallelism();
    }
}
