package dev.kiln.data;

import dev.kiln.KilnArgumentException;
import dev.kiln.graph.Shape;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ShapeAdapterTest {
    private static final Shape MNIST = Shape.of(28, 28, 1);

    @Test
    void matchingShapeIsKept() {
        ShapeAdapter.Fit f = ShapeAdapter.fit("x", "d.npy", MNIST, Shape.of(-1, 28, 28, 1));
        assertEquals(MNIST, f.sampleShape());
        assertFalse(f.reshaped());
        assertNull(f.note());
        assertFalse(ShapeAdapter.fit("x", "d.npy", MNIST, Shape.of(-1, -1, -1, 1)).reshaped());
        assertFalse(ShapeAdapter.fit("x", "d.npy", MNIST, Shape.unknown()).reshaped());
    }

    @Test
    void flatteningIsAdaptedAndNoted() {
        ShapeAdapter.Fit f = ShapeAdapter.fit("x", "d.npy", MNIST, Shape.of(-1, 784));
        assertEquals(Shape.of(784), f.sampleShape());
        assertEquals("input 'x': data [28,28,1] reshaped to [784]", f.note());
        assertEquals(Shape.of(28, 28, 1), ShapeAdapter.fit("x", "d", Shape.of(784), Shape.of(-1, 28, 28, 1))
                .sampleShape());
    }

    @Test
    void sizeOneDimensionsAreAddedOrRemoved() {
        assertEquals(Shape.of(28, 28), ShapeAdapter.fit("x", "d", MNIST, Shape.of(-1, 28, 28)).sampleShape());
        assertEquals(Shape.of(1, 28, 28), ShapeAdapter.fit("x", "d", MNIST, Shape.of(-1, 1, 28, 28)).sampleShape());
        // unknown dimensions take the data's sizes
        ShapeAdapter.Fit f = ShapeAdapter.fit("x", "d", MNIST, Shape.of(-1, -1, -1));
        assertEquals(Shape.of(28, 28), f.sampleShape());
        assertTrue(f.reshaped());
        assertEquals(Shape.of(1, 28, 28), ShapeAdapter.fit("x", "d", MNIST, Shape.of(-1, 1, -1, -1)).sampleShape());
    }

    @Test
    void elementCountMismatchNamesInputFileAndShapes() {
        KilnArgumentException e = assertThrows(KilnArgumentException.class,
                () -> ShapeAdapter.fit("image", "imgs.npy", Shape.of(28, 28, 2), Shape.of(-1, 784)));
        assertEquals("input 'image': data imgs.npy has per-sample shape [28,28,2] (1568 elements), but the input"
                + " expects [784] (784 elements) (input shape [?,784]); only flattening and size-1 dimensions are"
                + " adapted", e.getMessage());
    }

    @Test
    void sameCountButReorderedLayoutIsRejected() {
        // NCHW data for an NHWC input: a reshape would scramble the pixels
        assertThrows(KilnArgumentException.class,
                () -> ShapeAdapter.fit("x", "d", Shape.of(3, 32, 32), Shape.of(-1, 32, 32, 3)));
        assertThrows(KilnArgumentException.class, () -> ShapeAdapter.fit("x", "d", Shape.of(3, 4), Shape.of(-1, 2, 6)));
        assertThrows(KilnArgumentException.class,
                () -> ShapeAdapter.fit("x", "d", Shape.of(28, 28, 3), Shape.of(-1, -1, -1, 1)));
        assertThrows(KilnArgumentException.class, () -> ShapeAdapter.fit("x", "d", MNIST, Shape.scalar()));
    }

    @Test
    void regroupsOnlyMergesConsecutiveRuns() {
        assertTrue(ShapeAdapter.regroups(new long[] {2, 3, 4}, new long[] {6, 4}));
        assertTrue(ShapeAdapter.regroups(new long[] {24}, new long[] {2, 3, 4}));
        assertTrue(ShapeAdapter.regroups(new long[] {2, 3, 4}, new long[] {2, 12, 1}));
        assertFalse(ShapeAdapter.regroups(new long[] {2, 3, 4}, new long[] {3, 8}));
        assertFalse(ShapeAdapter.regroups(new long[] {4, 6}, new long[] {6, 4}));
    }
}
