package dev.kiln.server;

import dev.kiln.KilnArgumentException;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;

/**
 * TLS for the server from a PKCS#12 keystore (certificate chain and private key, as {@code openssl pkcs12 -export} or
 * {@code keytool -genkeypair -storetype PKCS12} write it). TLS 1.2 and 1.3 only, the JDK's default cipher suites.
 */
final class Tls {
    private Tls() {
    }

    /** The server's SSL context; a clear error naming the file when it cannot be read or holds no key. */
    static SSLContext context(Path keystore, char[] password) {
        try (InputStream in = Files.newInputStream(keystore)) {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(in, password);
            boolean hasKey = false;
            for (var aliases = ks.aliases(); aliases.hasMoreElements(); ) {
                hasKey |= ks.isKeyEntry(aliases.nextElement());
            }
            KilnArgumentException.check(hasKey, "the TLS keystore " + keystore + " holds no private key");
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, password);
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(kmf.getKeyManagers(), null, null);
            return ctx;
        } catch (IOException | GeneralSecurityException e) {
            throw new KilnArgumentException("cannot read the TLS keystore " + keystore + " (PKCS#12): "
                    + e.getMessage());
        }
    }
}
