package dev.kiln.cli;

import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;
import dev.kiln.KilnTemporaries;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/** Checks on an output directory before any work: it must not hold someone else's files, and must be writable. */
final class OutputDirs {
    private OutputDirs() {
    }

    /**
     * Refuses {@code dir} when it is a file, or a directory with files that no earlier Kiln run wrote (no
     * report.json, and a name that Kiln does not write) unless {@code force}; an existing directory that cannot be
     * written is an I/O error. An earlier Kiln output is rewritten in place, so running the same command twice works,
     * also after a run that was killed before its report (its stale temporaries are removed here).
     */
    static void checkWritable(Path dir, boolean force) {
        if (Files.exists(dir) && !Files.isDirectory(dir)) {
            throw new KilnArgumentException("-o " + dir + " is a file, not a directory");
        }
        KilnTemporaries.removeStale(dir);
        if (Files.isDirectory(dir) && !force && !Files.exists(dir.resolve("report.json"))) {
            try (Stream<Path> s = Files.list(dir)) {
                if (s.anyMatch(p -> !isKilnOutput(p.getFileName().toString()))) {
                    throw new KilnArgumentException("output directory " + dir + " exists and holds files that are "
                            + "not an earlier Kiln run's: choose another -o, or add --force to write into it");
                }
            } catch (IOException e) {
                throw KilnException.io("cannot read output directory " + dir + ": " + e.getMessage(), e);
            }
        }
        if (Files.isDirectory(dir) && !Files.isWritable(dir)) {
            throw KilnException.io("output directory " + dir + " is not writable", null);
        }
    }

    /** A name that the optimize, prune or factorize jobs write, or one of Kiln's temporaries. */
    static boolean isKilnOutput(String name) {
        return KILN_NAMES.matcher(name).matches() || KilnTemporaries.isTemporaryName(name);
    }

    private static final Pattern KILN_NAMES = Pattern.compile("saved_model(_[a-z0-9_]+)?|frozen_graph\\.pb"
            + "|model(_[a-z0-9_]+)?\\.onnx|calibration|report\\.(json|html)|weights\\.kpack|[a-z]+_report\\.json");
}
