package dev.kiln.server;

import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.logging.Logger;
import java.util.stream.Stream;

/**
 * {@code kiln serve}: the optimize pipeline as an HTTP service. Jobs are accepted into a SQLite database, run by a
 * bounded pool of workers, and their outputs served by name. On the JDK's own HTTP server with a small router: no
 * dependency to download, audit or keep up to date, and a job API's load (a few requests per job, each job taking
 * seconds to minutes of CPU) is far below what it handles.
 *
 * <pre>{@code
 * try (KilnServer s = KilnServer.start(ServerConfig.builder(dataDir, Tokens.fromFile(tokens)).port(8080).build())) {
 *     s.awaitStop();
 * }
 * }</pre>
 */
public final class KilnServer implements AutoCloseable {
    private static final Logger LOG = Logger.getLogger(KilnServer.class.getName());

    private final ServerConfig config;
    private final JobStore store;
    private final Workers workers;
    private final Metrics metrics;
    private final HttpServer http;
    private final ExecutorService httpThreads;
    private final java.util.concurrent.ScheduledExecutorService sweeper;
    private final EngineSlots engines;
    private volatile boolean closed;

    /** How often the retention limit is applied. */
    static final long SWEEP_SECONDS = 60;

    private KilnServer(ServerConfig config, JobStore store, Workers workers, Metrics metrics, HttpServer http,
                       ExecutorService httpThreads, java.util.concurrent.ScheduledExecutorService sweeper,
                       EngineSlots engines) {
        this.config = config;
        this.store = store;
        this.workers = workers;
        this.metrics = metrics;
        this.http = http;
        this.httpThreads = httpThreads;
        this.sweeper = sweeper;
        this.engines = engines;
    }

