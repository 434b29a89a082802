package dev.kiln.pipeline;

import dev.kiln.data.NpyWriter;
import dev.kiln.graph.DType;
import dev.kiln.tensorflow.ExampleData;
import dev.kiln.tensorflow.ExampleModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The README's Java example, compiled and run as written: the block between the {@code java-facade-example} markers
 * of README.md is a complete class; it runs on the trained example CNN and MNIST images written as a uint8 .npy.
 */
class ReadmeExampleTest {
    @TempDir
    Path dir;

    @Test
    void readmeJavaExampleCompilesAndRuns() throws Exception {
        Path readme = Path.of(System.getProperty("kiln.repo.root", "../.."), "README.md");
        assumeTrue(Files.isRegularFile(readme), "skipped: README.md not found at " + readme);
        String text = Files.readString(readme);
        int a = text.indexOf("<!-- java-facade-example:start -->");
        int b = text.indexOf("<!-- java-facade-example:end -->");
        assertTrue(a >= 0 && b > a, "README.md has the java-facade-example markers");
        String block = text.substring(a, b);
        String code = block.substring(block.indexOf("```java") + 7, block.lastIndexOf("```"));
        Path src = dir.resolve("src/QuickStart.java");
        Files.createDirectories(src.getParent());
        Files.writeString(src, code);

        JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
        assumeTrue(javac != null, "skipped: no Java compiler in this runtime (a JRE)");
        Path classes = dir.resolve("classes");
        Files.createDirectories(classes);
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int rc = javac.run(null, null, err, "-d", classes.toString(), "-cp", System.getProperty("java.class.path"),
                src.toString());
        assertEquals(0, rc, "the README example compiles: " + err.toString(StandardCharsets.UTF_8));

        Path model = ExampleModels.trainedMnistCnn(dir.resolve("mnist_cnn"));
        float[] px = ExampleData.images(0, ExampleData.SIZE).floats();
        byte[] u8 = new byte[px.length];
        for (int i = 0; i < px.length; i++) {
            u8[i] = (byte) Math.round(px[i] * 255);
        }
        Path images = dir.resolve("images_u8.npy");
        NpyWriter.write(images, DType.UINT8, u8, ExampleData.SIZE, 28, 28, 1);
        int[] l = ExampleData.labels(0, ExampleData.SIZE);
        byte[] lb = new byte[l.length];
        for (int i = 0; i < l.length; i++) {
            lb[i] = (byte) l[i];
        }
        Path labels = dir.resolve("labels_u8.npy");
        NpyWriter.write(labels, DType.UINT8, lb, ExampleData.SIZE);
        Path out = dir.resolve("out");

        PrintStream old = System.out;
        ByteArrayOutputStream printed = new ByteArrayOutputStream();
        try (URLClassLoader cl = new URLClassLoader(new URL[] {classes.toUri().toURL()}, getClass().getClassLoader())) {
            System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
            cl.loadClass("QuickStart").getMethod("main", String[].class).invoke(null,
                    (Object) new String[] {model.toString(), images.toString(), labels.toString(), out.toString()});
        } finally {
            System.setOut(old);
        }
        String s = printed.toString(StandardCharsets.UTF_8);
        System.out.println(s);
        for (String f : new String[] {"model_int8.onnx", "model_int8_tensorrt.onnx", "table.json",
                "calibration_tensorrt.cache", "saved_model_int8_fakequant/saved_model.pb"}) {
            assertTrue(Files.isRegularFile(out.resolve(f)), f);
        }
        assertTrue(s.contains("top-1"), s);
    }
}
