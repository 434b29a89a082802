package dev.kiln.tensorrt;

import dev.kiln.KilnException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Engine files on disk: written under a temporary name in the target's directory and renamed over the target, so
 * that a failed or interrupted build leaves no partial engine; read back only after the manifest beside it says the
 * bytes are the ones that were built (size and SHA-256), so that a truncated or corrupt engine is named as such.
 */
public final class EngineFiles {
    private EngineFiles() {
    }

    /** The engine and its manifest, checked against each other. */
    public record Verified(byte[] engine, EngineManifest manifest) {
    }

    /** Writes {@code engine} atomically; the buffer is read from its position to its limit. */
    public static void write(Path target, ByteBuffer engine) {
        Path abs = target.toAbsolutePath();
        Path tmp = null;
        try {
            Files.createDirectories(abs.getParent());
            tmp = Files.createTempFile(abs.getParent(), "." + abs.getFileName(), ".tmp");
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                ByteBuffer b = engine.duplicate();
                while (b.hasRemaining()) {
                    ch.write(b);
                }
                ch.force(true);
            }
            Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            deleteQuietly(tmp);
            throw KilnException.io("cannot write engine " + target + ": " + e.getMessage(), e);
        }
    }

    /**
     * Reads {@code engine} and its manifest and checks that they belong together: the manifest says "built", and the
     * file has the size and SHA-256 it records. Errors name the file and what is wrong.
     */
    public static Verified read(Path engine) {
        EngineManifest m = EngineManifest.read(EngineManifest.pathFor(engine));
        if (!m.built()) {
            throw KilnException.invalidModel("no engine was built for " + engine + ": its manifest describes a "
                    + "planned build (run the trtexec script written beside it on a machine with TensorRT and a GPU)");
        }
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(engine);
        } catch (NoSuchFileException e) {
            throw KilnException.invalidModel("engine " + engine + " does not exist (its manifest does)", e);
        } catch (IOException e) {
            throw KilnException.io("cannot read engine " + engine + ": " + e.getMessage(), e);
        }
        if (bytes.length != m.engine().bytes()) {
            throw KilnException.invalidModel("engine " + engine + " is corrupt: " + bytes.length + " bytes, its "
                    + "manifest records " + m.engine().bytes() + (bytes.length < m.engine().bytes() ? " (truncated?)"
                    : ""));
        }
        String sha = Sha256.of(bytes);
        if (!sha.equals(m.engine().sha256())) {
            throw KilnException.invalidModel("engine " + engine + " is corrupt: its SHA-256 is " + sha
                    + ", its manifest records " + m.engine().sha256());
        }
        return new Verified(bytes, m);
    }

    static void deleteQuietly(Path p) {
        if (p != null) {
            try {
                Files.deleteIfExists(p);
            } catch (IOException ignored) {
                // the original error matters more
            }
        }
    }
}
