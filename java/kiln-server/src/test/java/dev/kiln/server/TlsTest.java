package dev.kiln.server;

import dev.kiln.KilnArgumentException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * HTTPS with a certificate made here by the JDK's keytool: a client that trusts it gets answers (tokens and all),
 * a plain-HTTP request to the same port gets none, and a keystore that cannot be read is a clear error.
 */
class TlsTest {
    private static final String TOKEN = "heidi-token-0123456789";
    private static final char[] PASSWORD = "changeit-for-tests".toCharArray();

    @TempDir
    Path dir;

    @Test
    void servesHttpsWithTheGivenCertificate() throws Exception {
        Path keystore = dir.resolve("server.p12");
        Process keytool = new ProcessBuilder(List.of(Path.of(System.getProperty("java.home"), "bin", "keytool")
                .toString(), "-genkeypair", "-alias", "kiln", "-keyalg", "EC", "-groupname", "secp256r1",
                "-dname", "CN=127.0.0.1", "-ext", "SAN=ip:127.0.0.1", "-validity", "2", "-storetype", "PKCS12",
                "-keystore", keystore.toString(), "-storepass", new String(PASSWORD))).redirectErrorStream(true)
                .start();
        String out = new String(keytool.getInputStream().readAllBytes());
        assertEquals(0, keytool.waitFor(), out);

        try (KilnServer s = KilnServer.start(ServerConfig.builder(dir.resolve("data"),
                Tokens.of(Map.of(TOKEN, "heidi"))).port(0).workers(0).tls(keystore, PASSWORD).build())) {
            assertTrue(s.url().startsWith("https://127.0.0.1:"), s.url());
            KeyStore trust = KeyStore.getInstance("PKCS12");
            try (InputStream in = Files.newInputStream(keystore)) {
                trust.load(in, PASSWORD);
            }
            TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
            tmf.init(trust);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, tmf.getTrustManagers(), null);
            HttpClient https = HttpClient.newBuilder().sslContext(ctx).build();
            HttpResponse<String> r = https.send(HttpRequest.newBuilder(URI.create(s.url() + "/v1/jobs"))
                    .header("Authorization", "Bearer " + TOKEN).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, r.statusCode(), r.body());

            HttpClient plain = HttpClient.newHttpClient();
            assertThrows(java.io.IOException.class, () -> plain.send(HttpRequest.newBuilder(URI.create(
                    "http://127.0.0.1:" + s.port() + "/healthz")).timeout(java.time.Duration.ofSeconds(10)).build(),
                    HttpResponse.BodyHandlers.ofString()), "no plain HTTP on the TLS port");
        }

        Path junk = Files.writeString(dir.resolve("junk.p12"), "not a keystore");
        KilnArgumentException e = assertThrows(KilnArgumentException.class, () -> KilnServer.start(
                ServerConfig.builder(dir.resolve("data2"), Tokens.of(Map.of(TOKEN, "heidi"))).port(0).workers(0)
                        .tls(junk, PASSWORD).build()));
        assertTrue(e.getMessage().contains("cannot read the TLS keystore") && e.getMessage().contains("junk.p12"),
                e.getMessage());
    }
}
