package dev.kiln.calib;

import org.junit.jupiter.api.Test;

import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class FloatTextTest {
    @Test
    void shortestReadsBackExactly() {
        SplittableRandom rnd = new SplittableRandom(42);
        for (int i = 0; i < 100_000; i++) {
            float v = Float.intBitsToFloat(rnd.nextInt());
            if (!Float.isFinite(v)) {
                continue;
            }
            String s = FloatText.shortest(v);
            assertEquals(Float.floatToRawIntBits(v), Float.floatToRawIntBits(Float.parseFloat(s)), s);
            assertTrue(new java.math.BigDecimal(s).stripTrailingZeros().precision() <= 9, s);
        }
        assertEquals("0.1", FloatText.shortest(0.1f));
        assertEquals("2.5", FloatText.shortest(2.5f));
        assertEquals("1E-5", FloatText.shortest(1e-5f));
        assertEquals("1E-45", FloatText.shortest(Float.MIN_VALUE));
        assertEquals("100.0", FloatText.shortest(100f));
    }

    @Test
    void pythonReprMatchesPython() {
        // values checked against CPython's repr
        assertEquals("0.10000000149011612", FloatText.pythonRepr(0.1f));
        assertEquals("1.5", FloatText.pythonRepr(1.5));
        assertEquals("3.0", FloatText.pythonRepr(3));
        assertEquals("1e-05", FloatText.pythonRepr(1e-5));
        assertEquals("0.0001", FloatText.pythonRepr(1e-4));
        assertEquals("1e+16", FloatText.pythonRepr(1e16));
        assertEquals("1234567890123456.0", FloatText.pythonRepr(1234567890123456.0));
        assertEquals("-2.5e-07", FloatText.pythonRepr(-2.5e-7));
        assertEquals("-0.0", FloatText.pythonRepr(-0.0));
        assertEquals("1.401298464324817e-45", FloatText.pythonRepr(Float.MIN_VALUE));
    }

    @Test
    void bitsAreHex() {
        assertEquals("3f800000", FloatText.bits(1f));
        assertEquals(1f, FloatText.fromBits("3F800000"));
        assertEquals(0f, FloatText.fromBits("0"));
        assertEquals(null, FloatText.fromBits("123456789"));
        assertEquals(null, FloatText.fromBits("-1"));
        assertEquals(null, FloatText.fromBits(""));
    }
}
