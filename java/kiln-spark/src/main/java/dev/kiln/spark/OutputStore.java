package dev.kiln.spark;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.KilnException;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileSystem;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;

/**
 * Where batch conversion outputs go: {@code <root>/<key>} on a directory every executor mounts (written in place,
 * atomically), or on any Hadoop-compatible file system (hdfs://, s3a://, ...; written locally, uploaded beside the
 * target and renamed into place, so a reader sees a whole directory or none).
 */
abstract class OutputStore {
    private static final ObjectMapper JSON = new ObjectMapper();

    static OutputStore of(String root) {
        return HadoopPaths.isUri(root) ? new Remote(root) : new Local(Path.of(root));
    }

    /** The finished row stored under {@code key}, or null. */
    abstract ConversionRow row(String key) throws IOException;

    /** What the results say the output is. */
    abstract String location(String key);

    /** The local directory the job writes into. */
    abstract Path localDirectory(String key) throws IOException;

    /** Makes the written directory the stored one. */
    abstract void publish(String key, Path written) throws IOException;

    /** Drops what {@link #localDirectory} left behind once it is published. */
    void cleanUp(Path written) throws IOException {
    }

    private static final class Local extends OutputStore {
        private final Path root;

        Local(Path root) {
            this.root = root;
        }

        @Override
        ConversionRow row(String key) throws IOException {
            Path row = root.resolve(key).resolve(ConversionTask.ROW_FILE);
            return Files.isRegularFile(row) ? JSON.readValue(row.toFile(), ConversionRow.class) : null;
        }

        @Override
        String location(String key) {
            return root.resolve(key).toString();
        }

        @Override
        Path localDirectory(String key) {
            return root.resolve(key);
        }

        @Override
        void publish(String key, Path written) {
            // written in place, atomically
        }
    }

    private static final class Remote extends OutputStore {
        private final String root;
        private final FileSystem fs;

        Remote(String root) {
            this.root = root.endsWith("/") ? root.substring(0, root.length() - 1) : root;
            try {
                this.fs = FileSystem.get(URI.create(this.root), new Configuration());
            } catch (IOException | IllegalArgumentException e) {
                throw KilnException.io("cannot open the output " + root + ": " + e.getMessage(), e);
            }
        }

        private org.apache.hadoop.fs.Path target(String key) {
            return new org.apache.hadoop.fs.Path(root + "/" + key);
        }

        @Override
        ConversionRow row(String key) throws IOException {
            org.apache.hadoop.fs.Path row = new org.apache.hadoop.fs.Path(target(key), ConversionTask.ROW_FILE);
            if (!fs.exists(row)) {
                return null;
            }
            try (InputStream in = fs.open(row)) {
                return JSON.readValue(in, ConversionRow.class);
            }
        }

        @Override
        String location(String key) {
            return target(key).toString();
        }

        @Override
        Path localDirectory(String key) throws IOException {
            return Files.createTempDirectory("kiln-convert-").resolve(key);
        }

        @Override
        void publish(String key, Path written) throws IOException {
            org.apache.hadoop.fs.Path upload = new org.apache.hadoop.fs.Path(root + "/." + key + ".upload-"
                    + UUID.randomUUID());
            fs.copyFromLocalFile(false, true, new org.apache.hadoop.fs.Path(written.toUri()), upload);
            org.apache.hadoop.fs.Path dst = target(key);
            if (fs.exists(dst)) {
                fs.delete(dst, true); // a concurrent retry finished first: the same bytes, the last one wins
            }
            if (!fs.rename(upload, dst)) {
                fs.delete(upload, true);
                if (!fs.exists(dst)) {
                    throw KilnException.io("cannot move the output into place at " + dst, null);
                }
            }
        }

        @Override
        void cleanUp(Path written) throws IOException {
            try (java.util.stream.Stream<Path> s = Files.walk(written.getParent())) {
                for (Path p : s.sorted(java.util.Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
    }
}
