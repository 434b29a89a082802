package dev.kiln.server;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.UUID;

/** A test client of the job API over real HTTP: multipart submissions, JSON answers, polling. */
final class ServerClient {
    static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    private final String base;

    ServerClient(String base) {
        this.base = base;
    }

    /** A form part: a file (filename non-null) or a field. */
    record Part(String filename, byte[] bytes) { }

    static Map<String, Part> model(String filename, byte[] archive, String options) {
        Map<String, Part> parts = new LinkedHashMap<>();
        parts.put("model", new Part(filename, archive));
        if (options != null) {
            parts.put("options", new Part(null, options.getBytes(StandardCharsets.UTF_8)));
        }
        return parts;
    }

    HttpResponse<String> submit(String token, Map<String, Part> parts) {
        String boundary = "kiln-test-" + UUID.randomUUID();
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        for (Map.Entry<String, Part> e : parts.entrySet()) {
            String disposition = "Content-Disposition: form-data; name=\"" + e.getKey() + "\""
                    + (e.getValue().filename() != null ? "; filename=\"" + e.getValue().filename() + "\"" : "");
            body.writeBytes(("--" + boundary + "\r\n" + disposition + "\r\nContent-Type: application/octet-stream"
                    + "\r\n\r\n").getBytes(StandardCharsets.UTF_8));
            body.writeBytes(e.getValue().bytes());
            body.writeBytes("\r\n".getBytes(StandardCharsets.UTF_8));
        }
        body.writeBytes(("--" + boundary + "--\r\n").getBytes(StandardCharsets.UTF_8));
        HttpRequest.Builder r = HttpRequest.newBuilder(URI.create(base + "/v1/jobs"))
                .header("Content-Type", "multipart/form-data; boundary=" + boundary)
                .POST(HttpRequest.BodyPublishers.ofByteArray(body.toByteArray()));
        if (token != null) {
            r.header("Authorization", "Bearer " + token);
        }
        return send(r.build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> get(String path, String token) {
        return send(request(path, token).GET().build(), HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<byte[]> getBytes(String path, String token) {
        return send(request(path, token).GET().build(), HttpResponse.BodyHandlers.ofByteArray());
    }

    HttpResponse<String> delete(String path, String token) {
        return send(request(path, token).DELETE().build(), HttpResponse.BodyHandlers.ofString());
    }

    private HttpRequest.Builder request(String path, String token) {
        HttpRequest.Builder r = HttpRequest.newBuilder(URI.create(base + path)).timeout(Duration.ofSeconds(60));
        if (token != null) {
            r.header("Authorization", "Bearer " + token);
        }
        return r;
    }

    /** Polls the job until it is done, failed or cancelled; fails after {@code seconds}. */
    JsonNode awaitFinished(String id, String token, int seconds) {
        long deadline = System.currentTimeMillis() + seconds * 1000L;
        while (System.currentTimeMillis() < deadline) {
            JsonNode j = json(get("/v1/jobs/" + id, token));
            String s = j.get("state").asText();
            if (s.equals("done") || s.equals("failed") || s.equals("cancelled")) {
                return j;
            }
            try {
                Thread.sleep(200);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        }
        throw new AssertionError("job " + id + " did not finish within " + seconds + " s: "
                + get("/v1/jobs/" + id, token).body());
    }

    static JsonNode json(HttpResponse<String> r) {
        try {
            return JSON.readTree(r.body());
        } catch (IOException e) {
            throw new AssertionError("not JSON (" + r.statusCode() + "): " + r.body(), e);
        }
    }

    private <T> HttpResponse<T> send(HttpRequest r, HttpResponse.BodyHandler<T> h) {
        try {
            return http.send(r, h);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }
}
