package dev.kiln.pipeline;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Reports are JSON for machines: numbers stay numbers, NaN and ±Infinity become null. */
class ReportsJsonTest {
    record Row(double top1, double sqnr, float f, Double boxed, double plain) { }

    @Test
    void nonFiniteNumbersAreNullAndFiniteOnesExact() throws Exception {
        String json = Reports.toJson(new Row(Double.NaN, Double.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, null,
                0.1));
        JsonNode n = new ObjectMapper().readTree(json);
        assertTrue(n.get("top1").isNull(), json);
        assertTrue(n.get("sqnr").isNull(), json);
        assertTrue(n.get("f").isNull(), json);
        assertTrue(n.get("boxed").isNull(), json);
        assertEquals(0.1, n.get("plain").asDouble(), 0.0, json);
        assertTrue(n.get("plain").isNumber(), json);
    }
}
