package dev.kiln.spark;

import dev.kiln.KilnException;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Files on any Hadoop-compatible file system (hdfs://, s3a://, gs://, abfs://, file://) made readable by Kiln's
 * readers, which take local paths: a path with a scheme is copied once per JVM into a local cache (keyed by URI, size
 * and modification time, so a changed file is fetched again); a plain path is used as it is. Models are directories
 * and .pb files, data are .npy/.npz files and image folders: each is copied whole, which is what every reader needs.
 */
final class HadoopPaths {
    private static final ConcurrentHashMap<String, Path> CACHE = new ConcurrentHashMap<>();

    private HadoopPaths() {
    }

    /** True for a URI with a scheme of more than one letter (a Windows drive letter is not a scheme). */
    static boolean isUri(String path) {
        int colon = path.indexOf(':');
        return colon > 1 && path.substring(0, colon).matches("[A-Za-z][A-Za-z0-9+.-]*");
    }

    /** A local path holding the file or directory {@code path} names; fails naming it when it does not exist. */
    static Path local(String path) {
        if (!isUri(path)) {
            return Path.of(path);
        }
        try {
            URI uri = URI.create(path);
            FileSystem fs = FileSystem.get(uri, new Configuration());
            org.apache.hadoop.fs.Path p = new org.apache.hadoop.fs.Path(uri);
            if (!fs.exists(p)) {
                throw KilnException.io(path + " does not exist", null);
            }
            FileStatus st = fs.getFileStatus(p);
            String key = path + "|" + st.getLen() + "|" + st.getModificationTime();
            return CACHE.computeIfAbsent(key, k -> fetch(fs, p, path, k));
        } catch (IOException | IllegalArgumentException e) {
            throw KilnException.io("cannot read " + path + ": " + e.getMessage(), e);
        }
    }

    /**
     * Copies into {@code <tmp>/kiln-spark/<sha256 of key>/<name>}: a stable local name (it appears in calibration
     * tables' data descriptions), shared by the JVMs of one machine; copied beside it and renamed into place, so a
     * reader never sees a half-copied file.
     */
    private static Path fetch(FileSystem fs, org.apache.hadoop.fs.Path p, String path, String key) {
        String name = p.getName().isEmpty() ? "root" : p.getName();
        Path dir = Path.of(System.getProperty("java.io.tmpdir"), "kiln-spark", digest(key).substring(0, 24));
        Path local = dir.resolve(name);
        if (Files.exists(local)) {
            return local;
        }
        try {
            Files.createDirectories(dir);
            Path tmp = Files.createTempDirectory(dir, ".fetch-");
            fs.copyToLocalFile(false, p, new org.apache.hadoop.fs.Path(tmp.resolve(name).toUri()), true);
            try {
                Files.move(tmp.resolve(name), local, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
            } catch (java.nio.file.FileAlreadyExistsException | java.nio.file.DirectoryNotEmptyException raced) {
                // another JVM on this machine fetched it first: the same bytes
            }
            return local;
        } catch (IOException e) {
            throw KilnException.io("cannot copy " + path + " from its file system: " + e.getMessage(), e);
        }
    }

    static String digest(String s) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256")
                    .digest(s.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw KilnException.internal("SHA-256 is not available", e);
        }
    }
}
