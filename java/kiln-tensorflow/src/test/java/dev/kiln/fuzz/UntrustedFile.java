package dev.kiln.fuzz;

import dev.kiln.KilnException;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What a reader of an untrusted file may do with any bytes: return, or throw a {@link KilnException} whose message
 * names the file. Anything else (another exception, an {@link OutOfMemoryError} from a size field, a stack overflow)
 * propagates and is a finding of the fuzzer. Each fuzz test puts the bytes in a file of its own in one directory.
 */
public final class UntrustedFile {
    private static final Path DIR;

    static {
        try {
            DIR = Files.createTempDirectory("kiln-fuzz");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        DIR.toFile().deleteOnExit();
    }

    /** A file action that may throw checked exceptions. */
    @FunctionalInterface
    public interface Read {
        void run(Path file) throws Exception;
    }

    private UntrustedFile() {
    }

    /** Writes {@code bytes} to a file named {@code name} and checks what {@code read} does with it. */
    public static void check(String name, byte[] bytes, Read read) {
        Path file = DIR.resolve(name);
        try {
            Files.write(file, bytes);
            file.toFile().deleteOnExit();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        checkFile(file, read);
    }

    /** Checks what {@code read} does with {@code file} (already written, e.g. a directory holding it). */
    public static void checkFile(Path file, Read read) {
        try {
            read.run(file);
        } catch (KilnException e) {
            String m = e.getMessage();
            if (m == null || !m.contains(file.getFileName().toString())) {
                throw new AssertionError("a KilnException that does not name the file " + file.getFileName() + ": "
                        + m, e);
            }
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw new AssertionError("a checked exception escaped the reader: " + e, e);
        }
    }
}
