package dev.kiln.calib;

import dev.kiln.ErrorCode;
import dev.kiln.KilnException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/** Reading and atomically writing the calibration files, with errors that name the file. */
final class CalibFiles {
    private CalibFiles() {
    }

    /**
     * Writes {@code bytes} to a temporary file in the target's directory and renames it over the target, so a
     * reader never sees a half-written file and a crash leaves the old one.
     */
    static void writeAtomically(Path target, byte[] bytes) {
        Path abs = target.toAbsolutePath();
        Path tmp = null;
        try {
            Files.createDirectories(abs.getParent());
            tmp = Files.createTempFile(abs.getParent(), "." + abs.getFileName(), ".tmp");
            Files.write(tmp, bytes);
            Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            if (tmp != null) {
                try {
                    Files.deleteIfExists(tmp);
                } catch (IOException ignored) {
                    // the original error matters more
                }
            }
            throw KilnException.io("cannot write " + target + ": " + e, e);
        }
    }

    static byte[] read(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw KilnException.io("cannot read " + file + ": " + e, e);
        }
    }

    /** A file that was read but is not what it claims to be (corrupt, truncated, wrong format). */
    static KilnException corrupt(Object file, String what) {
        return new KilnException(ErrorCode.IO, file + ": " + what);
    }

    static KilnException corrupt(Object file, String what, Throwable cause) {
        return new KilnException(ErrorCode.IO, file + ": " + what, cause);
    }
}
