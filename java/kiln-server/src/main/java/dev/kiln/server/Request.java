package dev.kiln.server;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.sun.net.httpserver.HttpExchange;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.LongConsumer;

/** One HTTP exchange as the handlers see it: path parameters, query, tenant, and JSON, text and file answers. */
final class Request {
    static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private final HttpExchange exchange;
    private final LongConsumer bytesOut;
    private Map<String, String> params = Map.of();
    private String tenant;

    Request(HttpExchange exchange, LongConsumer bytesOut) {
        this.exchange = exchange;
        this.bytesOut = bytesOut;
    }

    String method() {
        return exchange.getRequestMethod();
    }

    String path() {
        return exchange.getRequestURI().getPath();
    }

    String param(String name) {
        return params.get(name);
    }

    void params(Map<String, String> p) {
        this.params = p;
    }

    String header(String name) {
        return exchange.getRequestHeaders().getFirst(name);
    }

    InputStream body() {
        return exchange.getRequestBody();
    }

    /** The tenant that the bearer token authenticated, set by {@link Tokens}; null on open routes. */
    String tenant() {
        return tenant;
    }

    void tenant(String t) {
        this.tenant = t;
    }

    /** Query parameters (the last of repeated ones). */
    Map<String, String> query() {
        Map<String, String> q = new LinkedHashMap<>();
        String raw = exchange.getRequestURI().getRawQuery();
        if (raw == null || raw.isEmpty()) {
            return q;
        }
        for (String pair : raw.split("&")) {
            int eq = pair.indexOf('=');
            String k = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
            String v = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
            q.put(k, v);
        }
        return q;
    }

    void sendJson(int status, Object body) throws IOException {
        send(status, "application/json", JSON.writeValueAsBytes(body));
    }

    void sendError(int status, String message) throws IOException {
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("error", message);
        body.put("status", status);
        sendJson(status, body);
    }

    void send(int status, String contentType, byte[] bytes) throws IOException {
        exchange.getResponseHeaders().set("Content-Type", contentType);
        exchange.getResponseHeaders().set("X-Content-Type-Options", "nosniff");
        boolean head = method().equals("HEAD");
        exchange.sendResponseHeaders(status, head ? -1 : bytes.length == 0 ? -1 : bytes.length);
        if (!head && bytes.length > 0) {
            try (OutputStream out = exchange.getResponseBody()) {
                out.write(bytes);
            }
            bytesOut.accept(bytes.length);
        }
    }

    void sendFile(String contentType, Path file) throws IOException {
        long size = Files.size(file);
        exchange.getResponseHeaders().set("Content-Type", contentType);
        exchange.getResponseHeaders().set("X-Content-Type-Options", "nosniff");
        if (method().equals("HEAD")) {
            exchange.sendResponseHeaders(200, -1);
            return;
        }
        exchange.sendResponseHeaders(200, size == 0 ? -1 : size);
        if (size > 0) {
            try (OutputStream out = exchange.getResponseBody()) {
                Files.copy(file, out);
            }
            bytesOut.accept(size);
        }
    }

    void setHeader(String name, String value) {
        exchange.getResponseHeaders().set(name, value);
    }
}
