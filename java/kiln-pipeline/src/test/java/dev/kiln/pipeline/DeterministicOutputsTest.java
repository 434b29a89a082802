package dev.kiln.pipeline;

import dev.kiln.data.RepresentativeData;
import dev.kiln.kernels.KernelBackends;
import dev.kiln.onnx.Precision;
import dev.kiln.tensorflow.ExampleModels;
import dev.kiln.tensorflow.TfImporter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The same model and options give byte-identical outputs (SavedModel files, FP32/FP16/INT8 ONNX, the fake-quantized
 * SavedModel, calibration tables and caches) across runs, kernel thread counts and kernel backends; report.json
 * lists each file's SHA-256, and the digests are those of the files on disk. The calibration batches are 64 samples,
 * so the first convolution's activations (2^20 values) go through the kernels' threaded path.
 */
class DeterministicOutputsTest {
    @TempDir
    static Path tmp;

    @Test
    void outputsAreByteIdenticalAcrossRunsThreadCountsAndBackends() throws Exception {
        Path model = ExampleModels.exampleCnn(tmp.resolve("cnn"));
        List<String[]> configs = new ArrayList<>();
        configs.add(new String[] {"java", "1"});
        configs.add(new String[] {"java", "3"});
        if (KernelBackends.availableNames().contains("cpu")) {
            configs.add(new String[] {"cpu", "2"});
        } else {
            System.out.println("DeterministicOutputsTest: the native cpu backend is unavailable here: java only");
        }
        List<OptimizeReport.OutputFile> first = null;
        String firstName = null;
        String oldBackend = System.getProperty(KernelBackends.PROPERTY);
        try {
            for (String[] c : configs) {
                System.setProperty(KernelBackends.PROPERTY, c[0]);
                KernelBackends.setThreads(Integer.parseInt(c[1]));
                String name = c[0] + "-" + c[1] + "threads";
                Path out = tmp.resolve(name);
                OptimizeReport r = run(model, out);
                assertEquals(c[0], r.environment().kernelBackend().split("[ (]")[0], "the backend asked for ran");
                assertTrue(r.files().size() >= 10, "SavedModels, ONNX, tables and caches: " + r.files());
                for (OptimizeReport.OutputFile f : r.files()) {
                    assertEquals(OutputDigests.sha256(out.resolve(f.path())), f.sha256(), f.path());
                }
                if (first == null) {
                    first = r.files();
                    firstName = name;
                } else {
                    assertEquals(first, r.files(), name + " wrote other bytes than " + firstName);
                }
            }
        } finally {
            KernelBackends.setThreads(0);
            if (oldBackend == null) {
                System.clearProperty(KernelBackends.PROPERTY);
            } else {
                System.setProperty(KernelBackends.PROPERTY, oldBackend);
            }
        }
        assertTrue(Reports.toJson(new Object() {
            public List<OptimizeReport.OutputFile> files = List.of(new OptimizeReport.OutputFile("a", 1, "00"));
        }).contains("\"sha256\" : \"00\""), "report.json carries the digests");
    }

    private static OptimizeReport run(Path model, Path out) {
        RepresentativeData calib = RepresentativeData.random(TfImporter.load(model).inputs(), 7, 128)
                .withBatchSize(64);
        return OptimizeJob.builder(model).output(out)
                .formats(EnumSet.of(OptimizeJob.Format.SAVEDMODEL, OptimizeJob.Format.ONNX))
                .precisions(EnumSet.of(Precision.FP32, Precision.FP16, Precision.INT8))
                .calibrationData(calib).build().run();
    }
}
