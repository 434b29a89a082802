package dev.kiln.spark;

import org.apache.spark.sql.SparkSession;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** A local SparkSession for the tests (one at a time per JVM, as Spark allows), and ../shared. */
final class SparkTestSupport {
    private SparkTestSupport() {
    }

    /** The session for {@code master}: the running one if it has that master, else a new one in its place. */
    static synchronized SparkSession local(String master) {
        SparkSession active = SparkSession.getActiveSession().isDefined() ? SparkSession.getActiveSession().get()
                : SparkSession.getDefaultSession().isDefined() ? SparkSession.getDefaultSession().get() : null;
        if (active != null && active.sparkContext().master().equals(master) && !active.sparkContext().isStopped()) {
            return active;
        }
        if (active != null) {
            active.stop();
        }
        return KilnSpark.session(master, "kiln-spark-test");
    }

    static Path shared() {
        return Path.of(System.getProperty("kiln.repo.root", "../.."), "..", "shared").normalize();
    }

    static Path model(String name) {
        Path p = shared().resolve("models").resolve(name);
        assumeTrue(Files.isDirectory(p), "../shared/models/" + name + " is absent: test skipped");
        return p;
    }

    static Path mnist(String file) {
        Path p = shared().resolve("data/mnist").resolve(file);
        assumeTrue(Files.exists(p), "../shared/data/mnist/" + file + " is absent: test skipped");
        return p;
    }
}
