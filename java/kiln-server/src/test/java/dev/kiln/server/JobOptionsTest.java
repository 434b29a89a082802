package dev.kiln.server;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Options JSON: the same run written differently has one canonical form (the cache key); bad input is named. */
class JobOptionsTest {
    @Test
    void sameRunSameCanonicalForm() {
        String a = JobOptions.parse(null).canonicalJson();
        String b = JobOptions.parse("{\"formats\": [\"onnx\", \"savedmodel\"], \"precisions\": [\"fp32\"], "
                + "\"opset\": 17, \"lowRank\": null}").canonicalJson();
        assertEquals(a, b);
        assertEquals(a, JobOptions.parse(a).canonicalJson(), "the stored form parses back to itself");
        assertNotEquals(a, JobOptions.parse("{\"seed\": 1}").canonicalJson());
        assertNotEquals(a, JobOptions.parse("{\"precisions\": [\"fp16\", \"fp32\"]}").canonicalJson());
        assertEquals(java.util.EnumSet.of(dev.kiln.pipeline.OptimizeJob.Format.TFLITE,
                dev.kiln.pipeline.OptimizeJob.Format.TENSORRT), JobOptions.parse("{\"formats\": [\"tensorrt\", "
                + "\"tflite\"]}").formats());
    }

    @Test
    void everyOptionFamilyParsesBackFromItsCanonicalForm() {
        JobOptions o = JobOptions.parse("{\"formats\": [\"onnx\", \"tensorrt\"], \"precisions\": [\"int8\", "
                + "\"fp16\"], \"calibMethod\": [\"entropy\", \"logits=minmax\"], \"calibBatch\": 8, "
                + "\"dataScale\": 0.00392, \"int8Targets\": [\"tensorrt\"], \"int8Weights\": \"full\", "
                + "\"weightMethod\": \"percentile:99.9\", \"keepFloat\": [\"Softmax\", \"conv1\"], "
                + "\"minCosine\": 0.99, \"prune\": \"2:4\", \"lowRank\": 0.9, \"tensorrt\": {\"workspace\": "
                + "\"1G\", \"builderOptimizationLevel\": 4, \"sparseWeights\": true, \"hardwareCompatibility\": "
                + "\"ampere+\", \"minShapes\": [\"x:1x4\"], \"optShapes\": [\"x:8x4\"], \"maxShapes\": "
                + "[\"x:16x4\"]}}");
        String canonical = o.canonicalJson();
        assertEquals(canonical, JobOptions.parse(canonical).canonicalJson());
        assertTrue(o.buildsEngines());
        assertEquals(1L << 30, o.engineOptions(1).workspaceBytes());
        assertEquals(1, o.engineOptions(1).device(), "the scheduler's GPU");
        assertEquals(4, o.engineOptions(-1).optimizationLevel());
        assertTrue(o.engineOptions(-1).sparseWeights());
        assertEquals(1, o.engineOptions(-1).profiles().size());
        assertEquals(java.util.Map.of("logits", dev.kiln.calib.ThresholdMethod.minmax()).keySet(),
                o.perTensorCalibMethods().keySet());
        assertEquals(dev.kiln.onnx.Int8WeightRange.FULL, o.int8WeightRange());
        assertNotEquals(canonical, JobOptions.parse(canonical.replace("\"2:4\"", "\"0.5\"")).canonicalJson());
    }

    @Test
    void theOpenApiDocumentNamesEveryOption() throws Exception {
        com.fasterxml.jackson.databind.JsonNode options;
        try (java.io.InputStream in = KilnServer.class.getResourceAsStream("openapi.json")) {
            options = new com.fasterxml.jackson.databind.ObjectMapper().readTree(in).at("/components/schemas/Options"
                    + "/properties");
        }
        java.util.Set<String> documented = new java.util.TreeSet<>();
        options.fieldNames().forEachRemaining(documented::add);
        assertEquals(new java.util.TreeSet<>(JobOptions.KEYS), documented);
        java.util.Set<String> trt = new java.util.TreeSet<>();
        options.at("/tensorrt/properties").fieldNames().forEachRemaining(trt::add);
        assertEquals(new java.util.TreeSet<>(JobOptions.TENSORRT_KEYS), trt);
    }

    @Test
    void badOptionsAreNamed() {
        ApiException e = assertThrows(ApiException.class, () -> JobOptions.parse("{\"lowrank\": 0.9}"));
        assertEquals(400, e.status());
        assertTrue(e.getMessage().contains("unknown option 'lowrank'"), e.getMessage());
        assertTrue(assertThrows(ApiException.class, () -> JobOptions.parse("{\"lowRank\": 1.5}")).getMessage()
                .contains("(0, 1]"));
        assertTrue(assertThrows(ApiException.class, () -> JobOptions.parse("[1, 2]")).getMessage()
                .contains("JSON object"));
        assertTrue(assertThrows(ApiException.class, () -> JobOptions.parse("{\"formats\": []}")).getMessage()
                .contains("non-empty array"));
        assertTrue(assertThrows(ApiException.class, () -> JobOptions.parse("{\"precisions\": [\"int8\"], "
                + "\"calibRandom\": true}").checkCalibration(true)).getMessage().contains("contradict"));
        String[][] bad = {
                {"{\"prune\": \"5:4\"}", "option 'prune'"},
                {"{\"prune\": \"3x4:0.5\"}", "option 'prune'"},
                {"{\"calibMethod\": \"median\"}", "option 'calibMethod'"},
                {"{\"weightMethod\": \"percentile:x\"}", "option 'weightMethod'"},
                {"{\"int8Targets\": [\"cuda\"]}", "unknown target 'cuda'"},
                {"{\"minCosine\": 0}", "option 'minCosine'"},
                {"{\"dataScale\": \"1/255\"}", "option 'dataScale'"},
                {"{\"tensorrt\": {\"timingCache\": \"/tmp/c\"}}", "unknown option 'tensorrt.timingCache'"},
                {"{\"tensorrt\": {\"builderOptimizationLevel\": 9}}", "builderOptimizationLevel"},
                {"{\"tensorrt\": {\"hardwareCompatibility\": \"volta\"}}", "option 'tensorrt'"},
                {"{\"tensorrt\": [1]}", "must be an object"},
                {"{\"formats\": [\"tensorrt\"], \"precisions\": [\"int8\"], \"int8Targets\": [\"onnxruntime\"]}",
                        "add \"tensorrt\" to 'int8Targets'"}};
        for (String[] b : bad) {
            ApiException x = assertThrows(ApiException.class, () -> JobOptions.parse(b[0]), b[0]);
            assertEquals(400, x.status());
            assertTrue(x.getMessage().contains(b[1]), b[0] + " -> " + x.getMessage());
        }
    }
}
