package dev.kiln.tensorrt;

import dev.kiln.KilnArgumentException;
import dev.kiln.data.RepresentativeData;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CalibrationFeedTest {
    /** {@code nbBatches} batches of {@code perBatch} samples of 2 values; sample i holds (i, -i). */
    private static RepresentativeData data(int nbBatches, int perBatch) {
        List<Map<String, Tensor>> batches = new ArrayList<>();
        int s = 0;
        for (int b = 0; b < nbBatches; b++) {
            float[] x = new float[perBatch * 2];
            for (int i = 0; i < perBatch; i++, s++) {
                x[2 * i] = s;
                x[2 * i + 1] = -s;
            }
            batches.add(Map.of("x", Tensor.ofFloats(Shape.of(perBatch, 2), x)));
        }
        return RepresentativeData.of(batches, "test");
    }

    @Test
    void rebatchesAcrossTheDataBatchesInOrderAndDropsTheShortTail() {
        // 5 batches of 3 samples = 15 samples into batches of 4: 3 full batches, 3 samples dropped
        try (CalibrationFeed feed = new CalibrationFeed(data(5, 3), Map.of("x", new long[] {4, 2}))) {
            assertEquals(4, feed.batchSamples());
            for (int b = 0; b < 3; b++) {
                float[] x = feed.next().get("x");
                float[] expected = new float[8];
                for (int i = 0; i < 4; i++) {
                    expected[2 * i] = 4 * b + i;
                    expected[2 * i + 1] = -(4 * b + i);
                }
                assertArrayEquals(expected, x, "batch " + b);
            }
            assertNull(feed.next());
            assertEquals(3, feed.batchesFed());
            assertEquals(3, feed.samplesDropped());
        }
    }

    @Test
    void largerDataBatchesAreSplit() {
        try (CalibrationFeed feed = new CalibrationFeed(data(1, 10), Map.of("x", new long[] {5, 2}))) {
            assertEquals(0f, feed.next().get("x")[0]); // samples 0-4
            assertEquals(5f, feed.next().get("x")[0]); // samples 5-9
            assertNull(feed.next());
            assertEquals(0, feed.samplesDropped());
        }
    }

    @Test
    void wrongDataIsNamed() {
        try (CalibrationFeed feed = new CalibrationFeed(data(1, 3), Map.of("y", new long[] {1, 2}))) {
            assertTrue(assertThrows(KilnArgumentException.class, feed::next).getMessage()
                    .contains("no input 'y'"));
        }
        try (CalibrationFeed feed = new CalibrationFeed(data(1, 3), Map.of("x", new long[] {1, 3}))) {
            String m = assertThrows(KilnArgumentException.class, feed::next).getMessage();
            assertTrue(m.contains("samples of 2 values") && m.contains("needs 3"), m);
        }
        assertThrows(KilnArgumentException.class, () -> new CalibrationFeed(data(1, 1), Map.of("x", new long[] {0, 2})));
        assertThrows(KilnArgumentException.class, () -> new CalibrationFeed(data(1, 1), Map.of("x", new long[] {2, -1})));
    }
}
