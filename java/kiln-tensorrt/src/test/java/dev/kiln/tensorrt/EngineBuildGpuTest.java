package dev.kiln.tensorrt;

import dev.kiln.KilnArgumentException;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import dev.kiln.onnx.OnnxRunner;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Engine builds and runs through TensorRT: these need libnvinfer, libnvonnxparser, the CUDA runtime, the NVIDIA
 * driver and a GPU, and are skipped with the probe's reason elsewhere. The first test runs everywhere: bad input
 * fails before TensorRT is needed.
 */
class EngineBuildGpuTest {
    @TempDir
    Path dir;

    private static void assumeTensorRt() {
        TensorRtProbe.Result r = TensorRtProbe.probe();
        assumeTrue(r.available(), "TensorRT engine tests skipped: " + r.reason());
    }

    @Test
    void badInputFailsBeforeTensorRtAndWritesNoEngine() throws Exception {
        Path onnx = TestOnnx.write(dir.resolve("model.onnx"), TestOnnx.Kind.FP32, 2);
        Path engine = dir.resolve("model.engine");
        String m = assertThrows(KilnArgumentException.class, () -> EngineBuilder.build(onnx, engine,
                EngineOptions.builder().precision(EnginePrecision.INT8).build(), onnx, s -> { })).getMessage();
        assertTrue(m.contains("QuantizeLinear"), m);
        assertFalse(Files.exists(engine));
    }

    @Test
    void buildsAnFp32EngineThatAgreesWithOnnxRuntime() throws Exception {
        assumeTensorRt();
        Path onnx = TestOnnx.write(dir.resolve("model.onnx"), TestOnnx.Kind.FP32, -1);
        Path engine = dir.resolve("model.engine");
        EngineOptions o = EngineOptions.builder()
                .profile(OptimizationProfile.parse("x:1x4", "x:4x4", "x:8x4"))
                .profile(OptimizationProfile.parse("x:16x4", "x:32x4", "x:64x4"))
                .timingCache(dir.resolve("timing.cache")).build();
        EngineBuilder.Result r = EngineBuilder.build(onnx, engine, o, onnx, System.out::println);
        assertTrue(Files.size(engine) > 0);
        assertTrue(Files.size(dir.resolve("timing.cache")) > 0);
        assertEquals(Sha256.of(engine), r.manifest().engine().sha256());
        Map<String, Tensor> small = Map.of("x", Tensor.ofFloats(Shape.of(3, 4), 1, 2, 3, 4, -1, 0, 1, 2, 5, 6, -7, 8));
        float[] big = new float[40 * 4];
        for (int i = 0; i < big.length; i++) {
            big[i] = (i % 13) - 6;
        }
        try (EngineRunner trt = EngineRunner.open(engine, System.out::println);
             OnnxRunner ort = OnnxRunner.open(onnx, 1)) {
            for (Map<String, Tensor> in : java.util.List.of(small, Map.of("x", Tensor.ofFloats(Shape.of(40, 4), big)))) {
                float[] want = ort.run(in).get("y").floats();
                float[] got = trt.run(in).get("y").floats();
                assertArrayEquals(want, got, 1e-4f);
            }
        }
    }

    @Test
    void buildsStronglyTypedFp16AndInt8Engines() throws Exception {
        assumeTensorRt();
        for (TestOnnx.Kind k : new TestOnnx.Kind[] {TestOnnx.Kind.FP16, TestOnnx.Kind.QDQ}) {
            Path onnx = TestOnnx.write(dir.resolve(k + ".onnx"), k, 8);
            Path engine = dir.resolve(k + ".engine");
            EnginePrecision p = k == TestOnnx.Kind.FP16 ? EnginePrecision.FP16 : EnginePrecision.INT8;
            EngineBuilder.build(onnx, engine, EngineOptions.builder().precision(p).build(), onnx, System.out::println);
            float[] x = new float[32];
            for (int i = 0; i < x.length; i++) {
                x[i] = (i % 7) * 0.25f - 0.75f;
            }
            // the FP16 model's input is float16 (ONNX Runtime takes it as such); the runner converts floats itself
            Map<String, Tensor> in = Map.of("x", k == TestOnnx.Kind.FP16
                    ? Tensor.ofShorts(dev.kiln.graph.DType.HALF, Shape.of(8, 4), dev.kiln.quant.Float16.fromFloats(x))
                    : Tensor.ofFloats(Shape.of(8, 4), x));
            try (EngineRunner trt = EngineRunner.open(engine, s -> { });
                 OnnxRunner ort = OnnxRunner.open(onnx, 1)) {
                assertArrayEquals(ort.run(in).get("y").asFloats(), trt.run(in).get("y").asFloats(), 2e-2f, k.name());
            }
        }
    }

    @Test
    void anOpTensorRtCannotParseIsNamed() throws Exception {
        assumeTensorRt();
        Path onnx = TestOnnx.write(dir.resolve("model.onnx"), TestOnnx.Kind.FP32, 2);
        // rename the Relu to an op no parser knows
        var m = dev.kiln.onnx.OnnxReader.read(onnx).toBuilder();
        m.getGraphBuilder().getNodeBuilder(1).setOpType("KilnNoSuchOp");
        Files.write(onnx, m.build().toByteArray());
        Path engine = dir.resolve("model.engine");
        String msg = assertThrows(dev.kiln.KilnException.class, () -> EngineBuilder.build(onnx, engine,
                EngineOptions.defaults(), onnx, s -> { })).getMessage();
        assertTrue(msg.contains("'relu'") && msg.contains("KilnNoSuchOp"), msg);
        assertFalse(Files.exists(engine));
    }
}
