package dev.kiln;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/**
 * Writing a whole file so that nobody ever sees half of it: the bytes go to a temporary file in the target's
 * directory, which is then renamed over the target. An interrupted run leaves the old file (or none), never a
 * truncated one. For tables, caches and reports; the model exporters stream large weights the same way.
 */
public final class AtomicFiles {
    private AtomicFiles() {
    }

    /** Writes {@code bytes} to {@code target} atomically; an I/O error names the file. */
    public static void write(Path target, byte[] bytes) {
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
            throw KilnException.io("cannot write " + target + ": " + e.getMessage(), e);
        }
    }

    /** Writes UTF-8 {@code text} to {@code target} atomically. */
    public static void write(Path target, String text) {
        write(target, text.getBytes(StandardCharsets.UTF_8));
    }
}
