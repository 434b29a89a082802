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
    }
}
