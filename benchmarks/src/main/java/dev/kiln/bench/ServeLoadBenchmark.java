package dev.kiln.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.pipeline.OptimizeJob;
import dev.kiln.server.KilnServer;
import dev.kiln.server.ServerConfig;
import dev.kiln.server.Tokens;
import dev.kiln.tensorflow.ExampleModels;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.stream.Stream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * {@code kiln serve} under load on loopback: N submissions (default 50) of the real models in {@code ../shared/models}
 * (those a serial {@code kiln optimize} run converts; the others are named and skipped; Kiln's example models when
 * ../shared is absent), sent at once from one {@link HttpClient} bounded by a semaphore (default 16 in flight). Each
 * submission has its own seed (the seed picks the verification inputs only, not the model's bytes), so none is
 * answered from the cache or attached to another and every one is real work. Waits for all; checks that none was lost
 * and that every job's model.onnx has the SHA-256 of the model.onnx a serial run writes for that model; prints p50/p99
 * submit latency (request sent to 202 received) and jobs per minute (first submission to last job done).
 *
 * <pre>
 * java -cp "benchmarks/target/classes:$(cat benchmarks/target/classpath.txt)" dev.kiln.bench.ServeLoadBenchmark [JOBS] [IN_FLIGHT] [WORKERS] [SHARED_MODELS_DIR]
 * </pre>
 */
public final class ServeLoadBenchmark {
    private static final String TOKEN = "load-benchmark-token-0123";
    private static final ObjectMapper JSON = new ObjectMapper();

    private ServeLoadBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        int jobs = args.length > 0 ? Integer.parseInt(args[0]) : 50;
        int inFlight = args.length > 1 ? Integer.parseInt(args[1]) : 16;
        int workers = args.length > 2 ? Integer.parseInt(args[2]) : ServerConfig.defaultWorkers();
        Path shared = Path.of(args.length > 3 ? args[3] : "../shared/models");
        Path work = Files.createTempDirectory("kiln-serve-load");

        Map<String, Path> candidates = models(shared, work);
        Map<String, byte[]> archives = new LinkedHashMap<>();
        Map<String, String> serial = new LinkedHashMap<>();
        for (Map.Entry<String, Path> m : candidates.entrySet()) {
            Path out = work.resolve("serial").resolve(m.getKey());
            try {
                OptimizeJob.builder(m.getValue()).output(out).formats(EnumSet.of(OptimizeJob.Format.ONNX))
                        .log(s -> { }).build().run();
            } catch (RuntimeException e) {
                System.out.println("skipped " + m.getKey() + ": a serial optimize fails (" + e.getMessage() + ")");
                continue;
            }
            serial.put(m.getKey(), sha256(out.resolve("model.onnx")));
            archives.put(m.getKey(), zip(m.getValue()));
        }
        List<String> names = new ArrayList<>(serial.keySet());
        System.out.println("models: " + names);

        ServerConfig config = ServerConfig.builder(work.resolve("data"), Tokens.of(Map.of(TOKEN, "load")))
                .port(0).workers(workers).queueCapacity(jobs).build();
        HttpClient http = HttpClient.newHttpClient();
        try (KilnServer server = KilnServer.start(config)) {
            String base = server.url();
            Semaphore permits = new Semaphore(inFlight);
            double[] latencies = new double[jobs];
            List<CompletableFuture<String>> ids = new ArrayList<>();
            long start = System.nanoTime();
            for (int i = 0; i < jobs; i++) {
                int n = i;
                String options = "{\"formats\": [\"onnx\"], \"seed\": " + (1000 + i) + "}";
                permits.acquire();
                long t = System.nanoTime();
                ids.add(http.sendAsync(submission(base, archives.get(names.get(i % names.size())), options),
                        HttpResponse.BodyHandlers.ofString()).whenComplete((r, e) -> {
                            latencies[n] = (System.nanoTime() - t) / 1e6;
                            permits.release();
                        }).thenApply(r -> {
                            if (r.statusCode() != 202) {
                                throw new IllegalStateException("submission " + n + " refused: " + r.statusCode()
                                        + " " + r.body());
                            }
                            return id(r.body());
                        }));
            }
            int done = 0;
            for (int i = 0; i < jobs; i++) {
                String id = ids.get(i).get();
                String name = names.get(i % names.size());
                JsonNode j = await(http, base, id);
                if (!j.get("state").asText().equals("done")) {
                    throw new IllegalStateException("job " + id + " (" + name + ") ended " + j);
                }
                byte[] onnx = http.send(get(base + "/v1/jobs/" + id + "/artifacts/model.onnx"),
                        HttpResponse.BodyHandlers.ofByteArray()).body();
                if (!sha256(onnx).equals(serial.get(name))) {
                    throw new IllegalStateException("job " + id + " (" + name + "): model.onnx differs from the "
                            + "serial run's");
                }
                done++;
            }
            double minutes = (System.nanoTime() - start) / 60e9;
            Arrays.sort(latencies);
            System.out.printf(Locale.ROOT, "%d jobs (%d models), %d in flight, %d worker(s), %d cores: all done, none "
                            + "lost, every model.onnx's SHA-256 equal to the serial run's%n", done, names.size(),
                    inFlight, workers, Runtime.getRuntime().availableProcessors());
            System.out.printf(Locale.ROOT, "submit latency p50 %.1f ms, p99 %.1f ms; %.1f jobs/minute (%.1f s for "
                    + "all)%n", latencies[(latencies.length - 1) / 2],
                    latencies[(int) Math.ceil(latencies.length * 0.99) - 1], done / minutes, minutes * 60);
        }
    }

    /** The SavedModels of {@code shared} (a partial one excluded), or Kiln's example models when it is absent. */
    private static Map<String, Path> models(Path shared, Path work) throws IOException {
        Map<String, Path> m = new LinkedHashMap<>();
        if (Files.isDirectory(shared)) {
            try (Stream<Path> s = Files.list(shared)) {
                for (Path p : s.sorted().toList()) {
                    if (Files.isRegularFile(p.resolve("saved_model.pb")) && !p.getFileName().toString()
                            .startsWith("PARTIAL")) {
                        m.put(p.getFileName().toString(), p);
                    }
                }
            }
            return m;
        }
        System.out.println(shared + " is absent: Kiln's example models instead");
        ExampleModels.all().forEach((n, f) -> m.put(n, f.apply(work.resolve("models").resolve(n))));
        return m;
    }

    private static JsonNode await(HttpClient http, String base, String id) throws Exception {
        while (true) {
            JsonNode j = JSON.readTree(http.send(get(base + "/v1/jobs/" + id), HttpResponse.BodyHandlers.ofString())
                    .body());
            String s = j.get("state").asText();
            if (s.equals("done") || s.equals("failed") || s.equals("cancelled")) {
                return j;
            }
            Thread.sleep(250);
        }
    }

    private static String id(String body) {
        try {
            return JSON.readTree(body).get("id").asText();
        } catch (IOException e) {
            throw new IllegalStateException("not JSON: " + body, e);
        }
    }

    private static HttpRequest get(String url) {
        return HttpRequest.newBuilder(URI.create(url)).header("Authorization", "Bearer " + TOKEN).build();
    }

    private static HttpRequest submission(String base, byte[] zip, String options) {
        String boundary = "load-" + System.nanoTime();
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.writeBytes(("--" + boundary + "\r\nContent-Disposition: form-data; name=\"model\"; filename=\"m.zip\""
                + "\r\n\r\n").getBytes(StandardCharsets.UTF_8));
        body.writeBytes(zip);
        body.writeBytes(("\r\n--" + boundary + "\r\nContent-Disposition: form-data; name=\"options\"\r\n\r\n"
                + options + "\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.UTF_8));
        return HttpRequest.newBuilder(URI.create(base + "/v1/jobs"))
                .header("Authorization", "Bearer " + TOKEN)
                .header("Content-Type", "multipart/form-data; boundary=" + boundary)
                .POST(HttpRequest.BodyPublishers.ofByteArray(body.toByteArray())).build();
    }

    private static String sha256(Path file) throws IOException {
        try (InputStream in = Files.newInputStream(file)) {
            return sha256(in.readAllBytes());
        }
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] zip(Path model) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ZipOutputStream z = new ZipOutputStream(out); var files = Files.walk(model)) {
            for (Path p : files.filter(Files::isRegularFile).sorted().toList()) {
                z.putNextEntry(new ZipEntry(model.relativize(p).toString().replace('\\', '/')));
                z.write(Files.readAllBytes(p));
                z.closeEntry();
            }
        }
        return out.toByteArray();
    }
}
