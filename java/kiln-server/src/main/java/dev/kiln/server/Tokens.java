package dev.kiln.server;

import dev.kiln.KilnArgumentException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

/**
 * Bearer tokens and the tenant each belongs to, given as {@code token tenant} lines (a file, or the
 * {@code KILN_SERVE_TOKENS} environment variable with lines or {@code ;}-separated pairs; {@code #} starts a comment).
 * Only the SHA-256 of each token is kept, so a memory or database dump does not give the tokens away.
 */
public final class Tokens {
    /** The environment variable read when no tokens file is given. */
    public static final String ENV = "KILN_SERVE_TOKENS";

    private final Map<String, String> tenantByHash;

    private Tokens(Map<String, String> tenantByHash) {
        this.tenantByHash = Map.copyOf(tenantByHash);
    }

    /** Tokens from {@code token tenant} lines; {@code source} names where they came from in errors. */
    public static Tokens parse(String text, String source) {
        Map<String, String> m = new HashMap<>();
        int lineNo = 0;
        for (String line : text.split("\\r?\\n|;")) {
            lineNo++;
            String l = line.strip();
            if (l.isEmpty() || l.startsWith("#")) {
                continue;
            }
            String[] p = l.split("\\s+");
            KilnArgumentException.check(p.length == 2, source + ": entry " + lineNo + " must be 'token tenant', got "
                    + p.length + " field(s)");
            KilnArgumentException.check(p[0].length() >= 16, source + ": entry " + lineNo + ": the token of tenant '"
                    + p[1] + "' is shorter than 16 characters");
            String previous = m.put(sha256(p[0]), p[1]);
            KilnArgumentException.check(previous == null, source + ": entry " + lineNo + ": a token is given twice");
        }
        KilnArgumentException.check(!m.isEmpty(), source + " holds no 'token tenant' entry: the server would refuse "
                + "every request");
        return new Tokens(m);
    }

    /** Tokens from a file of {@code token tenant} lines. */
    public static Tokens fromFile(Path file) {
        try {
            return parse(Files.readString(file, StandardCharsets.UTF_8), file.toString());
        } catch (IOException e) {
            throw new KilnArgumentException("cannot read the tokens file " + file + ": " + e.getMessage());
        }
    }

    /** Tokens from {@link #ENV}; an error when it is not set. */
    public static Tokens fromEnvironment() {
        String v = System.getenv(ENV);
        KilnArgumentException.check(v != null && !v.isBlank(), "no tokens: give --tokens FILE or set " + ENV);
        return parse(v, ENV);
    }

    /** Tokens for tests and embedding: token → tenant. */
    public static Tokens of(Map<String, String> tenantByToken) {
        StringBuilder sb = new StringBuilder();
        tenantByToken.forEach((t, tenant) -> sb.append(t).append(' ').append(tenant).append('\n'));
        return parse(sb.toString(), "tokens");
    }

    /** The tenant of the request's bearer token: 401 without one or with an unknown one. */
    String authenticate(String authorization) {
        if (authorization == null || authorization.isBlank()) {
            throw new ApiException(401, "missing 'Authorization: Bearer <token>' header", "WWW-Authenticate",
                    "Bearer");
        }
        List<String> p = List.of(authorization.strip().split("\\s+", 2));
        if (p.size() != 2 || !p.get(0).equalsIgnoreCase("Bearer")) {
            throw new ApiException(401, "the Authorization header must be 'Bearer <token>'", "WWW-Authenticate",
                    "Bearer");
        }
        String tenant = tenantByHash.get(sha256(p.get(1).strip()));
        if (tenant == null) {
            throw new ApiException(401, "unknown bearer token", "WWW-Authenticate", "Bearer error=\"invalid_token\"");
        }
        return tenant;
    }

    int size() {
        return tenantByHash.size();
    }

    static String sha256(String s) {
        return sha256(s.getBytes(StandardCharsets.UTF_8));
    }

    static String sha256(byte[] bytes) {
        return HexFormat.of().formatHex(digest().digest(bytes));
    }

    static MessageDigest digest() {
        try {
            return MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }
}
