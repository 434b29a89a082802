package dev.kiln.pipeline;

import dev.kiln.KilnException;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

/**
 * The SHA-256 of every file a job wrote, for report.json: two runs of the same input and options write the same
 * bytes (whatever the thread count or kernel backend), and the digests show it without keeping the files.
 */
final class OutputDigests {
    private OutputDigests() {
    }

    /**
     * Each regular file under {@code roots} (files or directories), by path relative to {@code outputDir} with '/'
     * separators, sorted by path.
     */
    static List<OptimizeReport.OutputFile> of(Path outputDir, List<Path> roots) {
        List<OptimizeReport.OutputFile> out = new ArrayList<>();
        for (Path root : roots) {
            if (!Files.exists(root)) {
                continue;
            }
            try (Stream<Path> s = Files.walk(root)) {
                for (Path p : (Iterable<Path>) s.filter(Files::isRegularFile)::iterator) {
                    String rel = outputDir.toAbsolutePath().relativize(p.toAbsolutePath()).toString()
                            .replace('\\', '/');
                    out.add(new OptimizeReport.OutputFile(rel, Files.size(p), sha256(p)));
                }
            } catch (IOException e) {
                throw KilnException.io("cannot read back " + root + " to digest it: " + e.getMessage(), e);
            }
        }
        out.sort(java.util.Comparator.comparing(OptimizeReport.OutputFile::path));
        return List.copyOf(out);
    }

    /**
     * Whether the files at {@code artifact} (a file, or a SavedModel directory) are no longer those listed in
     * {@code digests} (taken by {@link #of} when this job wrote them): another writer replaced or changed them.
     */
    static boolean replaced(Path outputDir, Path artifact, List<OptimizeReport.OutputFile> digests) {
        String rel = outputDir.toAbsolutePath().relativize(artifact.toAbsolutePath()).toString().replace('\\', '/');
        List<OptimizeReport.OutputFile> then = digests.stream()
                .filter(f -> f.path().equals(rel) || f.path().startsWith(rel + "/")).toList();
        try {
            return !of(outputDir, List.of(artifact)).equals(then);
        } catch (KilnException e) {
            return true; // gone or unreadable: not the file this job wrote
        }
    }

    /** The lower-case hex SHA-256 of a file's bytes. */
    static String sha256(Path file) throws IOException {
        MessageDigest md;
        try {
            md = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw KilnException.internal("this JVM has no SHA-256", e);
        }
        byte[] buf = new byte[1 << 16];
        try (InputStream in = Files.newInputStream(file)) {
            for (int n; (n = in.read(buf)) > 0; ) {
                md.update(buf, 0, n);
            }
        }
        return HexFormat.of().formatHex(md.digest());
    }
}
