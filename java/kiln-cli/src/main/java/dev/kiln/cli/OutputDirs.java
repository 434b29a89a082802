package dev.kiln.cli;

import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/** Checks on an output directory before any work: it must not hold someone else's files, and must be writable. */
final class OutputDirs {
    private OutputDirs() {
    }

    /**
     * Refuses {@code dir} when it is a file, or a directory with files that no earlier Kiln run wrote (no
     * report.json) unless {@code force}; an existing directory that cannot be written is an I/O error. An earlier
     * Kiln output is rewritten in place, so running the same command twice works.
     */
    static void checkWritable(Path dir, boolean force) {
        if (Files.exists(dir) && !Files.isDirectory(dir)) {
            throw new KilnArgumentException("-o " + dir + " is a file, not a directory");
        }
        if (Files.isDirectory(dir) && !force && !Files.exists(dir.resolve("report.json"))) {
            try (Stream<Path> s = Files.list(dir)) {
                if (s.findAny().isPresent()) {
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
}
