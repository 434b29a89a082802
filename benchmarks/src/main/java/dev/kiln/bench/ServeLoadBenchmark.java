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
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Function;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/**
 * {@code kiln serve} under load on loopback: N submissions (default 50) of the example models from a bounded client
 * (default 8 threads), each with its own seed so that none is answered from the cache; waits for all; checks that
 * none was lost and that every job's model.onnx is byte for byte the one a serial {@link OptimizeJob} writes for
 * that model; prints p50/p99 submit latency and jobs per minute.
 *
 * <pre>
 * java -cp "benchmarks/target/classes:$(cat benchmarks/target/classpath.txt)" dev.kiln.bench.ServeLoadBenchmark [JOBS] [CLIENTS] [WORKERS]
 * </pre>
 */
public final class ServeLoadBenchmark {
    private static final String TOKEN = "load-benchmark-token-0123";
    private static final ObjectMapper JSON = new ObjectMapper();

    private ServeLoadBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        int jobs = args.length > 0 ? Integer.parseInt(args[0]) : 50;
        int clients = args.length > 1 ? Integer.parseInt(args[1]) : 8;
        int workers = args.length > 2 ? Integer.parseInt(args[2]) : ServerConfig.defaultWorkers();
        Path work = Files.createTempDirectory("kiln-serve-load");
        Map<String, Function<Path, Path>> all = ExampleModels.all();
        List<String> names = new ArrayList<>(all.keySet());
        Map<String, byte[]> archives = new LinkedHashMap<>();
        Map<String, byte[]> serial = new LinkedHashMap<>();
        for (String n : names) {
            Path model = all.get(n).apply(work.resolve("models").resolve(n));
            archives.put(n, zip(model));
            Path out = work.resolve("serial").resolve(n);
            OptimizeJob.builder(model).output(out).formats(EnumSet.of(OptimizeJob.Format.ONNX)).build().run();
            serial.put(n, Files.readAllBytes(out.resolve("model.onnx")));
        }
        ServerConfig config = ServerConfig.builder(work.resolve("data"), Tokens.of(Map.of(TOKEN, "load")))
                .port(0).workers(workers).queueCapacity(jobs).build();
        HttpClient http = HttpClient.newHttpClient();
        try (KilnServer server = KilnServer.start(config)) {
            String base = server.url();
            ExecutorService pool = Executors.newFixedThreadPool(clients);
            long start = System.nanoTime();
            List<Future<String[]>> submitted = new ArrayList<>();
            for (int i = 0; i < jobs; i++) {
                String name = names.get(i % names.size());
                String options = "{\"formats\": [\"onnx\"], \"seed\": " + (1000 + i) + "}";
                submitted.add(pool.submit(() -> {
                    long t = System.nanoTime();
                    HttpResponse<String> r = submit(http, base, archives.get(name), options);
                    double ms = (System.nanoTime() - t) / 1e6;
                    if (r.statusCode() != 202) {
                        throw new IllegalStateException("submission refused: " + r.statusCode() + " " + r.body());
                    }
                    return new String[] {JSON.readTree(r.body()).get("id").asText(), name, Double.toString(ms)};
                }));
            }
            double[] latencies = new double[jobs];
            List<String[]> ids = new ArrayList<>();
            for (int i = 0; i < jobs; i++) {
                String[] r = submitted.get(i).get();
                ids.add(r);
                latencies[i] = Double.parseDouble(r[2]);
            }
            pool.shutdown();
            int done = 0;
            for (String[] r : ids) {
                JsonNode j = await(http, base, r[0]);
                if (!j.get("state").asText().equals("done")) {
                    throw new IllegalStateException("job " + r[0] + " (" + r[1] + ") ended " + j);
                }
                byte[] onnx = http.send(get(base + "/v1/jobs/" + r[0] + "/artifacts/model.onnx"),
                        HttpResponse.BodyHandlers.ofByteArray()).body();
                if (!Arrays.equals(onnx, serial.get(r[1]))) {
                    throw new IllegalStateException("job " + r[0] + " (" + r[1] + "): model.onnx differs from the "
                            + "serial run's");
                }
                done++;
            }
            double minutes = (System.nanoTime() - start) / 60e9;
            Arrays.sort(latencies);
            System.out.printf(Locale.ROOT, "%d jobs (%d models), %d clients, %d worker(s), %d cores: all done, none "
                            + "lost, every model.onnx equal to the serial run's%n", done, names.size(), clients, workers,
                    Runtime.getRuntime().availableProcessors());
            System.out.printf(Locale.ROOT, "submit latency p50 %.1f ms, p99 %.1f ms; %.1f jobs/minute (%.1f s for "
                    + "all)%n", latencies[latencies.length / 2], latencies[(int) Math.ceil(latencies.length * 0.99) - 1],
                    done / minutes, minutes * 60);
        }
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

    private static HttpRequest get(String url) {
        return HttpRequest.newBuilder(URI.create(url)).header("Authorization", "Bearer " + TOKEN).build();
    }

    private static HttpResponse<String> submit(HttpClient http, String base, byte[] zip, String options)
            throws IOException, InterruptedException {
        String boundary = "load-" + System.nanoTime();
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        body.writeBytes(("--" + boundary + "\r\nContent-Disposition: form-data; name=\"model\"; filename=\"m.zip\""
                + "\r\n\r\n").getBytes(StandardCharsets.UTF_8));
        body.writeBytes(zip);
        body.writeBytes(("\r\n--" + boundary + "\r\nContent-Disposition: form-data; name=\"options\"\r\n\r\n"
                + options + "\r\n--" + boundary + "--\r\n").getBytes(StandardCharsets.UTF_8));
        return http.send(HttpRequest.newBuilder(URI.create(base + "/v1/jobs"))
                .header("Authorization", "Bearer " + TOKEN)
                .header("Content-Type", "multipart/form-data; boundary=" + boundary)
                .POST(HttpRequest.BodyPublishers.ofByteArray(body.toByteArray())).build(),
                HttpResponse.BodyHandlers.ofString());
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
