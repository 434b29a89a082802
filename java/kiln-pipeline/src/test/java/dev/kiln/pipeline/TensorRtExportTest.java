package dev.kiln.pipeline;

import dev.kiln.KilnArgumentException;
import dev.kiln.onnx.OnnxReader;
import dev.kiln.onnx.Precision;
import dev.kiln.tensorflow.ExampleData;
import dev.kiln.tensorflow.ExampleModels;
import dev.kiln.tensorrt.EngineManifest;
import dev.kiln.tensorrt.EngineOptions;
import dev.kiln.tensorrt.EnginePrecision;
import dev.kiln.tensorrt.OptimizationProfile;
import dev.kiln.tensorrt.TensorRtProbe;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.EnumSet;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * --format tensorrt on the trained example CNN: where TensorRT and a GPU are usable the engine is built and verified;
 * elsewhere (every machine so far) the ONNX, the calibration cache, the planned manifest and the trtexec script are
 * written, and the ONNX is verified instead. The assertions follow whichever case this machine is.
 */
class TensorRtExportTest {
    @TempDir
    static Path dir;
    static Path model;
    static final boolean GPU = TensorRtProbe.probe().available();

    @BeforeAll
    static void train() {
        model = ExampleModels.trainedMnistCnn(dir.resolve("mnist_cnn"));
    }

    private static EngineOptions profile() {
        return EngineOptions.builder().profile(OptimizationProfile.parse("image:1x28x28x1", "image:32x28x28x1",
                "image:64x28x28x1")).workspaceBytes(1L << 30).build();
    }

    @Test
    void int8ExportWritesTheOnnxTheCacheTheManifestAndTheScript() throws Exception {
        Path out = dir.resolve("int8");
        Path engine = out.resolve("model_int8.engine");
        ExportJob.Result r = ExportJob.builder(model, engine).format(ExportJob.Format.TENSORRT)
                .precision(Precision.INT8).calibrationData(ExampleData.data(ExampleData.CALIBRATION, "image", 100))
                .engineOptions(profile()).verify(true).build().run();
        Path onnx = out.resolve("model_int8.onnx");
        assertTrue(OnnxReader.summarize(onnx).count("QuantizeLinear") > 0, "Kiln's QDQ ONNX");
        assertTrue(Files.isRegularFile(out.resolve("model_int8_calibration_tensorrt.cache")));
        EngineManifest m = EngineManifest.read(EngineManifest.pathFor(engine));
        assertEquals("int8", m.options().precision());
        assertTrue(m.options().stronglyTyped());
        assertEquals(ModelFingerprint.of(model), m.sourceModel().sha256());
        assertEquals(GPU, r.tensorRt().built());
        assertEquals(GPU, Files.exists(engine));
        // Kiln's TensorRT-layout QDQ ONNX passes TensorRT's published support table node by node
        assertTrue(r.tensorRt().parserSupport().buildable(), r.tensorRt().parserSupport().problems().toString());
        assertTrue(r.tensorRt().parserSupport().nodes() > 10);
        if (!GPU) {
            assertEquals(EngineManifest.PLANNED, m.status());
            String script = Files.readString(out.resolve("build_model_int8.sh"));
            assertTrue(script.contains("--onnx=model_int8.onnx") && script.contains("--saveEngine=model_int8.engine")
                    && script.contains("--stronglyTyped") && script.contains("--minShapes=image:1x28x28x1")
                    && script.contains("--memPoolSize=workspace:1G"), script);
            assertTrue(r.tensorRt().summary().contains("no TensorRT engine built"), r.tensorRt().summary());
        }
        // verified on random inputs (the engine here, else the ONNX it is built from): INT8 differs from the float
        // original there, so only that every output was compared is asserted
        assertFalse(r.verification().isEmpty());
        assertTrue(r.verification().stream().allMatch(v -> Double.isFinite(v.maxAbsError())), r.verification()::toString);
    }

