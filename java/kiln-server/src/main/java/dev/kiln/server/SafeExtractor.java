package dev.kiln.server;

import java.io.BufferedInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Arrays;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;

/**
 * Unpacks an uploaded .tar, .tar.gz or .zip into a fresh directory, refusing (400, naming the entry) anything that
 * could write outside it or exhaust the disk: absolute paths, {@code ..} segments, symbolic and hard links, device
 * files, an entry given twice, more than {@code maxEntries} entries, more than {@code maxBytes} unpacked, or an
 * unpacked size over {@code maxRatio} times the archive's (a zip bomb). The type is read from the bytes, not the
 * name. Zip entries are always written as plain files, so a zip cannot carry a link. The tar reader is Kiln's own
 * (ustar, GNU long names, pax paths): a few dozen lines, and it sees every entry type before anything is written.
 */
final class SafeExtractor {
    private final long maxBytes;
    private final long maxEntries;
    private final double maxRatio;

    SafeExtractor(long maxBytes, long maxEntries, double maxRatio) {
        this.maxBytes = maxBytes;
        this.maxEntries = maxEntries;
        this.maxRatio = maxRatio;
    }

    /** Unpacks {@code archive} into {@code dest} (created, must not exist) and returns the SavedModel directory. */
    Path extract(Path archive, Path dest) throws IOException {
        long archiveBytes = Files.size(archive);
        Files.createDirectories(dest.getParent());
        Files.createDirectory(dest);
        Budget budget = new Budget(archiveBytes);
        byte[] magic = new byte[262];
        int n;
        try (InputStream in = Files.newInputStream(archive)) {
            n = in.readNBytes(magic, 0, magic.length);
        }
        try (InputStream in = new BufferedInputStream(Files.newInputStream(archive))) {
            if (n >= 2 && (magic[0] & 0xff) == 0x1f && (magic[1] & 0xff) == 0x8b) {
                untar(new BufferedInputStream(new GZIPInputStream(in, 1 << 16)), dest, budget);
            } else if (n >= 4 && magic[0] == 'P' && magic[1] == 'K' && magic[2] == 3 && magic[3] == 4) {
                unzip(new ZipInputStream(in), dest, budget);
            } else if (n >= 262 && new String(magic, 257, 5, StandardCharsets.ISO_8859_1).equals("ustar")) {
                untar(in, dest, budget);
            } else {
                throw ApiException.badRequest("the 'model' part is not a .tar, .tar.gz or .zip archive");
            }
        } catch (EOFException e) {
            throw ApiException.badRequest("the model archive is truncated");
        } catch (java.util.zip.ZipException e) {
            throw ApiException.badRequest("the model archive is corrupt: " + e.getMessage());
        }
        return savedModelRoot(dest);
    }

    /** The directory holding saved_model.pb: the archive's root or its single top-level directory. */
    static Path savedModelRoot(Path dest) {
        if (Files.isRegularFile(dest.resolve("saved_model.pb"))) {
            return dest;
        }
        try (var s = Files.list(dest)) {
            var dirs = s.filter(Files::isDirectory).toList();
            if (dirs.size() == 1 && Files.isRegularFile(dirs.get(0).resolve("saved_model.pb"))) {
                return dirs.get(0);
            }
        } catch (IOException e) {
            throw new IllegalStateException("cannot list " + dest + ": " + e.getMessage(), e);
        }
        throw ApiException.badRequest("the model archive holds no saved_model.pb at its root or in a single top-level "
                + "directory");
    }

    private void unzip(ZipInputStream zip, Path dest, Budget budget) throws IOException {
        for (ZipEntry e; (e = zip.getNextEntry()) != null; ) {
            budget.entry(e.getName());
            Path target = target(dest, e.getName());
            if (e.isDirectory()) {
                Files.createDirectories(target);
            } else {
                write(zip, Long.MAX_VALUE, target, e.getName(), budget);
            }
        }
    }

    private void untar(InputStream in, Path dest, Budget budget) throws IOException {
        byte[] header = new byte[512];
        String longName = null;
        while (true) {
            if (in.readNBytes(header, 0, 512) < 512) {
                throw new EOFException();
            }
            if (allZero(header)) {
                return; // end of archive
            }
            checkChecksum(header);
            char type = (char) header[156];
            long size = octal(header, 124, 12);
            String name = longName != null ? longName : name(header);
            longName = null;
            switch (type) {
                case 'L' -> longName = trimNul(new String(readData(in, size), StandardCharsets.UTF_8));
                case 'x' -> longName = paxPath(readData(in, size));
                case 'g' -> skip(in, padded(size));
                case '5' -> {
                    budget.entry(name);
                    Files.createDirectories(target(dest, name));
                }
                case '0', '\0', '7' -> {
                    budget.entry(name);
                    write(in, size, target(dest, name), name, budget);
                    skip(in, padded(size) - size);
                }
                case '1' -> throw ApiException.badRequest("the model archive holds a hard link: " + name);
                case '2' -> throw ApiException.badRequest("the model archive holds a symbolic link: " + name);
                default -> throw ApiException.badRequest("the model archive holds an entry of type '" + type
                        + "' (device, FIFO or unknown): " + name);
            }
        }
    }

