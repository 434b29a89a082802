package dev.kiln.tensorflow;

import dev.kiln.KilnArgumentException;
import dev.kiln.graph.Tensor;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The MNIST slice shipped in examples/mnist: packaged on the classpath, as the README says, read correctly. */
class ExampleDataTest {
    @Test
    void shippedFileMatchesTheSha256InTheReadmeAndIsTheClasspathCopy() throws IOException, NoSuchAlgorithmException {
        Path file = ExampleData.repositoryFile();
        Assumptions.assumeTrue(Files.isRegularFile(file), file + " is absent (kiln.repo.root unset?)");
        String readme = Files.readString(file.resolveSibling("README.md"));
        Matcher m = Pattern.compile("SHA-256.*?\\b([0-9a-f]{64})\\b").matcher(readme);
        assertTrue(m.find(), "README.md states the SHA-256");
        byte[] bytes = Files.readAllBytes(file);
        assertEquals(m.group(1), HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes)));
        try (InputStream in = ExampleData.class.getResourceAsStream(ExampleData.RESOURCE)) {
            assertTrue(in != null, "packaged as " + ExampleData.RESOURCE);
            assertArrayEquals(bytes, in.readAllBytes());
        }
        assertTrue(bytes.length < 2_000_000, bytes.length + " bytes");
    }

    @Test
    void imagesAndLabelsAreTheMnistTestSet() {
        // the first MNIST test digits are 7, 2, 1, 0, 4
        assertArrayEquals(new int[] {7, 2, 1, 0, 4}, ExampleData.labels(0, 5));
        Tensor t = ExampleData.images(5998, 2);
        assertArrayEquals(new long[] {2, 28, 28, 1}, t.shape().dims());
        float max = 0;
        for (float v : t.floats()) {
            assertTrue(v >= 0 && v <= 1);
            max = Math.max(max, v);
        }
        assertEquals(1f, max);
        int[] counts = new int[10];
        for (int l : ExampleData.labels(ExampleData.TRAIN)) {
            counts[l]++;
        }
        for (int c : counts) {
            assertTrue(c > 300, "every digit is in the training slice");
        }
        assertEquals(ExampleData.SIZE, ExampleData.EVALUATION.start() + ExampleData.EVALUATION.count());
    }

    @Test
    void outOfRangeIsAnArgumentError() {
        assertThrows(KilnArgumentException.class, () -> ExampleData.images(5999, 2));
        assertThrows(KilnArgumentException.class, () -> ExampleData.labels(-1, 1));
    }
}
