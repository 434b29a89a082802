package dev.kiln;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The temporaries that Kiln stages its outputs in, beside the final path, and the removal of those that a killed run
 * left behind. A temporary is named {@code .<target>.tmp-<pid>-<host>-<nonce>}: the writing process and its host are
 * in the name, so a later run can tell a temporary whose writer is dead (stale: removed) from one that another live
 * process is still writing (left alone). Only names of this pattern are ever removed, plus, after a day, the two
 * names that earlier versions of Kiln staged in: a directory {@code .<target>.tmp<digits>} holding only
 * {@code model/}, and a file {@code .<target><digits>.tmp} (Java's temporary-file naming, digits of a random long).
 */
public final class KilnTemporaries {
    /** A temporary from another host, or of the older naming, is stale only after this long. */
    static final Duration FOREIGN_STALE_AFTER = Duration.ofHours(24);

    private static final Pattern OURS = Pattern.compile("\\..+\\.tmp-(\\d+)-([0-9a-f]{8})-[0-9a-z]+");
    private static final Pattern LEGACY_DIR = Pattern.compile("\\..+\\.tmp\\d{6,}");
    private static final Pattern LEGACY_FILE = Pattern.compile("\\..+\\d{6,}\\.tmp");
    private static final String HOST = hostTag();

    private KilnTemporaries() {
    }

    /** A fresh temporary name beside {@code target} (nothing is created). */
    public static Path nameFor(Path target) {
        Path abs = target.toAbsolutePath();
        String nonce = Long.toString(ThreadLocalRandom.current().nextLong() >>> 1, 36);
        return abs.resolveSibling("." + abs.getFileName() + ".tmp-" + ProcessHandle.current().pid() + "-" + HOST
                + "-" + nonce);
    }

    /** True when {@code name} is of the naming of {@link #nameFor} (whether its writer is alive or not). */
    public static boolean isTemporaryName(String name) {
        return OURS.matcher(name).matches();
    }

    /**
     * Removes the stale Kiln temporaries in {@code dir} (see the class comment) and returns what it removed. Errors
     * are ignored: a temporary that cannot be removed is harmless, and another run may be removing it too.
     */
    public static List<Path> removeStale(Path dir) {
        List<Path> removed = new ArrayList<>();
        if (dir == null || !Files.isDirectory(dir)) {
            return removed;
        }
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir, p -> p.getFileName().toString()
                .startsWith("."))) {
            for (Path p : entries) {
                if (isStale(p, Instant.now()) && deleteTree(p)) {
                    removed.add(p);
                }
            }
        } catch (IOException | RuntimeException ignored) {
            // best effort, see above
        }
        return removed;
    }

    /** True when {@code p} is a Kiln temporary whose writer is gone (the class comment says how that is told). */
    static boolean isStale(Path p, Instant now) {
        String name = p.getFileName().toString();
        Matcher m = OURS.matcher(name);
        if (m.matches()) {
            if (m.group(2).equals(HOST)) {
                try {
                    return ProcessHandle.of(Long.parseLong(m.group(1))).map(h -> !h.isAlive()).orElse(true);
                } catch (NumberFormatException e) {
                    return false;
                }
            }
            return olderThan(p, now, FOREIGN_STALE_AFTER);
        }
        boolean legacy = LEGACY_DIR.matcher(name).matches() ? holdsOnlyModel(p)
                : LEGACY_FILE.matcher(name).matches() && Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS);
        return legacy && olderThan(p, now, FOREIGN_STALE_AFTER);
    }

    private static boolean holdsOnlyModel(Path dir) {
        if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            return false;
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.allMatch(q -> q.getFileName().toString().equals("model"));
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    private static boolean olderThan(Path p, Instant now, Duration age) {
        try {
            FileTime t = Files.getLastModifiedTime(p, LinkOption.NOFOLLOW_LINKS);
            return t.toInstant().plus(age).isBefore(now);
        } catch (IOException e) {
            return false;
        }
    }

    private static boolean deleteTree(Path p) {
        if (!Files.isDirectory(p, LinkOption.NOFOLLOW_LINKS)) {
            try {
                return Files.deleteIfExists(p);
            } catch (IOException e) {
                return false;
            }
        }
        try (Stream<Path> all = Files.walk(p)) {
            for (Path q : (Iterable<Path>) all.sorted(Comparator.reverseOrder())::iterator) {
                Files.deleteIfExists(q);
            }
            return true;
        } catch (IOException | java.io.UncheckedIOException e) {
            return false;
        }
    }

    /** A short tag of this host's name, so that a PID is only judged on the host it belongs to. */
    private static String hostTag() {
        String host = null;
        try {
            host = Files.readString(Path.of("/proc/sys/kernel/hostname"), StandardCharsets.UTF_8).trim();
        } catch (IOException | RuntimeException ignored) {
            // not Linux: fall back to the environment
        }
        if (host == null || host.isEmpty()) {
            host = System.getenv().getOrDefault("HOSTNAME", System.getenv().getOrDefault("COMPUTERNAME", "localhost"));
        }
        return String.format("%08x", host.hashCode());
    }
}
