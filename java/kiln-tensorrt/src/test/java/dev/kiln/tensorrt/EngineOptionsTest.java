package dev.kiln.tensorrt;

import dev.kiln.KilnArgumentException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EngineOptionsTest {
    @TempDir
    Path dir;

    private static String error(Runnable r) {
        return assertThrows(KilnArgumentException.class, r::run).getMessage();
    }

    @Test
    void profileWithMinAboveOptNamesInputAndDimension() {
        String m = error(() -> ShapeRange.of("x", new long[] {8, 4}, new long[] {2, 4}, new long[] {16, 4}));
        assertTrue(m.contains("'x'") && m.contains("min > opt") && m.contains("dimension 0"), m);
    }

    @Test
    void profileWithOptAboveMaxNamesInputAndDimension() {
        String m = error(() -> ShapeRange.of("x", new long[] {1, 4}, new long[] {1, 9}, new long[] {16, 4}));
        assertTrue(m.contains("'x'") && m.contains("opt > max") && m.contains("dimension 1"), m);
    }

    @Test
    void profileRanksMustAgreeAndDimensionsBeNonNegative() {
        assertTrue(error(() -> ShapeRange.of("x", new long[] {1}, new long[] {1, 4}, new long[] {1, 4}))
                .contains("same rank"));
        assertTrue(error(() -> ShapeRange.fixed("x", -1, 4)).contains(">= 0"));
    }

    @Test
    void parsesTrtexecShapeSpecsWithColonNamesAndQuotes() {
        OptimizationProfile p = OptimizationProfile.parse("x:0:1x4,'y:0':2", "x:0:8x4,'y:0':2", "x:0:16x4,'y:0':2");
        assertEquals(java.util.List.of("x:0", "y:0"), java.util.List.copyOf(p.ranges().keySet()));
        assertArrayEquals(new long[] {8, 4}, p.ranges().get("x:0").opt());
        assertArrayEquals(new long[] {2}, p.ranges().get("y:0").max());
        assertTrue(p.accepts(Map.of("x:0", new long[] {3, 4}, "y:0", new long[] {2})));
        assertFalse(p.accepts(Map.of("x:0", new long[] {17, 4}, "y:0", new long[] {2})));
    }

    @Test
    void profileSpecsMustNameTheSameInputs() {
        assertTrue(error(() -> OptimizationProfile.parse("x:1x4", "x:2x4,y:1", "x:4x4")).contains("same inputs"));
        assertTrue(error(() -> OptimizationProfile.parse("x:1x4,x:2x4", "x:2x4", "x:4x4")).contains("twice"));
        assertTrue(error(() -> OptimizationProfile.parse("x1x4", "x:2x4", "x:4x4")).contains("name:shape"));
        assertTrue(error(() -> OptimizationProfile.parse("x:1xa", "x:2x4", "x:4x4")).contains("not a shape"));
    }

    @Test
    void buildOptionsAreValidated() {
        assertTrue(error(() -> EngineOptions.builder().optimizationLevel(6).build()).contains("0 to 5"));
        assertTrue(error(() -> EngineOptions.builder().optimizationLevel(-1).build()).contains("0 to 5"));
        assertTrue(error(() -> EngineOptions.builder().device(-1).build()).contains("device"));
        assertTrue(error(() -> EngineOptions.builder().workspaceBytes(-5).build()).contains("workspace"));
        assertTrue(error(() -> EngineOptions.builder().precision(EnginePrecision.INT8)
                .calibrationCache(Path.of("c.cache")).build()).contains("only for int8-legacy"));
        assertDoesNotThrow(() -> EngineOptions.builder().optimizationLevel(5).device(1).build());
    }

    @Test
    void parsesSizesInTrtexecUnits() {
        assertEquals(1L << 30, EngineOptions.parseBytes("1G", "w"));
        assertEquals(512L << 20, EngineOptions.parseBytes("512M", "w"));
        assertEquals(512L << 20, EngineOptions.parseBytes("512", "w"));
        assertEquals(2048, EngineOptions.parseBytes("2K", "w"));
        assertEquals(100, EngineOptions.parseBytes("100B", "w"));
        assertTrue(error(() -> EngineOptions.parseBytes("lots", "--workspace")).contains("--workspace"));
    }

    @Test
    void parsesPrecisionsAndCompatibilityLevels() {
        assertEquals(EnginePrecision.INT8_LEGACY, EnginePrecision.parse("INT8_legacy"));
        assertTrue(error(() -> EnginePrecision.parse("int4")).contains("fp32, fp16, int8, int8-legacy"));
        assertEquals(HardwareCompatibility.AMPERE_PLUS, HardwareCompatibility.parse("ampere+"));
        assertEquals(HardwareCompatibility.SAME_COMPUTE_CAPABILITY, HardwareCompatibility.parse("same-compute-capability"));
        assertTrue(error(() -> HardwareCompatibility.parse("hopper")).contains("ampere+"));
    }

    @Test
    void int8NeedsQdqAndLegacyMustNotHaveIt() throws Exception {
        Path fp32 = TestOnnx.write(dir.resolve("fp32.onnx"), TestOnnx.Kind.FP32, 2);
        Path qdq = TestOnnx.write(dir.resolve("qdq.onnx"), TestOnnx.Kind.QDQ, 2);
        EngineOptions int8 = EngineOptions.builder().precision(EnginePrecision.INT8).build();
        String m = error(() -> int8.checkAgainst(OnnxModelInfo.read(fp32), fp32));
        assertTrue(m.contains("fp32.onnx") && m.contains("QuantizeLinear"), m);
        assertDoesNotThrow(() -> int8.checkAgainst(OnnxModelInfo.read(qdq), qdq));
        EngineOptions legacy = EngineOptions.builder().precision(EnginePrecision.INT8_LEGACY)
                .calibrationCache(Path.of("c.cache")).build();
        assertTrue(error(() -> legacy.checkAgainst(OnnxModelInfo.read(qdq), qdq)).contains("2 Q/DQ nodes"));
        assertDoesNotThrow(() -> legacy.checkAgainst(OnnxModelInfo.read(fp32), fp32));

    }

    @Test
    void fp16NeedsTheFp16Onnx() throws Exception {
        Path fp32 = TestOnnx.write(dir.resolve("fp32.onnx"), TestOnnx.Kind.FP32, 2);
        Path fp16 = TestOnnx.write(dir.resolve("fp16.onnx"), TestOnnx.Kind.FP16, 2);
        EngineOptions o = EngineOptions.builder().precision(EnginePrecision.FP16).build();
        assertTrue(error(() -> o.checkAgainst(OnnxModelInfo.read(fp32), fp32)).contains("no float16"));
        assertDoesNotThrow(() -> o.checkAgainst(OnnxModelInfo.read(fp16), fp16));
    }

    @Test
    void dynamicInputsNeedAProfileThatMatchesTheOnnx() throws Exception {
        Path dyn = TestOnnx.write(dir.resolve("dyn.onnx"), TestOnnx.Kind.FP32, -1);
        OnnxModelInfo info = OnnxModelInfo.read(dyn);
        assertTrue(info.input("x").isDynamic());
        assertEquals("?x4", info.input("x").shapeText());

        String none = error(() -> EngineOptions.defaults().checkAgainst(info, dyn));
        assertTrue(none.contains("dynamic inputs [x (?x4)]") && none.contains("--min-shapes"), none);

        EngineOptions unknown = EngineOptions.builder().profile(OptimizationProfile.parse("z:1x4", "z:2x4", "z:4x4"))
                .build();
        assertTrue(error(() -> unknown.checkAgainst(info, dyn)).contains("names input 'z'"));

        EngineOptions rank = EngineOptions.builder().profile(OptimizationProfile.parse("x:1", "x:2", "x:4")).build();
        String r = error(() -> rank.checkAgainst(info, dyn));
        assertTrue(r.contains("rank 2") && r.contains("rank 1"), r);

        EngineOptions fixedDim = EngineOptions.builder()
                .profile(OptimizationProfile.parse("x:1x4", "x:2x5", "x:4x8")).build();
        assertTrue(error(() -> fixedDim.checkAgainst(info, dyn)).contains("dimension 1 is fixed at 4"));

        EngineOptions two = EngineOptions.builder().profile(OptimizationProfile.parse("x:1x4", "x:1x4", "x:8x4"))
                .profile(OptimizationProfile.parse("x:16x4", "x:32x4", "x:64x4")).build();
        assertDoesNotThrow(() -> two.checkAgainst(info, dyn));
    }

    @Test
    void aFixedProfileIsAcceptedWhereItMatchesTheStaticDimensions() throws Exception {
        Path dyn = TestOnnx.write(dir.resolve("dyn.onnx"), TestOnnx.Kind.FP32, -1);
        Path fixed = TestOnnx.write(dir.resolve("fixed.onnx"), TestOnnx.Kind.FP32, 2);
        // a profile over a fixed input names it; a second profile about another input leaves x out
        EngineOptions o = EngineOptions.builder().profile(OptimizationProfile.parse("x:1x4", "x:2x4", "x:4x4"))
                .profile(OptimizationProfile.of(Map.of("x", ShapeRange.fixed("x", 2, 4)))).build();
        assertDoesNotThrow(() -> o.checkAgainst(OnnxModelInfo.read(dyn), dyn));
        assertTrue(error(() -> o.checkAgainst(OnnxModelInfo.read(fixed), fixed)).contains("fixed at 2"));
        assertDoesNotThrow(() -> EngineOptions.defaults().checkAgainst(OnnxModelInfo.read(fixed), fixed));
    }
}
