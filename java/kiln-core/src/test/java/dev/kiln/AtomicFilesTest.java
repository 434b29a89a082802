package dev.kiln;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

class AtomicFilesTest {
    @TempDir
    Path dir;

    private static boolean posix(Path p) {
        return p.getFileSystem().supportedFileAttributeViews().contains("posix");
    }

    @Test
    void aFileGetsThePermissionsOfAPlainWriteNotThoseOfAPrivateTemporary() throws IOException {
        assumeTrue(posix(dir), "no POSIX permissions on this file system");
        Path plain = Files.write(dir.resolve("plain.bin"), new byte[] {1});
        Path atomic = dir.resolve("atomic.bin");
        AtomicFiles.write(atomic, new byte[] {1, 2, 3});
        assertEquals(Files.getPosixFilePermissions(plain), Files.getPosixFilePermissions(atomic));
        assertArrayEquals(new byte[] {1, 2, 3}, Files.readAllBytes(atomic));
    }

    @Test
    void aDirectoryGetsThePermissionsOfAPlainMkdirAndReplacesTheOldOne() throws IOException {
        assumeTrue(posix(dir), "no POSIX permissions on this file system");
        Path plain = Files.createDirectory(dir.resolve("plain"));
        Path target = dir.resolve("model");
        AtomicFiles.writeDirectory(target, d -> Files.writeString(d.resolve("a"), "one"));
        AtomicFiles.writeDirectory(target, d -> Files.writeString(d.resolve("b"), "two"));
        assertEquals(Files.getPosixFilePermissions(plain), Files.getPosixFilePermissions(target));
        assertFalse(Files.exists(target.resolve("a")), "the old directory's files are gone");
        assertEquals("two", Files.readString(target.resolve("b")));
        assertEquals(List.of("model", "plain"), names(dir), "no temporary or backup is left");
    }

    @Test
    void aFailedWriteLeavesTheOldFileAndNoTemporary() throws IOException {
        Path target = dir.resolve("t.json");
        AtomicFiles.write(target, "old");
        KilnException e = org.junit.jupiter.api.Assertions.assertThrows(KilnException.class,
                () -> AtomicFiles.write(target, out -> {
                    out.write(new byte[10]);
                    throw new IOException("disk full");
                }));
        assertTrue(e.getMessage().contains("t.json") && e.getMessage().contains("disk full"), e.getMessage());
        assertEquals("old", Files.readString(target));
        assertEquals(List.of("t.json"), names(dir));
    }

    @Test
    void theTemporaryOfADeadProcessIsRemovedByTheNextWriteAndALiveOnesIsKept() throws Exception {
        Process p = new ProcessBuilder("true").start();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        Path live = KilnTemporaries.nameFor(dir.resolve("saved_model"));
        String dead = live.getFileName().toString().replaceFirst("\\.tmp-\\d+-", ".tmp-" + p.pid() + "-");
        Path deadDir = Files.createDirectories(dir.resolve(dead).resolve("variables"));
        Files.writeString(deadDir.resolveSibling("saved_model.pb"), "half");
        Files.createDirectory(live);
        Path foreignHost = Files.createFile(dir.resolve(".model.onnx.tmp-1-00000000-abc"));
        Path userFile = Files.createFile(dir.resolve(".model.onnx.tmp"));   // not Kiln's pattern: never touched
        AtomicFiles.write(dir.resolve("report.json"), "{}");
        assertFalse(Files.exists(dir.resolve(dead)), "the dead process's temporary is removed");
        assertTrue(Files.exists(live), "this (live) process's temporary is kept");
        assertTrue(Files.exists(foreignHost), "another host's recent temporary is kept");
        assertTrue(Files.exists(userFile));
        Files.setLastModifiedTime(foreignHost, FileTime.from(Instant.now().minus(KilnTemporaries.FOREIGN_STALE_AFTER)
                .minusSeconds(60)));
        assertTrue(KilnTemporaries.removeStale(dir).contains(foreignHost), "a day-old one from another host goes");
    }

    @Test
    void theOlderNamingIsRemovedOnlyWhenADayOldAndOfKilnsLayout() throws IOException {
        Path old = Files.createDirectories(dir.resolve(".saved_model.tmp1234567890123").resolve("model"));
        Path oldWithOther = Files.createDirectories(dir.resolve(".other.tmp1234567890123").resolve("mine"));
        Path oldFile = Files.createFile(dir.resolve(".model.onnx8237462873462.tmp"));
        assertTrue(KilnTemporaries.removeStale(dir).isEmpty(), "nothing is a day old yet");
        FileTime dayAgo = FileTime.from(Instant.now().minus(KilnTemporaries.FOREIGN_STALE_AFTER).minusSeconds(60));
        for (Path p : List.of(old.getParent(), oldWithOther.getParent(), oldFile)) {
            Files.setLastModifiedTime(p, dayAgo);
        }
        List<Path> removed = KilnTemporaries.removeStale(dir);
        assertEquals(2, removed.size(), removed.toString());
        assertTrue(Files.exists(oldWithOther), "a directory of that name holding something else is not Kiln's");
    }

    private static List<String> names(Path dir) throws IOException {
        try (var s = Files.list(dir)) {
            return s.map(p -> p.getFileName().toString()).sorted().toList();
        }
    }
}
