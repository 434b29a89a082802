package dev.kiln.cli;

import dev.kiln.KilnException;
import dev.kiln.server.KilnServer;
import dev.kiln.server.ServerConfig;
import dev.kiln.server.Tokens;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code kiln serve}: starts the conversion service (kiln-server) and runs until stopped (Ctrl-C, SIGTERM). */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Run Kiln as an HTTP service: POST /v1/jobs a SavedModel archive, poll, fetch the outputs. "
                + "API at /openapi.json, a page at /.")
final class ServeCommand implements Callable<Integer> {

    @Option(names = "--port", description = "port to listen on (default: ${DEFAULT-VALUE}; 0: any free port)")
    int port = 8080;

    @Option(names = "--host", description = "address to bind (default: ${DEFAULT-VALUE}; to serve other machines, "
            + "give --tls-keystore or put a TLS proxy in front)")
    String host = "127.0.0.1";

    @Option(names = "--data", required = true, paramLabel = "DIR", description = "where jobs, their uploads and "
            + "outputs, and the job database (jobs.db) live")
    Path data;

    @Option(names = "--tokens", paramLabel = "FILE", description = "'token tenant' lines; without it, the "
            + Tokens.ENV + " environment variable")
    Path tokens;

    @Option(names = "--workers", paramLabel = "N", description = "jobs run at once (default: one per two cores)")
    Integer workers;

    @Option(names = "--queue", paramLabel = "N", description = "queued jobs beyond which submissions get 429 "
            + "(default: ${DEFAULT-VALUE})")
    int queue = 64;

    @Option(names = "--max-upload-mb", paramLabel = "N", description = "largest upload in MiB (default: "
            + "${DEFAULT-VALUE})")
    long maxUploadMb = 512;

    @Option(names = "--retention-days", paramLabel = "N", description = "remove done jobs' outputs older than N "
            + "days (default: keep)")
    Double retentionDays;

    @Option(names = "--retention-gb", paramLabel = "N", description = "remove the oldest done jobs' outputs until "
            + "the rest take at most N GiB (default: no limit)")
    Double retentionGb;

    @Option(names = "--tls-keystore", paramLabel = "FILE", description = "serve HTTPS with the certificate and key "
            + "in this PKCS#12 file; its password in the KILN_TLS_PASSWORD environment variable (empty if unset)")
    Path tlsKeystore;

    @Option(names = "--allow-root", paramLabel = "DIR", description = "a directory under which jobs may name their "
            + "model by path (form field model_path) instead of uploading it; repeatable")
    java.util.List<Path> allowRoots = new java.util.ArrayList<>();

    @Option(names = "--gpus", paramLabel = "N", description = "TensorRT engine builds at once, one per GPU (default: "
            + "the GPUs TensorRT finds; 0: engine jobs write ONNX and a trtexec plan on the CPU workers)")
    Integer gpus;

    @Option(names = "--max-attempts", paramLabel = "N", description = "times a job is started before a server stop "
            + "during each makes it fail instead of rerun (default: ${DEFAULT-VALUE})")
    int maxAttempts = 3;

    @Option(names = "--share-cache", description = "identical submissions of different tenants share results (off by "
            + "default: the timing of a job would tell a tenant that another sent the same model)")
    boolean shareCache;

    /** The server this command started, so that tests can stop it. */
    static volatile KilnServer running;

    @Override
    public Integer call() throws InterruptedException {
        Tokens t = tokens != null ? Tokens.fromFile(tokens) : Tokens.fromEnvironment();
        ServerConfig.Builder b = ServerConfig.builder(data, t).host(host).port(port).queueCapacity(queue)
                .maxAttempts(maxAttempts)
                .maxUploadMiB(maxUploadMb);
        if (workers != null) {
            b.workers(workers);
        }
        b.allowedRoots(allowRoots).gpuSlots(gpus).shareCacheAcrossTenants(shareCache);
        if (tlsKeystore != null) {
            String pw = System.getenv("KILN_TLS_PASSWORD");
            b.tls(tlsKeystore, (pw == null ? "" : pw).toCharArray());
        }
        if (retentionDays != null) {
            dev.kiln.KilnArgumentException.check(retentionDays > 0, "--retention-days must be > 0, got "
                    + retentionDays);
            b.retentionMaxAge(java.time.Duration.ofSeconds((long) (retentionDays * 86_400)));
        }
        if (retentionGb != null) {
            dev.kiln.KilnArgumentException.check(retentionGb > 0, "--retention-gb must be > 0, got " + retentionGb);
            b.retentionMaxBytes((long) (retentionGb * (1L << 30)));
        }
        KilnServer server;
        try {
            server = KilnServer.start(b.build());
        } catch (UncheckedIOException | IllegalStateException e) {
            throw KilnException.io(e.getMessage(), e);
        }
        running = server;
        Runtime.getRuntime().addShutdownHook(new Thread(server::close, "kiln-serve-shutdown"));
        System.err.println("kiln: serving " + server.url() + " (" + server.config().workers() + " worker(s), "
                + server.gpuSlots() + " GPU slot(s), data "
                + data.toAbsolutePath() + ", API " + server.url() + "/openapi.json)");
        server.awaitStop();
        return 0;
    }
}
