package dev.kiln.server;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.stream.Stream;

/**
 * Where things live under the server's data directory: {@code jobs.db}, and per job {@code jobs/<id>/} with the
 * unpacked {@code model/}, the calibration {@code data.npy|npz}, {@code work/} (the output while the job runs) and
 * {@code out/} (the published output: it appears by one rename when the job is done, so it is never half-written).
 */
final class DataDir {
    private final Path root;

    DataDir(Path root) {
        this.root = root.toAbsolutePath().normalize();
    }

    Path root() {
        return root;
    }

    Path database() {
        return root.resolve("jobs.db");
    }

    Path jobs() {
        return root.resolve("jobs");
    }

    Path job(String id) {
        return jobs().resolve(id);
    }

    /** Where a submission is assembled before its row exists; renamed to {@link #job} when accepted. */
    Path incoming(String id) {
        return jobs().resolve(id + ".incoming");
    }

    Path model(String id) {
        return job(id).resolve("model");
    }

    Path work(String id) {
        return job(id).resolve("work");
    }

    /** The published output of a job, relative to the data directory (as stored in the database). */
    static String outRelative(String id) {
        return "jobs/" + id + "/out";
    }

    Path resolve(String relative) {
        Path p = root.resolve(relative).normalize();
        if (!p.startsWith(root)) {
            throw new IllegalStateException("a stored path leaves the data directory: " + relative);
        }
        return p;
    }

    /** The calibration data file of a job, or null when it has none. */
    Path dataFile(String id) {
        for (String name : new String[] {"data.npy", "data.npz"}) {
            Path p = job(id).resolve(name);
            if (Files.isRegularFile(p)) {
                return p;
            }
        }
        return null;
    }

    static void deleteRecursively(Path p) {
        if (!Files.exists(p, java.nio.file.LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            for (Path q : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(q);
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot delete " + p + ": " + e.getMessage(), e);
        }
    }
}
