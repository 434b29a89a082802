package dev.kiln.eval;

import dev.kiln.KilnException;
import dev.kiln.graph.DType;
import dev.kiln.graph.Shape;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.Tensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

/**
 * Deterministic random inputs for a model signature, for comparing two models on the same data.
 *
 * <p>Unknown dimensions become {@code batch} when they are the first dimension and 1 elsewhere; an input of unknown
 * rank becomes a vector of {@code batch} elements. Floating-point inputs are uniform in [-1, 1); integer inputs are
 * small non-negative values in [0, 4) (safe as indices for small tables); bool inputs are fair coin flips. The same
 * seed always gives the same tensors; each input draws from its own stream (seed mixed with its position) so adding
 * an input does not change the others.
 */
public final class RandomInputs {
    private RandomInputs() {
    }

    /** One tensor per signature input, keyed by its signature name. */
    public static Map<String, Tensor> forSignature(List<SignatureTensor> inputs, long seed, int batch) {
        return forSignature(inputs, seed, batch, 1);
    }

    /**
     * One tensor per signature input, with unknown dimensions other than the first of size {@code otherUnknown} (a
     * sequence length, for a model that takes any).
     */
    public static Map<String, Tensor> forSignature(List<SignatureTensor> inputs, long seed, int batch,
                                                   int otherUnknown) {
        if (batch < 1 || otherUnknown < 1) {
            throw new dev.kiln.KilnArgumentException("batch and sizes must be >= 1, got " + batch + " and "
                    + otherUnknown);
        }
        Map<String, Tensor> out = new LinkedHashMap<>();
        int k = 0;
        for (SignatureTensor in : inputs) {
            Shape shape = concreteShape(in.type().shape(), batch, otherUnknown);
            out.put(in.name(), random(in.name(), in.type().dtype(), shape, new SplittableRandom(seed * 1_000_003L + k)));
            k++;
        }
        return out;
    }

    /** {@code shape} with unknown dimensions replaced: the first by {@code batch}, others by 1; unknown rank: [batch]. */
    public static Shape concreteShape(Shape shape, int batch) {
        return concreteShape(shape, batch, 1);
    }

    /** {@code shape} with unknown dimensions replaced: the first by {@code batch}, others by {@code otherUnknown}. */
    public static Shape concreteShape(Shape shape, int batch, int otherUnknown) {
        if (!shape.hasRank()) {
            return Shape.of(batch);
        }
        long[] d = shape.dims();
        for (int i = 0; i < d.length; i++) {
            if (d[i] < 0) {
                d[i] = i == 0 ? batch : otherUnknown;
            }
        }
        return Shape.of(d);
    }

    /** A random tensor of the given type and shape. */
    public static Tensor random(String name, DType dtype, Shape shape, SplittableRandom rnd) {
        int n = Math.toIntExact(shape.numElements());
        switch (dtype) {
            case FLOAT -> {
                float[] v = new float[n];
                for (int i = 0; i < n; i++) {
                    v[i] = (float) (rnd.nextDouble() * 2 - 1);
                }
                return Tensor.ofFloats(shape, v);
            }
            case DOUBLE -> {
                double[] v = new double[n];
                for (int i = 0; i < n; i++) {
                    v[i] = rnd.nextDouble() * 2 - 1;
                }
                return Tensor.ofDoubles(shape, v);
            }
            case HALF, BFLOAT16 -> {
                short[] v = new short[n];
                for (int i = 0; i < n; i++) {
                    float f = (float) (rnd.nextDouble() * 2 - 1);
                    v[i] = dtype == DType.HALF ? toHalf(f) : (short) (Float.floatToIntBits(f) >>> 16);
                }
                return Tensor.ofShorts(dtype, shape, v);
            }
            case INT32 -> {
                int[] v = new int[n];
                for (int i = 0; i < n; i++) {
                    v[i] = rnd.nextInt(4);
                }
                return Tensor.ofInts(shape, v);
            }
            case INT64 -> {
                long[] v = new long[n];
                for (int i = 0; i < n; i++) {
                    v[i] = rnd.nextInt(4);
                }
                return Tensor.ofLongs(shape, v);
            }
            case INT8, UINT8, BOOL -> {
                byte[] v = new byte[n];
                for (int i = 0; i < n; i++) {
                    v[i] = (byte) rnd.nextInt(dtype == DType.BOOL ? 2 : 4);
                }
                return Tensor.ofBytes(dtype, shape, v);
            }
            case INT16, UINT16 -> {
                short[] v = new short[n];
                for (int i = 0; i < n; i++) {
                    v[i] = (short) rnd.nextInt(4);
                }
                return Tensor.ofShorts(dtype, shape, v);
            }
            default -> {
                if (dtype.byteSize() > 0) {
                    ByteBuffer b = ByteBuffer.allocate(n * dtype.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
                    return Tensor.wrap(dtype, shape, b);
                }
                throw KilnException.unsupported("cannot make random data for input '" + name + "' of type "
                        + dtype.name().toLowerCase() + " (string, resource and variant inputs need real data)");
            }
        }
    }

    /** float to IEEE half (round to nearest even; values here are in [-1, 1], no overflow). */
    static short toHalf(float f) {
        int bits = Float.floatToIntBits(f);
        int sign = (bits >>> 16) & 0x8000;
        int exp = ((bits >>> 23) & 0xFF) - 127 + 15;
        int mant = bits & 0x7FFFFF;
        if (exp <= 0) {
            if (exp < -10) {
                return (short) sign;
            }
            mant |= 0x800000;
            int shift = 14 - exp;
            int half = mant >> shift;
            int rem = mant & ((1 << shift) - 1);
            int mid = 1 << (shift - 1);
            if (rem > mid || (rem == mid && (half & 1) != 0)) {
                half++;
            }
            return (short) (sign | half);
        }
        if (exp >= 31) {
            return (short) (sign | 0x7C00);
        }
        int h = sign | (exp << 10) | (mant >> 13);
        int rem = mant & 0x1FFF;
        if (rem > 0x1000 || (rem == 0x1000 && (h & 1) != 0)) {
            h++;
        }
        return (short) h;
    }
}
