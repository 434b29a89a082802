package dev.kiln;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/**
 * Writing a whole file or directory so that nobody ever sees half of it: the content goes to a temporary beside the
 * target ({@link KilnTemporaries}), which is then renamed over the target. An interrupted run leaves the old output
 * (or none), never a truncated one, and the next write into the same directory removes the temporaries of runs that
 * were killed. The temporary is created the way a plain write creates a file (mode 0666 or 0777 less the umask), so
 * the output gets the permissions a plain write would give, not those of a private temporary file.
 */
public final class AtomicFiles {
    /** What goes into a file. */
    @FunctionalInterface
    public interface Content {
        void writeTo(OutputStream out) throws IOException;
    }

    /** What goes into a directory (it exists and is empty when called). */
    @FunctionalInterface
    public interface DirectoryContent {
        void writeInto(Path dir) throws IOException;
    }

    private AtomicFiles() {
    }

    /** Writes {@code bytes} to {@code target} atomically; an I/O error names the file. */
    public static void write(Path target, byte[] bytes) {
        write(target, out -> out.write(bytes));
    }

    /** Writes UTF-8 {@code text} to {@code target} atomically. */
    public static void write(Path target, String text) {
        write(target, text.getBytes(StandardCharsets.UTF_8));
    }

    /** Streams {@code content} to {@code target} atomically (through a 1 MB buffer); an I/O error names the file. */
    public static void write(Path target, Content content) {
        writeChannel(target, channel -> {
            // writeChannel closes the channel; flushing the buffer into it is enough
            OutputStream out = new BufferedOutputStream(Channels.newOutputStream(channel), 1 << 20);
            content.writeTo(out);
            out.flush();
        });
    }

    /** What {@link #writeChannel} fills: the temporary file's channel, written from position 0 on. */
    public interface ChannelContent {
        void writeTo(FileChannel channel) throws IOException;
    }

    /**
     * Writes {@code target} atomically through a file channel, for content whose large parts are buffers the channel
     * can take as they are (a memory-mapped tensor goes from page cache to page cache); an I/O error names the file.
     */
    public static void writeChannel(Path target, ChannelContent content) {
        Path abs = target.toAbsolutePath();
        Path tmp = null;
        try {
            Files.createDirectories(abs.getParent());
            KilnTemporaries.removeStale(abs.getParent());
            tmp = KilnTemporaries.nameFor(abs);
            try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
                content.writeTo(ch);
            }
            move(tmp, abs);
            tmp = null;
        } catch (IOException e) {
            throw KilnException.io("cannot write " + target + ": " + e.getMessage(), e);
        } finally {
            deleteQuietly(tmp);
        }
    }

    /**
     * Writes a directory {@code target} atomically, replacing a previous one: {@code content} fills a temporary
     * directory that is renamed into place. Replacing takes two renames (the old directory aside, the new one in);
     * a kill between them leaves no directory at {@code target}, never a mixed one. When another writer puts its
     * directory at {@code target} between the two renames, that one is moved aside in turn: the last writer wins
     * and each reader sees one writer's complete directory.
     */
    public static void writeDirectory(Path target, DirectoryContent content) {
        Path abs = target.toAbsolutePath();
        Path tmp = null;
        try {
            Files.createDirectories(abs.getParent());
            KilnTemporaries.removeStale(abs.getParent());
            tmp = KilnTemporaries.nameFor(abs);
            Files.createDirectory(tmp);
            content.writeInto(tmp);
            for (int attempt = 1; ; attempt++) {
                Path old = null;
                if (Files.exists(abs, LinkOption.NOFOLLOW_LINKS)) {
                    old = KilnTemporaries.nameFor(abs);
                    try {
                        Files.move(abs, old, StandardCopyOption.ATOMIC_MOVE);
                    } catch (NoSuchFileException gone) {
                        old = null;   // another writer moved it aside first
                    }
                }
                try {
                    Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE);
                    tmp = null;
                    return;
                } catch (IOException e) {
                    // another writer put its directory at target between our two renames: rename(2) then fails
                    // with ENOTEMPTY, which Java reports as a plain FileSystemException; move it aside in turn
                    boolean raced = e instanceof FileAlreadyExistsException || e instanceof DirectoryNotEmptyException
                            || e instanceof java.nio.file.FileSystemException
                            && Files.exists(abs, LinkOption.NOFOLLOW_LINKS);
                    if (raced && attempt < 10) {
                        continue;
                    }
                    if (old != null && !Files.exists(abs, LinkOption.NOFOLLOW_LINKS)) {
                        try {
                            Files.move(old, abs, StandardCopyOption.ATOMIC_MOVE);   // the previous output back
                            old = null;
                        } catch (IOException ignored) {
                            // it stays aside and is removed as stale by a later run
                        }
                    }
                    throw e;
                } finally {
                    deleteQuietly(old);
                }
            }
        } catch (IOException e) {
            throw KilnException.io("cannot write " + target + ": " + e.getMessage(), e);
        } finally {
            deleteQuietly(tmp);
        }
    }

    private static void move(Path tmp, Path target) throws IOException {
        try {
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
        }
    }

    private static void deleteQuietly(Path p) {
        if (p == null) {
            return;
        }
        try (var all = Files.walk(p)) {
            all.sorted(java.util.Comparator.reverseOrder()).forEach(q -> q.toFile().delete());
        } catch (IOException | RuntimeException ignored) {
            // the original error matters more; a leftover is removed as stale by a later run
        }
    }
}
