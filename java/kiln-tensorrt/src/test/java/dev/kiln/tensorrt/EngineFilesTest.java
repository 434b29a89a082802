package dev.kiln.tensorrt;

import dev.kiln.KilnException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EngineFilesTest {
    @TempDir
    Path dir;

    private byte[] engineBytes() {
        byte[] b = new byte[10_000];
        new Random(7).nextBytes(b);
        return b;
    }

    private Path writeWithManifest(byte[] bytes) {
        Path engine = dir.resolve("model.engine");
        EngineFiles.write(engine, ByteBuffer.wrap(bytes));
        Manifests.built("10.15.1", "NVIDIA H200", "9.0", EngineOptions.defaults(), Sha256.of(bytes), bytes.length)
                .write(EngineManifest.pathFor(engine));
        return engine;
    }

    @Test
    void writesAtomicallyAndReadsBackVerified() throws Exception {
        byte[] bytes = engineBytes();
        Path engine = writeWithManifest(bytes);
        try (var s = Files.list(dir)) {
            assertEquals(2, s.count(), "the engine and its manifest, no temporary file left");
        }
        EngineFiles.Verified v = EngineFiles.read(engine);
        assertArrayEquals(bytes, v.engine());
        assertEquals(Sha256.of(bytes), v.manifest().engine().sha256());
    }

    @Test
    void aTruncatedEngineIsCorrupt() throws Exception {
        byte[] bytes = engineBytes();
        Path engine = writeWithManifest(bytes);
        Files.write(engine, java.util.Arrays.copyOf(bytes, 4000));
        KilnException e = assertThrows(KilnException.class, () -> EngineFiles.read(engine));
        assertTrue(e.getMessage().contains("corrupt") && e.getMessage().contains("truncated")
                && e.getMessage().contains("4000 bytes"), e.getMessage());
    }

    @Test
    void aChangedByteIsCorrupt() throws Exception {
        byte[] bytes = engineBytes();
        Path engine = writeWithManifest(bytes);
        bytes[5000] ^= 1;
        Files.write(engine, bytes);
        KilnException e = assertThrows(KilnException.class, () -> EngineFiles.read(engine));
        assertTrue(e.getMessage().contains("corrupt") && e.getMessage().contains("SHA-256"), e.getMessage());
    }

    @Test
    void anEngineWithoutManifestOrAManifestWithoutEngineIsNamed() throws Exception {
        Path engine = dir.resolve("lonely.engine");
        Files.write(engine, engineBytes());
        assertTrue(assertThrows(KilnException.class, () -> EngineFiles.read(engine)).getMessage()
                .contains("lonely.engine.manifest.json does not exist"));
        Path gone = writeWithManifest(engineBytes());
        Files.delete(gone);
        assertTrue(assertThrows(KilnException.class, () -> EngineFiles.read(gone)).getMessage()
                .contains("does not exist (its manifest does)"));
    }

    @Test
    void aFailedWriteLeavesNoFile() throws Exception {
        Path blocker = Files.writeString(dir.resolve("not-a-dir"), "x");
        Path target = blocker.resolve("model.engine");
        assertThrows(KilnException.class, () -> EngineFiles.write(target, ByteBuffer.wrap(engineBytes())));
        assertFalse(Files.exists(target));
        try (var s = Files.list(dir)) {
            assertEquals(1, s.count());
        }
    }
}