    /** Where an entry goes: refused when absolute, with a {@code ..} segment, or outside {@code dest}. */
    private static Path target(Path dest, String name) {
        if (name.isEmpty() || name.indexOf('\0') >= 0) {
            throw ApiException.badRequest("the model archive holds an entry with an empty or invalid name");
        }
        String n = name.replace('\\', '/');
        if (n.startsWith("/") || n.matches("^[A-Za-z]:.*")) {
            throw ApiException.badRequest("the model archive holds an absolute path: " + name);
        }
        for (String seg : n.split("/")) {
            if (seg.equals("..")) {
                throw ApiException.badRequest("the model archive holds a path with '..': " + name);
            }
        }
        Path t = dest.resolve(n).normalize();
        if (!t.startsWith(dest)) {
            throw ApiException.badRequest("the model archive holds a path outside its root: " + name);
        }
        // a directory created earlier can only be a real directory (links are refused), but check anyway
        for (Path p = t.getParent(); p != null && p.startsWith(dest) && !p.equals(dest); p = p.getParent()) {
            if (Files.isSymbolicLink(p)) {
                throw ApiException.badRequest("the model archive writes through a link: " + name);
            }
        }
        return t;
    }

    private void write(InputStream in, long size, Path target, String name, Budget budget) throws IOException {
        Files.createDirectories(target.getParent());
        byte[] buf = new byte[1 << 16];
        long left = size;
        try (OutputStream out = Files.newOutputStream(target, StandardOpenOption.CREATE_NEW,
                StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)) {
            while (left > 0) {
                int n = in.read(buf, 0, (int) Math.min(buf.length, left));
                if (n < 0) {
                    if (size == Long.MAX_VALUE) {
                        return; // a zip entry ends where its stream does
                    }
                    throw new EOFException();
                }
                budget.bytes(n, name);
                out.write(buf, 0, n);
                left -= n;
            }
        } catch (FileAlreadyExistsException e) {
            throw ApiException.badRequest("the model archive holds the file " + name + " twice");
        }
    }

    /** The running totals that the limits are checked against, as entries arrive. */
    private final class Budget {
        private final long archiveBytes;
        private long entries;
        private long bytes;

        Budget(long archiveBytes) {
            this.archiveBytes = Math.max(1, archiveBytes);
        }

        void entry(String name) {
            if (++entries > maxEntries) {
                throw ApiException.badRequest("the model archive holds more than " + maxEntries + " entries");
            }
        }

        void bytes(long n, String name) {
            bytes += n;
            if (bytes > maxBytes) {
                throw new ApiException(413, "the model archive unpacks to more than " + maxBytes / (1024 * 1024)
                        + " MiB (at " + name + ")");
            }
            // small archives compress text well; the ratio only matters once the size is worth worrying about
            if (bytes > (1L << 20) && bytes > maxRatio * archiveBytes) {
                throw ApiException.badRequest(String.format(java.util.Locale.ROOT, "the model archive unpacks to "
                        + "over %.0f times its size (at %s): refused as a possible zip bomb", maxRatio, name));
            }
        }
    }

    private static byte[] readData(InputStream in, long size) throws IOException {
        if (size > (1 << 20)) {
            throw ApiException.badRequest("the model archive holds a tar extended header larger than 1 MiB");
        }
        byte[] b = in.readNBytes((int) size);
        if (b.length < size) {
            throw new EOFException();
        }
        skip(in, padded(size) - size);
        return b;
    }

    /** The {@code path} record of a pax extended header ({@code "<len> path=<value>\n"}), or null. */
    private static String paxPath(byte[] data) {
        String s = new String(data, StandardCharsets.UTF_8);
        for (String rec : s.split("\n")) {
            int sp = rec.indexOf(' ');
            if (sp > 0 && rec.startsWith("path=", sp + 1)) {
                return rec.substring(sp + 6);
            }
        }
        return null;
    }

    private static void skip(InputStream in, long n) throws IOException {
        in.skipNBytes(n);
    }

    private static long padded(long size) {
        return (size + 511) / 512 * 512;
    }

    private static String name(byte[] h) {
        String name = field(h, 0, 100);
        String prefix = new String(h, 257, 5, StandardCharsets.ISO_8859_1).equals("ustar") ? field(h, 345, 155) : "";
        return prefix.isEmpty() ? name : prefix + "/" + name;
    }

    private static String field(byte[] h, int off, int len) {
        return trimNul(new String(h, off, len, StandardCharsets.UTF_8));
    }

    private static String trimNul(String s) {
        int z = s.indexOf('\0');
        return z >= 0 ? s.substring(0, z) : s;
    }

    private static long octal(byte[] h, int off, int len) {
        if ((h[off] & 0x80) != 0) {
            throw ApiException.badRequest("the model archive holds an entry too large for this server (base-256 "
                    + "size)");
        }
        String s = field(h, off, len).trim();
        try {
            return s.isEmpty() ? 0 : Long.parseLong(s, 8);
        } catch (NumberFormatException e) {
            throw ApiException.badRequest("the model archive is corrupt: a tar header has size '" + s + "'");
        }
    }

    private static void checkChecksum(byte[] h) {
        long want = octal(h, 148, 8);
        byte[] c = h.clone();
        Arrays.fill(c, 148, 156, (byte) ' ');
        long sum = 0;
        for (byte b : c) {
            sum += b & 0xff;
        }
        if (sum != want) {
            throw ApiException.badRequest("the model archive is corrupt: a tar header fails its checksum");
        }
    }

    private static boolean allZero(byte[] b) {
        for (byte x : b) {
            if (x != 0) {
                return false;
            }
        }
        return true;
    }
}
