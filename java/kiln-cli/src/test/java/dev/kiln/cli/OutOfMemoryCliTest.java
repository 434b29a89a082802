package dev.kiln.cli;

import dev.kiln.ErrorCode;
import dev.kiln.tensorflow.ExampleModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A heap too small for the model: one clear line naming the heap and KILN_JAVA_OPTS, exit status 9. */
class OutOfMemoryCliTest {
    @TempDir
    Path tmp;

    @Test
    void exhaustingTheHeapIsAClearErrorSuggestingMoreMemory() throws Exception {
        Path model = ExampleModels.largeModel(tmp.resolve("large"), 48L << 20);
        Process p = new ProcessBuilder(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx48m", "-cp", System.getProperty("java.class.path"), Main.class.getName(), "optimize",
                model.toString(), "-o", tmp.resolve("out").toString()))
                .redirectOutput(ProcessBuilder.Redirect.DISCARD).start();
        String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(300, TimeUnit.SECONDS));
        assertEquals(ErrorCode.RESOURCE_LIMIT.exitStatus(), p.exitValue(), err);
        assertTrue(err.contains("kiln: error:") && err.contains("KILN_JAVA_OPTS=-Xmx"), err);
        assertFalse(err.contains("\tat "), "no stack trace: " + err);
    }
}
