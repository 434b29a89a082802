package dev.kiln.server;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

/**
 * A model given by its path on the server instead of an upload: allowed only under the roots the server was started
 * with ({@code --allow-root}), checked on the real path (links resolved, so a link cannot lead out), and copied into
 * the job's directory, so that a queued job does not change when the source does. The copy follows the archive
 * rules: plain files and directories only, within the unpacked-size limit.
 */
final class AllowedRoots {
    private final List<Path> roots;
    private final long maxBytes;

    AllowedRoots(List<Path> roots, long maxBytes) {
        this.roots = roots.stream().map(AllowedRoots::real).toList();
        this.maxBytes = maxBytes;
    }

    private static Path real(Path p) {
        try {
            return p.toRealPath();
        } catch (IOException e) {
            throw new IllegalArgumentException("allowed root " + p + " does not exist: " + e.getMessage(), e);
        }
    }

    /** Copies the plain file at {@code given} (the form field {@code field}) to {@code dest}, within the size limit. */
    void copyFile(String given, Path dest, String field) throws IOException {
        Path source = checked(given, field);
        if (!Files.isRegularFile(source, LinkOption.NOFOLLOW_LINKS)) {
            throw ApiException.badRequest("'" + field + "' " + given + " is not a plain file");
        }
        if (Files.size(source) > maxBytes) {
            throw new ApiException(413, "'" + field + "' " + given + " is larger than " + maxBytes / (1024 * 1024)
                    + " MiB");
        }
        Files.copy(source, dest);
    }

    /** The real path of {@code given}: absolute, existing and under an allowed root, or a 4xx naming the field. */
    private Path checked(String given, String field) {
        if (roots.isEmpty()) {
            throw ApiException.badRequest("'" + field + "' is not accepted: this server was started without "
                    + "--allow-root");
        }
        Path p = Path.of(given.strip());
        if (!p.isAbsolute()) {
            throw ApiException.badRequest("'" + field + "' must be an absolute path, got " + given);
        }
        Path source;
        try {
            source = p.toRealPath();
        } catch (IOException e) {
            throw ApiException.badRequest("'" + field + "' " + given + " does not exist");
        }
        if (roots.stream().noneMatch(source::startsWith)) {
            throw new ApiException(403, "'" + field + "' " + given + " is not under an allowed root");
        }
        return source;
    }

    /** Copies the SavedModel at {@code given} into {@code dest}; returns a SHA-256 over its files' names and bytes. */
    String copy(String given, Path dest) throws IOException {
        Path source = checked(given, "model_path");
        if (!Files.isRegularFile(source.resolve("saved_model.pb"))) {
            throw ApiException.badRequest("'model_path' " + given + " holds no saved_model.pb");
        }
        MessageDigest md = Tokens.digest();
        long total = 0;
        try (Stream<Path> s = Files.walk(source)) {
            for (Path f : s.sorted().toList()) {
                String rel = source.relativize(f).toString();
                Path target = dest.resolve(rel);
                if (Files.isSymbolicLink(f)) {
                    throw ApiException.badRequest("'model_path' holds a symbolic link: " + rel);
                } else if (Files.isDirectory(f, LinkOption.NOFOLLOW_LINKS)) {
                    Files.createDirectories(target);
                } else if (Files.isRegularFile(f, LinkOption.NOFOLLOW_LINKS)) {
                    total += Files.size(f);
                    if (total > maxBytes) {
                        throw new ApiException(413, "'model_path' holds more than " + maxBytes / (1024 * 1024)
                                + " MiB");
                    }
                    Files.copy(f, target, LinkOption.NOFOLLOW_LINKS);
                    md.update(rel.getBytes(StandardCharsets.UTF_8));
                    md.update((byte) 0);
                    try (InputStream in = Files.newInputStream(target)) {
                        byte[] buf = new byte[1 << 16];
                        for (int n; (n = in.read(buf)) > 0; ) {
                            md.update(buf, 0, n);
                        }
                    }
                } else {
                    throw ApiException.badRequest("'model_path' holds a special file: " + rel);
                }
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }
}
