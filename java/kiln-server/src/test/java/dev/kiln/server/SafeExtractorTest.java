package dev.kiln.server;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The archive reader on its own: what it unpacks (long names, zips, nesting) and the limits it enforces. */
class SafeExtractorTest {
    @TempDir
    Path dir;

    private static final byte[] PB = "graph".getBytes(StandardCharsets.UTF_8);

    private Path write(byte[] archive) throws Exception {
        return Files.write(dir.resolve("a-" + System.nanoTime()), archive);
    }

    @Test
    void unpacksTarsWithLongNamesAndZips() throws Exception {
        String longDir = "m/variables/" + "x".repeat(120);
        byte[] longName = longDir.getBytes(StandardCharsets.UTF_8);
        byte[] gnu = TestArchives.tar(List.of(TestArchives.Entry.file("m/saved_model.pb", PB),
                new TestArchives.Entry("././@LongLink", 'L', longName, ""),
                TestArchives.Entry.file("ignored-short-name", PB)));
        Path root = new SafeExtractor(1 << 20, 100, 100).extract(write(gnu), dir.resolve("gnu"));
        assertEquals(dir.resolve("gnu/m"), root);
        assertTrue(Files.isRegularFile(dir.resolve("gnu").resolve(longDir)), "GNU long name used");

        String pax = "path=" + longDir + "2";
        String record = (pax.length() + 4) + " " + pax + "\n";
        byte[] paxTar = TestArchives.tar(List.of(TestArchives.Entry.file("saved_model.pb", PB),
                new TestArchives.Entry("PaxHeader", 'x', record.getBytes(StandardCharsets.UTF_8), ""),
                TestArchives.Entry.file("short", PB)));
        new SafeExtractor(1 << 20, 100, 100).extract(write(TestArchives.gzip(paxTar)), dir.resolve("pax"));
        assertTrue(Files.isRegularFile(dir.resolve("pax").resolve(longDir + "2")), "pax path used");

        byte[] zip = TestArchives.zip(List.of(TestArchives.Entry.file("saved_model.pb", PB),
                TestArchives.Entry.file("variables/variables.index", PB)));
        assertEquals(dir.resolve("zip"), new SafeExtractor(1 << 20, 100, 100).extract(write(zip), dir.resolve("zip")));
    }

    @Test
    void limitsAreEnforced() throws Exception {
        List<TestArchives.Entry> many = new ArrayList<>();
        for (int i = 0; i < 20; i++) {
            many.add(TestArchives.Entry.file("m/f" + i, PB));
        }
        ApiException e = assertThrows(ApiException.class, () -> new SafeExtractor(1 << 20, 10, 100)
                .extract(write(TestArchives.tar(many)), dir.resolve("many")));
        assertTrue(e.getMessage().contains("more than 10 entries"), e.getMessage());

        byte[] big = TestArchives.tar(List.of(TestArchives.Entry.file("saved_model.pb", new byte[4096])));
        e = assertThrows(ApiException.class, () -> new SafeExtractor(1000, 10, 1000).extract(write(big),
                dir.resolve("big")));
        assertEquals(413, e.status());

        byte[] twice = TestArchives.tar(List.of(TestArchives.Entry.file("saved_model.pb", PB),
                TestArchives.Entry.file("./saved_model.pb", PB)));
        e = assertThrows(ApiException.class, () -> new SafeExtractor(1 << 20, 10, 100).extract(write(twice),
                dir.resolve("twice")));
        assertTrue(e.getMessage().contains("twice"), e.getMessage());

        byte[] fifo = TestArchives.tar(List.of(new TestArchives.Entry("m/pipe", '6', new byte[0], "")));
        e = assertThrows(ApiException.class, () -> new SafeExtractor(1 << 20, 10, 100).extract(write(fifo),
                dir.resolve("fifo")));
        assertTrue(e.getMessage().contains("type '6'"), e.getMessage());

        byte[] corrupt = TestArchives.tar(List.of(TestArchives.Entry.file("saved_model.pb", PB)));
        corrupt[10] ^= 1; // the header no longer matches its checksum
        e = assertThrows(ApiException.class, () -> new SafeExtractor(1 << 20, 10, 100).extract(write(corrupt),
                dir.resolve("corrupt")));
        assertTrue(e.getMessage().contains("checksum"), e.getMessage());
    }
}
