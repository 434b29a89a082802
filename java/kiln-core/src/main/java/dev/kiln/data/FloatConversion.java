package dev.kiln.data;

import dev.kiln.KilnArgumentException;
import dev.kiln.graph.DType;
import dev.kiln.graph.Tensor;
import dev.kiln.quant.Float16;

import java.nio.ByteBuffer;

/**
 * Converts data to float32 as {@code x * scale + offset}, computed in double and rounded once to float, so that
 * {@code scale(1.0 / 255)} gives exactly NumPy's {@code u8.astype(np.float32) / 255}. float16 goes through {@link
 * Float16}; float32 with the identity conversion is passed through untouched.
 */
public record FloatConversion(double scale, double offset) {
    private static final FloatConversion IDENTITY = new FloatConversion(1, 0);

    public FloatConversion {
        KilnArgumentException.check(Double.isFinite(scale) && Double.isFinite(offset),
                "scale and offset must be finite, got scale " + scale + ", offset " + offset);
    }

    /** x as it is. */
    public static FloatConversion identity() {
        return IDENTITY;
    }

    /** {@code x * scale + offset}. */
    public static FloatConversion of(double scale, double offset) {
        return new FloatConversion(scale, offset);
    }

    /** {@code x * scale}, e.g. {@code scale(1.0 / 255)} for 8-bit pixels. */
    public static FloatConversion scale(double scale) {
        return new FloatConversion(scale, 0);
    }

    /** Parses "0.5", "1/255" (a ratio, kept in double) for command-line options. */
    public static double parseNumber(String s) {
        try {
            int slash = s.indexOf('/');
            if (slash < 0) {
                return Double.parseDouble(s.trim());
            }
            return Double.parseDouble(s.substring(0, slash).trim()) / Double.parseDouble(s.substring(slash + 1).trim());
        } catch (NumberFormatException e) {
            throw new KilnArgumentException("'" + s + "' is not a number or a ratio such as 1/255");
        }
    }

    public boolean isIdentity() {
        return scale == 1 && offset == 0;
    }

    /** Whether this converts {@code dtype} (float and integer types of .npy files here). */
    public static boolean canConvert(DType dtype) {
        return switch (dtype) {
            case FLOAT, HALF, DOUBLE, UINT8, INT8, INT32, INT64 -> true;
            default -> false;
        };
    }

    /** {@code t} as float32 of the same shape. */
    public Tensor apply(Tensor t) {
        if (t.dtype() == DType.FLOAT && isIdentity()) {
            return t;
        }
        int n = Math.toIntExact(t.numElements());
        float[] out = new float[n];
        ByteBuffer b = t.bytes();
        switch (t.dtype()) {
            case FLOAT -> {
                for (int i = 0; i < n; i++) {
                    out[i] = (float) (b.getFloat(4 * i) * scale + offset);
                }
            }
            case HALF -> {
                short[] h = new short[n];
                b.asShortBuffer().get(h);
                float[] f = Float16.toFloats(h);
                for (int i = 0; i < n; i++) {
                    out[i] = isIdentity() ? f[i] : (float) (f[i] * scale + offset);
                }
            }
            case DOUBLE -> {
                for (int i = 0; i < n; i++) {
                    out[i] = (float) (b.getDouble(8 * i) * scale + offset);
                }
            }
            case UINT8 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = (float) ((b.get(i) & 0xFF) * scale + offset);
                }
            }
            case INT8 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = (float) (b.get(i) * scale + offset);
                }
            }
            case INT32 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = (float) (b.getInt(4 * i) * scale + offset);
                }
            }
            case INT64 -> {
                for (int i = 0; i < n; i++) {
                    out[i] = (float) (b.getLong(8 * i) * scale + offset);
                }
            }
            default -> throw new KilnArgumentException("cannot convert " + t.dtype().name().toLowerCase()
                    + " data to float32");
        }
        return Tensor.ofFloats(t.shape(), out);
    }

    @Override
    public String toString() {
        if (isIdentity()) {
            return "as is";
        }
        return "x * " + (float) scale + (offset == 0 ? "" : " + " + (float) offset);
    }
}
