package dev.kiln.server;

import dev.kiln.KilnArgumentException;

import java.nio.file.Path;
import java.util.Objects;

/**
 * How a {@link KilnServer} runs: where it listens, where it keeps jobs, who may use it, and its limits. Immutable;
 * made by {@link #builder}.
 */
public record ServerConfig(String host, int port, Path dataDir, Tokens tokens, int workers, int queueCapacity,
                           long maxUploadBytes, long maxUnpackedBytes, long maxArchiveEntries, double maxArchiveRatio,
                           int maxAttempts, int httpThreads, java.time.Duration retentionMaxAge,
                           long retentionMaxBytes, Path tlsKeystore, char[] tlsPassword,
                           java.util.List<Path> allowedRoots, Integer gpuSlots, boolean shareCacheAcrossTenants) {

    /** Workers by default: one per two cores (a job uses a core or more itself), at least one. */
    public static int defaultWorkers() {
        return Math.max(1, Runtime.getRuntime().availableProcessors() / 2);
    }

    public static Builder builder(Path dataDir, Tokens tokens) {
        return new Builder(dataDir, tokens);
    }

    /** Options of the server, with the defaults of {@code kiln serve}. */
    public static final class Builder {
        private String host = "127.0.0.1";
        private int port = 8080;
        private final Path dataDir;
        private final Tokens tokens;
        private int workers = defaultWorkers();
        private int queueCapacity = 64;
        private long maxUploadBytes = 512L << 20;
        private long maxUnpackedBytes = 4L << 30;
        private long maxArchiveEntries = 10_000;
        private double maxArchiveRatio = 100;
        private int maxAttempts = 3;
        private int httpThreads = 8;
        private java.time.Duration retentionMaxAge;
        private long retentionMaxBytes;
        private Path tlsKeystore;
        private char[] tlsPassword;
        private java.util.List<Path> allowedRoots = java.util.List.of();
        private Integer gpuSlots;
        private boolean shareCacheAcrossTenants;

        private Builder(Path dataDir, Tokens tokens) {
            this.dataDir = Objects.requireNonNull(dataDir, "dataDir");
            this.tokens = Objects.requireNonNull(tokens, "tokens");
        }

        /** The address to bind (default 127.0.0.1; to serve other machines, give {@link #tls} or use a TLS proxy). */
        public Builder host(String h) {
            this.host = Objects.requireNonNull(h);
            return this;
        }

        /** The port (0: any free one, see {@link KilnServer#port()}). */
        public Builder port(int p) {
            KilnArgumentException.check(p >= 0 && p <= 65535, "port must be in [0, 65535], got " + p);
            this.port = p;
            return this;
        }

        /** Worker threads running jobs (0: accept and queue only). */
        public Builder workers(int n) {
            KilnArgumentException.check(n >= 0 && n <= 256, "workers must be in [0, 256], got " + n);
            this.workers = n;
            return this;
        }

        /** Queued jobs beyond which a submission is answered 429. */
        public Builder queueCapacity(int n) {
            KilnArgumentException.check(n >= 1, "queue capacity must be >= 1, got " + n);
            this.queueCapacity = n;
            return this;
        }

        public Builder maxUploadMiB(long mib) {
            KilnArgumentException.check(mib >= 1 && mib <= 2000, "max upload must be in [1, 2000] MiB, got " + mib);
            this.maxUploadBytes = mib << 20;
            return this;
        }

        /** Upload limit in bytes (tests use small ones). */
        public Builder maxUploadBytes(long bytes) {
            KilnArgumentException.check(bytes >= 1 && bytes <= (2000L << 20), "max upload must be in [1 B, 2000 MiB]"
                    + ", got " + bytes);
            this.maxUploadBytes = bytes;
            return this;
        }

        public Builder maxUnpackedBytes(long bytes) {
            KilnArgumentException.check(bytes >= 1, "max unpacked size must be >= 1, got " + bytes);
            this.maxUnpackedBytes = bytes;
            return this;
        }

        public Builder maxArchiveEntries(long n) {
            KilnArgumentException.check(n >= 1, "max archive entries must be >= 1, got " + n);
            this.maxArchiveEntries = n;
            return this;
        }

        /** Unpacked size over archive size beyond which an archive is refused as a zip bomb. */
        public Builder maxArchiveRatio(double r) {
            KilnArgumentException.check(r > 1, "max archive ratio must be > 1, got " + r);
            this.maxArchiveRatio = r;
            return this;
        }

        /** Times a job is started before a server stop during each makes it fail instead of rerun. */
        public Builder maxAttempts(int n) {
            KilnArgumentException.check(n >= 1, "max attempts must be >= 1, got " + n);
            this.maxAttempts = n;
            return this;
        }

        /** Done jobs' outputs older than this are removed (null: kept however old). */
        public Builder retentionMaxAge(java.time.Duration age) {
            KilnArgumentException.check(age == null || !age.isNegative(), "retention age must not be negative, got "
                    + age);
            this.retentionMaxAge = age;
            return this;
        }

        /** The oldest done jobs' outputs are removed until the rest take at most this many bytes (0: no limit). */
        public Builder retentionMaxBytes(long bytes) {
            KilnArgumentException.check(bytes >= 0, "retention size must be >= 0, got " + bytes);
            this.retentionMaxBytes = bytes;
            return this;
        }

        /** Serve HTTPS with the certificate and key in this PKCS#12 keystore (null: plain HTTP). */
        public Builder tls(Path keystore, char[] password) {
            this.tlsKeystore = keystore;
            this.tlsPassword = password == null ? null : password.clone();
            return this;
        }

        /** Directories under which a job may name its model by path ({@code model_path}); none by default. */
        public Builder allowedRoots(java.util.List<Path> roots) {
            for (Path r : roots) {
                KilnArgumentException.check(java.nio.file.Files.isDirectory(r), "allowed root " + r
                        + " is not a directory");
            }
            this.allowedRoots = java.util.List.copyOf(roots);
            return this;
        }

        /**
         * TensorRT engine builds run at once, one per GPU (null, the default: the GPUs kiln-tensorrt's probe finds;
         * 0: engine jobs write the ONNX and a trtexec plan on the CPU workers, as without a GPU).
         */
        public Builder gpuSlots(Integer n) {
            KilnArgumentException.check(n == null || n >= 0 && n <= 64, "GPU slots must be in [0, 64], got " + n);
            this.gpuSlots = n;
            return this;
        }

        /**
         * Whether identical submissions of different tenants share results (done, or being made). Off by default: a
         * shared cache lets a tenant tell by the timing of its own job that another tenant sent the same model.
         */
        public Builder shareCacheAcrossTenants(boolean share) {
            this.shareCacheAcrossTenants = share;
            return this;
        }

        public ServerConfig build() {
            return new ServerConfig(host, port, dataDir, tokens, workers, queueCapacity, maxUploadBytes,
                    maxUnpackedBytes, maxArchiveEntries, maxArchiveRatio, maxAttempts, httpThreads, retentionMaxAge,
                    retentionMaxBytes, tlsKeystore, tlsPassword, allowedRoots, gpuSlots, shareCacheAcrossTenants);
        }
    }
}
