package dev.kiln.server;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.zip.GZIPOutputStream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * Archives for the tests, written byte by byte so that they can hold what no well-behaved tool writes: links,
 * absolute paths, {@code ..}.
 */
final class TestArchives {
    /** One tar entry: type '0' file, '5' directory, '1' hard link, '2' symlink. */
    record Entry(String name, char type, byte[] data, String link) {
        static Entry file(String name, byte[] data) {
            return new Entry(name, '0', data, "");
        }

        static Entry dir(String name) {
            return new Entry(name, '5', new byte[0], "");
        }
    }

    private TestArchives() {
    }

    static byte[] tar(List<Entry> entries) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (Entry e : entries) {
            byte[] h = new byte[512];
            put(h, 0, 100, e.name());
            put(h, 100, 8, "0000644");
            put(h, 108, 8, "0000000");
            put(h, 116, 8, "0000000");
            put(h, 124, 12, String.format("%011o", e.data().length));
            put(h, 136, 12, String.format("%011o", 0));
            h[156] = (byte) e.type();
            put(h, 157, 100, e.link());
            put(h, 257, 6, "ustar");
            put(h, 263, 2, "00");
            java.util.Arrays.fill(h, 148, 156, (byte) ' ');
            int sum = 0;
            for (byte b : h) {
                sum += b & 0xff;
            }
            put(h, 148, 8, String.format("%06o", sum) + "\0 ");
            out.writeBytes(h);
            out.writeBytes(e.data());
            out.writeBytes(new byte[(512 - e.data().length % 512) % 512]);
        }
        out.writeBytes(new byte[1024]);
        return out.toByteArray();
    }

    /** A directory as a tar, its files under {@code prefix/}. */
    static byte[] tarOf(Path dir, String prefix) {
        try (var s = Files.walk(dir)) {
            List<Entry> entries = new java.util.ArrayList<>();
            for (Path p : s.sorted().toList()) {
                String rel = dir.relativize(p).toString();
                String name = rel.isEmpty() ? prefix + "/" : prefix + "/" + rel;
                entries.add(Files.isDirectory(p) ? Entry.dir(name.endsWith("/") ? name : name + "/")
                        : Entry.file(name, Files.readAllBytes(p)));
            }
            return tar(entries);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static byte[] gzip(byte[] bytes) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
            gz.write(bytes);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    /** A zip of (name, bytes) pairs. */
    static byte[] zip(List<Entry> entries) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ZipOutputStream z = new ZipOutputStream(out)) {
            for (Entry e : entries) {
                z.putNextEntry(new ZipEntry(e.name()));
                z.write(e.data());
                z.closeEntry();
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return out.toByteArray();
    }

    private static void put(byte[] h, int off, int len, String s) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        System.arraycopy(b, 0, h, off, Math.min(len, b.length));
    }
}
