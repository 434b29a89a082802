package dev.kiln.pipeline;

import dev.kiln.onnx.Precision;
import dev.kiln.tensorflow.ExampleModels;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Another writer (a second Kiln process with the same output path) replaces model.onnx after this job wrote it and
 * before it verified it: the job must not judge the other file as its own. It leaves that file out of verification
 * with a warning, passes on what it did write, and report.json keeps the SHA-256 of the bytes this job wrote.
 */
class ReplacedOutputTest {
    @TempDir
    Path tmp;

    @Test
    void aFileReplacedByAnotherWriterIsNotVerifiedAsThisJobs() throws Exception {
        Path model = ExampleModels.exampleCnn(tmp.resolve("cnn"));
        Path out = tmp.resolve("out");
        Path onnx = out.resolve("model.onnx");
        byte[] other = "bytes of another writer".getBytes(java.nio.charset.StandardCharsets.UTF_8);
        OptimizeReport r = OptimizeJob.builder(model).output(out)
                .formats(EnumSet.of(OptimizeJob.Format.SAVEDMODEL, OptimizeJob.Format.ONNX))
                .precisions(EnumSet.of(Precision.FP32)).samples(2)
                .log(line -> {
                    // the job lists its exports after digesting them and before verifying: replace one now
                    if (line.startsWith("export     onnx") && line.contains("model.onnx")) {
                        try {
                            Files.write(onnx, other);
                        } catch (IOException e) {
                            throw new UncheckedIOException(e);
                        }
                    }
                })
                .build().run();
        assertTrue(r.allPassed(), r.verifications().toString());
        assertTrue(r.verifications().stream().noneMatch(v -> v.artifact().endsWith("model.onnx")),
                r.verifications().toString());
        assertTrue(r.verifications().stream().anyMatch(v -> v.runtime().equals("tensorflow")
                && v.artifact().contains("saved_model")), "the SavedModel this job wrote is still verified: "
                + r.verifications());
        assertTrue(r.warnings().stream().anyMatch(w -> w.startsWith(onnx + " was replaced by another writer")),
                r.warnings().toString());
        OptimizeReport.OutputFile mine = r.files().stream().filter(f -> f.path().equals("model.onnx")).findFirst()
                .orElseThrow();
        assertNotEquals(OutputDigests.sha256(onnx), mine.sha256(), "the digest is of this job's bytes");
        assertTrue(mine.bytes() > other.length);
        assertEquals(other.length, Files.size(onnx));
    }
}