    /**
     * Opens (or creates and migrates) the data directory, re-queues the jobs a previous run left unfinished, starts
     * the workers and listens.
     */
    public static KilnServer start(ServerConfig config) {
        DataDir dirs = new DataDir(config.dataDir());
        try {
            Files.createDirectories(dirs.jobs());
            removeIncoming(dirs);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot prepare the data directory " + dirs.root() + ": "
                    + e.getMessage(), e);
        }
        JobStore store = JobStore.open(dirs.database());
        try {
            removeOrphans(dirs, store);
        } catch (IOException e) {
            store.close();
            throw new UncheckedIOException("cannot clean the data directory " + dirs.root() + ": " + e.getMessage(), e);
        }
        Metrics metrics = new Metrics();
        EngineSlots engines = EngineSlots.of(config.gpuSlots());
        LOG.info(engines.describe());
        Workers workers = new Workers(config.workers(), engines.slots(), id -> store.get(id)
                .map(j -> JobOptions.parse(j.options()).buildsEngines()).orElse(false),
                new JobRunner(store, dirs, metrics));
        List<String> requeued = store.recover(config.maxAttempts(), System.currentTimeMillis());
        if (!requeued.isEmpty()) {
            LOG.info("re-queued " + requeued.size() + " job(s) that were running when the server stopped: "
                    + requeued);
        }
        // identical jobs whose leader ended or failed for good before they were settled
        List<String> promoted = new IdenticalJobs(store, dirs, metrics).settleAll();
        removeLeftovers(dirs, store);
        store.queuedIds().forEach(workers::enqueue);
        promoted.forEach(workers::enqueue);
        ExecutorService pool = Executors.newFixedThreadPool(config.httpThreads(), r -> {
            Thread t = new Thread(r, "kiln-http");
            t.setDaemon(true);
            return t;
        });
        HttpServer http;
        try {
            InetSocketAddress address = new InetSocketAddress(config.host(), config.port());
            if (config.tlsKeystore() != null) {
                com.sun.net.httpserver.HttpsServer https = com.sun.net.httpserver.HttpsServer.create(address, 64);
                https.setHttpsConfigurator(new com.sun.net.httpserver.HttpsConfigurator(
                        Tls.context(config.tlsKeystore(), config.tlsPassword())));
                http = https;
            } else {
                http = HttpServer.create(address, 64);
            }
        } catch (IOException | RuntimeException e) {
            store.close();
            pool.shutdownNow();
            if (e instanceof RuntimeException r) {
                throw r;
            }
            throw new UncheckedIOException("cannot listen on " + config.host() + ":" + config.port() + ": "
                    + e.getMessage(), (IOException) e);
        }
        Retention retention = new Retention(store, dirs, config.retentionMaxAge(), config.retentionMaxBytes());
        java.util.concurrent.ScheduledExecutorService sweeper = null;
        if (retention.enabled()) {
            sweeper = Executors.newSingleThreadScheduledExecutor(r -> {
                Thread t = new Thread(r, "kiln-retention");
                t.setDaemon(true);
                return t;
            });
            sweeper.scheduleWithFixedDelay(() -> {
                try {
                    retention.sweep(System.currentTimeMillis());
                } catch (RuntimeException e) {
                    LOG.warning("retention sweep failed: " + e);
                }
            }, 0, SWEEP_SECONDS, TimeUnit.SECONDS);
        }
        KilnServer server = new KilnServer(config, store, workers, metrics, http, pool, sweeper, engines);
        Router router = new Router(metrics.bytesOut::add);
        new JobsApi(config, dirs, store, workers, metrics).register(router);
        server.registerOpenRoutes(router);
        http.createContext("/", router);
        http.setExecutor(pool);
        workers.start();
        http.start();
        return server;
    }

    /** Submissions that never got their row (the server stopped mid-upload) are dropped at start. */
    private static void removeIncoming(DataDir dirs) throws IOException {
        try (Stream<Path> s = Files.list(dirs.jobs())) {
            for (Path p : s.filter(p -> p.getFileName().toString().endsWith(".incoming")).toList()) {
                DataDir.deleteRecursively(p);
            }
        }
    }

    /**
     * A job directory without a row: the server stopped between moving an accepted upload into place and committing
     * its row, so the client never got its 202. Nothing refers to it.
     */
    private static void removeOrphans(DataDir dirs, JobStore store) throws IOException {
        try (Stream<Path> s = Files.list(dirs.jobs())) {
            for (Path p : s.toList()) {
                if (Files.isDirectory(p) && store.get(p.getFileName().toString()).isEmpty()) {
                    LOG.info("removing " + p + ": no job has that id");
                    DataDir.deleteRecursively(p);
                }
            }
        }
    }

    /**
     * The staging directory and upload of jobs that have ended: a job that failed for good at start (the server died
     * during each of its attempts) still has the {@code work/} of its last one.
     */
    private static void removeLeftovers(DataDir dirs, JobStore store) {
        try (Stream<Path> s = Files.list(dirs.jobs())) {
            for (Path p : s.toList()) {
                String id = p.getFileName().toString();
                if (store.get(id).map(j -> j.state().finished()).orElse(false)) {
                    DataDir.deleteRecursively(dirs.work(id));
                    DataDir.deleteRecursively(dirs.model(id));
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException("cannot clean the data directory " + dirs.root() + ": " + e.getMessage(), e);
        }
    }

    /** The routes that need no token: health, metrics (aggregates only), the API description and the page. */
    private void registerOpenRoutes(Router r) {
        r.route("GET", "/healthz", q -> q.sendJson(200, Map.of("status", "ok")));
        r.route("GET", "/readyz", q -> {
            Map<String, Object> body = new LinkedHashMap<>();
            String db = store.integrityCheck();
            long queued = store.countState(JobState.QUEUED);
            boolean ready = db.equals("ok") && queued < config.queueCapacity() && !closed;
            body.put("ready", ready);
            body.put("database", db);
            body.put("queued", queued);
            body.put("queueCapacity", config.queueCapacity());
            body.put("workers", workers.size());
            body.put("running", workers.runningCount());
            body.put("gpuSlots", workers.gpuSlots());
            body.put("tensorrt", engines.describe());
            q.sendJson(ready ? 200 : 503, body);
        });
        r.route("GET", "/metrics", q -> q.send(200, "text/plain; version=0.0.4; charset=utf-8",
                metrics.render(store.countByState(), workers.queueLength(), workers.size(), workers.gpuSlots(),
                        engines.probed())
                        .getBytes(java.nio.charset.StandardCharsets.UTF_8)));
        r.route("GET", "/openapi.json", q -> q.send(200, "application/json", resource("openapi.json")));
        r.route("GET", "/", q -> q.send(200, "text/html; charset=utf-8", resource("index.html")));
    }

    private static byte[] resource(String name) throws IOException {
        try (InputStream in = KilnServer.class.getResourceAsStream(name)) {
            if (in == null) {
                throw new IllegalStateException("resource " + name + " is missing from the kiln-server jar");
            }
            return in.readAllBytes();
        }
    }

    /** The port listened on (the chosen one when configured with 0). */
    public int port() {
        return http.getAddress().getPort();
    }

    /** The base URL, e.g. {@code http://127.0.0.1:8080} ({@code https} with TLS). */
    public String url() {
        return (config.tlsKeystore() != null ? "https://" : "http://") + config.host() + ":" + port();
    }

    /** TensorRT engine builds that run at once (one per GPU; 0 without a GPU). */
    public int gpuSlots() {
        return workers.gpuSlots();
    }

    public ServerConfig config() {
        return config;
    }

    /** Blocks until {@link #close} is called from elsewhere (a shutdown hook). */
    public void awaitStop() throws InterruptedException {
        synchronized (this) {
            while (!closed) {
                wait();
            }
        }
    }

    /**
     * Stops listening, lets running jobs stop at their next step (they go back to the queue for the next start) and
     * closes the database.
     */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
            notifyAll();
        }
        http.stop(1);
        if (sweeper != null) {
            sweeper.shutdownNow();
        }
        workers.stop(60_000);
        httpThreads.shutdown();
        try {
            httpThreads.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        store.close();
    }
}
