package dev.kiln.tensorrt;

import dev.kiln.KilnException;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

/**
 * SHA-256 as {@code sha256:<hex>}: of bytes, of a file, or of a directory (every file in path order, relative names
 * included — the same fingerprint Kiln's calibration tables record for a SavedModel).
 */
public final class Sha256 {
    private Sha256() {
    }

    public static String of(byte[] bytes) {
        MessageDigest md = digest();
        md.update(bytes);
        return "sha256:" + HexFormat.of().formatHex(md.digest());
    }

    /** Of the bytes from the buffer's position to its limit (the buffer is not moved). */
    public static String of(java.nio.ByteBuffer bytes) {
        MessageDigest md = digest();
        md.update(bytes.duplicate());
        return "sha256:" + HexFormat.of().formatHex(md.digest());
    }

    /** Of a file, or of every file of a directory; an I/O error names the path. */
    public static String of(Path path) {
        MessageDigest md = digest();
        try {
            List<Path> files;
            if (Files.isDirectory(path)) {
                try (Stream<Path> s = Files.walk(path)) {
                    files = s.filter(Files::isRegularFile).sorted().toList();
                }
            } else {
                files = List.of(path);
            }
            byte[] buf = new byte[1 << 16];
            boolean dir = Files.isDirectory(path);
            for (Path f : files) {
                if (dir) {
                    md.update(path.relativize(f).toString().getBytes(StandardCharsets.UTF_8));
                }
                try (InputStream in = Files.newInputStream(f)) {
                    for (int n; (n = in.read(buf)) > 0; ) {
                        md.update(buf, 0, n);
                    }
                }
            }
        } catch (IOException e) {
            throw KilnException.io("cannot read " + path + " to hash it: " + e.getMessage(), e);
        }
        return "sha256:" + HexFormat.of().formatHex(md.digest());
    }

    private static MessageDigest digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw KilnException.internal("SHA-256 is not available", e);
        }
    }
}
