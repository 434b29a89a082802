package dev.kiln.calib;

import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;

/**
 * Float text that reads back exactly: the shortest decimal that parses to the same value (JDK 17's
 * Float.toString is not always the shortest, so the digits are searched), the raw bit pattern in hex, and
 * Python's {@code repr} of a double (what ONNX Runtime's Python writes).
 */
final class FloatText {
    private FloatText() {
    }

    /** The shortest decimal that {@link Float#parseFloat} reads back as {@code v}: plain for 1e-4..1e16, else E. */
    static String shortest(float v) {
        if (!Float.isFinite(v)) {
            throw new IllegalArgumentException("no decimal for " + v); // callers write only finite floats
        }
        if (v == 0f) {
            return Float.floatToRawIntBits(v) == 0 ? "0.0" : "-0.0";
        }
        BigDecimal exact = new BigDecimal(v);
        for (int digits = 1; digits <= 9; digits++) {
            BigDecimal d = exact.round(new MathContext(digits, RoundingMode.HALF_EVEN));
            if (Float.parseFloat(d.toString()) == v) {
                return format(d, false);
            }
        }
        throw new IllegalStateException("no float decimal for " + v); // 9 digits always suffice
    }

    /** Python's {@code repr(float(v))}: the shortest decimal of the double, Python's notation. */
    static String pythonRepr(double v) {
        if (v == 0) {
            return Double.doubleToRawLongBits(v) == 0 ? "0.0" : "-0.0";
        }
        if (Double.isNaN(v)) {
            return "NaN";
        }
        if (Double.isInfinite(v)) {
            return v > 0 ? "Infinity" : "-Infinity";
        }
        BigDecimal exact = new BigDecimal(v);
        for (int digits = 1; digits <= 17; digits++) {
            BigDecimal d = exact.round(new MathContext(digits, RoundingMode.HALF_EVEN));
            if (Double.parseDouble(d.toString()) == v) {
                return format(d, true);
            }
        }
        throw new IllegalStateException("no double decimal for " + v); // 17 digits always suffice
    }

    /** Plain notation for decimal exponents -4..15, else scientific (Python's repr rule; Java style unless python). */
    private static String format(BigDecimal d, boolean python) {
        d = d.stripTrailingZeros();
        int exp = d.precision() - d.scale() - 1; // d = x.yyy * 10^exp
        if (exp >= -4 && exp < 16) {
            String s = d.toPlainString();
            return s.contains(".") ? s : s + ".0";
        }
        String digits = d.unscaledValue().abs().toString();
        String mantissa = digits.length() == 1 ? digits : digits.charAt(0) + "." + digits.substring(1);
        String sign = d.signum() < 0 ? "-" : "";
        if (python) {
            return sign + mantissa + "e" + (exp < 0 ? "-" : "+") + (Math.abs(exp) < 10 ? "0" : "") + Math.abs(exp);
        }
        return sign + mantissa + "E" + exp;
    }

    /** The raw bit pattern as 8 lowercase hex digits. */
    static String bits(float v) {
        return String.format("%08x", Float.floatToRawIntBits(v));
    }

    /** Parses 1 to 8 hex digits as a float bit pattern; null if {@code s} is not that. */
    static Float fromBits(String s) {
        if (s == null || s.isEmpty() || s.length() > 8) {
            return null;
        }
        for (int i = 0; i < s.length(); i++) {
            if (Character.digit(s.charAt(i), 16) < 0) {
                return null;
            }
        }
        return Float.intBitsToFloat(Integer.parseUnsignedInt(s, 16));
    }
}
