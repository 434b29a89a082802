package dev.kiln.calib;

import dev.kiln.ErrorCode;
import dev.kiln.KilnException;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** Reading and atomically writing the calibration files, with errors that name the file. */
final class CalibFiles {
    private CalibFiles() {
    }

    /** Writes the file atomically (see {@link dev.kiln.AtomicFiles}). */
    static void writeAtomically(Path target, byte[] bytes) {
        dev.kiln.AtomicFiles.write(target, bytes);
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