    @Test
    void legacyInt8WritesAFloatOnnxAndHandsTheCacheToTrtexec() throws Exception {
        Path out = dir.resolve("legacy");
        Path engine = out.resolve("model.engine");
        ExportJob.builder(model, engine).format(ExportJob.Format.TENSORRT).precision(Precision.INT8)
                .calibrationData(ExampleData.data(ExampleData.CALIBRATION, "image", 100))
                .engineOptions(profile().toBuilder().precision(EnginePrecision.INT8_LEGACY).build()).build().run();
        assertEquals(0, OnnxReader.summarize(out.resolve("model.onnx")).count("QuantizeLinear"));
        EngineManifest m = EngineManifest.read(EngineManifest.pathFor(engine));
        assertEquals("int8-legacy", m.options().precision());
        assertEquals(dev.kiln.tensorrt.Sha256.of(out.resolve("model_calibration_tensorrt.cache")),
                m.calibrationCache().sha256());
        if (!GPU) {
            String script = Files.readString(out.resolve("build_model.sh"));
            assertTrue(script.contains("--int8") && script.contains("--calib=model_calibration_tensorrt.cache"), script);
        }
    }

    @Test
    void aDynamicBatchWithoutProfileIsRefusedNamingTheInput() {
        Path engine = dir.resolve("noprofile").resolve("model.engine");
        String msg = assertThrows(KilnArgumentException.class, () -> ExportJob.builder(model, engine)
                .format(ExportJob.Format.TENSORRT).build().run()).getMessage();
        assertTrue(msg.contains("dynamic inputs [image (?x28x28x1)]") && msg.contains("--min-shapes"), msg);
        assertFalse(Files.exists(engine));
        assertFalse(Files.exists(EngineManifest.pathFor(engine)));
    }

    @Test
    void badCombinationsAreRefusedBeforeAnyWork() {
        Path engine = dir.resolve("bad.engine");
        assertTrue(assertThrows(KilnArgumentException.class, () -> ExportJob.builder(model, engine)
                .format(ExportJob.Format.TENSORRT).precision(Precision.INT8_WEIGHTS_ONLY).build())
                .getMessage().contains("int8-weights"));
        assertTrue(assertThrows(KilnArgumentException.class, () -> ExportJob.builder(model, engine)
                .format(ExportJob.Format.TENSORRT).precision(Precision.INT8).int8Target(
                        dev.kiln.onnx.Int8Target.ONNXRUNTIME).calibrationData(ExampleData.data(
                        ExampleData.CALIBRATION, "image", 100)).build())
                .getMessage().contains("--int8-target tensorrt"));
        assertTrue(assertThrows(KilnArgumentException.class, () -> ExportJob.builder(model, engine)
                .format(ExportJob.Format.TENSORRT).precision(Precision.INT8).build())
                .getMessage().contains("activation ranges"));
    }

    @Test
    void optimizeWithFormatTensorrtPlansOrBuildsAnEnginePerPrecision() throws Exception {
        Path out = dir.resolve("optimize");
        OptimizeReport r = OptimizeJob.builder(model).output(out).formats(EnumSet.of(OptimizeJob.Format.TENSORRT))
                .precisions(EnumSet.of(Precision.FP32, Precision.FP16, Precision.INT8))
                .calibrationData(ExampleData.data(ExampleData.CALIBRATION, "image", 100))
                .engineOptions(profile()).build().run();
        for (String f : new String[] {"model.onnx", "model_fp16.onnx", "model_int8_tensorrt.onnx",
                "model.engine.manifest.json", "model_fp16.engine.manifest.json", "model_int8.engine.manifest.json"}) {
            assertTrue(Files.isRegularFile(out.resolve(f)), f);
        }
        long engines = r.artifacts().stream().filter(a -> a.format().equals("tensorrt")).count();
        long notes = r.warnings().stream().filter(w -> w.contains("no TensorRT engine built")).count();
        if (GPU) {
            assertEquals(3, engines);
            assertTrue(r.allPassed(), "the engines agree with TensorFlow on the original");
        } else {
            assertEquals(0, engines);
            assertEquals(3, notes, r.warnings().toString());
            for (String s : new String[] {"build_model.sh", "build_model_fp16.sh", "build_model_int8.sh"}) {
                assertTrue(Files.isExecutable(out.resolve(s)), s);
            }
            assertEquals("fp16", EngineManifest.read(out.resolve("model_fp16.engine.manifest.json")).options()
                    .precision());
        }
    }
}
