package dev.kiln.pipeline;

import dev.kiln.KilnException;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

/**
 * SHA-256 of a model's files (a frozen .pb, or every file of a SavedModel directory in path order, names included),
 * so that a calibration table or an artifact can say which model it belongs to.
 */
public final class ModelFingerprint {
    private ModelFingerprint() {
    }

    public static String of(Path model) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            List<Path> files;
            if (Files.isDirectory(model)) {
                try (Stream<Path> s = Files.walk(model)) {
                    files = s.filter(Files::isRegularFile).sorted().toList();
                }
            } else {
                files = List.of(model);
            }
            byte[] buf = new byte[1 << 16];
            for (Path f : files) {
                md.update(model.relativize(f).toString().getBytes(java.nio.charset.StandardCharsets.UTF_8));
                try (InputStream in = Files.newInputStream(f)) {
                    for (int n; (n = in.read(buf)) > 0; ) {
                        md.update(buf, 0, n);
                    }
                }
            }
            return "sha256:" + HexFormat.of().formatHex(md.digest());
        } catch (IOException e) {
            throw KilnException.io("cannot read " + model + " to fingerprint it: " + e.getMessage(), e);
        } catch (NoSuchAlgorithmException e) {
            throw KilnException.internal("SHA-256 is not available", e);
        }
    }
}
