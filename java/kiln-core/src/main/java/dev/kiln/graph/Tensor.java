package dev.kiln.graph;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A constant tensor value: weights, folded constants, attribute tensors. Immutable: the bytes are never written after
 * construction, so graphs and passes share one copy of every weight.
 *
 * <p>Fixed-size types hold their elements as little-endian bytes in C order. {@link DType#STRING} tensors hold a list
 * of byte strings instead.
 */
public final class Tensor {
    private final DType dtype;
    private final Shape shape;
    private final ByteBuffer data;        // fixed-size types; read-only, little-endian, position 0
    private final List<byte[]> strings;   // STRING only

    private Tensor(DType dtype, Shape shape, ByteBuffer data, List<byte[]> strings) {
        this.dtype = dtype;
        this.shape = shape;
        this.data = data;
        this.strings = strings;
    }

    /**
     * Wraps little-endian C-order bytes without copying; the caller gives up the buffer (must not write it again).
     */
    public static Tensor wrap(DType dtype, Shape shape, ByteBuffer bytes) {
        Objects.requireNonNull(dtype, "dtype");
        Objects.requireNonNull(shape, "shape");
        if (dtype.byteSize() < 0) {
            throw new IllegalArgumentException("dtype " + dtype + " has no fixed element size");
        }
        long expected = shape.numElements() * dtype.byteSize();
        if (bytes.remaining() != expected) {
            throw new IllegalArgumentException("tensor " + dtype + shape + " needs " + expected + " bytes, got "
                    + bytes.remaining());
        }
        ByteBuffer view = bytes.slice().order(ByteOrder.LITTLE_ENDIAN).asReadOnlyBuffer().order(ByteOrder.LITTLE_ENDIAN);
        return new Tensor(dtype, shape, view, null);
    }

    public static Tensor ofFloats(Shape shape, float... values) {
        ByteBuffer b = allocate(shape, DType.FLOAT, values.length);
        b.asFloatBuffer().put(values);
        return wrap(DType.FLOAT, shape, b);
    }

    public static Tensor ofInts(Shape shape, int... values) {
        ByteBuffer b = allocate(shape, DType.INT32, values.length);
        b.asIntBuffer().put(values);
        return wrap(DType.INT32, shape, b);
    }

    public static Tensor ofLongs(Shape shape, long... values) {
        ByteBuffer b = allocate(shape, DType.INT64, values.length);
        b.asLongBuffer().put(values);
        return wrap(DType.INT64, shape, b);
    }

    public static Tensor ofDoubles(Shape shape, double... values) {
        ByteBuffer b = allocate(shape, DType.DOUBLE, values.length);
        b.asDoubleBuffer().put(values);
        return wrap(DType.DOUBLE, shape, b);
    }

    public static Tensor ofBytes(DType dtype, Shape shape, byte... values) {
        if (dtype.byteSize() != 1) {
            throw new IllegalArgumentException("ofBytes needs a 1-byte dtype, got " + dtype);
        }
        ByteBuffer b = allocate(shape, dtype, values.length);
        b.put(values).flip();
        return wrap(dtype, shape, b);
    }

    public static Tensor ofShorts(DType dtype, Shape shape, short... values) {
        if (dtype.byteSize() != 2) {
            throw new IllegalArgumentException("ofShorts needs a 2-byte dtype, got " + dtype);
        }
        ByteBuffer b = allocate(shape, dtype, values.length);
        b.asShortBuffer().put(values);
        return wrap(dtype, shape, b);
    }

    public static Tensor ofStrings(Shape shape, List<byte[]> values) {
        if (shape.numElements() != values.size()) {
            throw new IllegalArgumentException("string tensor " + shape + " needs " + shape.numElements()
                    + " values, got " + values.size());
        }
        List<byte[]> copy = new ArrayList<>(values.size());
        for (byte[] v : values) {
            copy.add(v.clone());
        }
        return new Tensor(DType.STRING, shape, null, List.copyOf(copy));
    }

    public static Tensor scalar(float v) {
        return ofFloats(Shape.scalar(), v);
    }

    public static Tensor scalar(int v) {
        return ofInts(Shape.scalar(), v);
    }

    private static ByteBuffer allocate(Shape shape, DType dtype, int count) {
        if (shape.numElements() != count) {
            throw new IllegalArgumentException("tensor " + dtype + shape + " needs " + shape.numElements()
                    + " values, got " + count);
        }
        return ByteBuffer.allocate(Math.multiplyExact(count, dtype.byteSize())).order(ByteOrder.LITTLE_ENDIAN);
    }

    public DType dtype() {
        return dtype;
    }

    public Shape shape() {
        return shape;
    }

    public TensorType type() {
        return new TensorType(dtype, shape);
    }

    public long numElements() {
        return shape.numElements();
    }

    /** Size of the data in bytes (string tensors: the sum of their strings' lengths). */
    public long byteSize() {
        if (strings != null) {
            return strings.stream().mapToLong(s -> s.length).sum();
        }
        return data.capacity();
    }

    /** A read-only little-endian view of the bytes, position 0. */
    public ByteBuffer bytes() {
        requireFixed();
        return data.duplicate().order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * Copies the float32 values into {@code dst} (exactly {@link #numElements()} long) and returns it: for loops
     * that would otherwise allocate a large array per call (allocation and zeroing cost more than the copy).
     */
    public float[] floatsInto(float[] dst) {
        requireType(DType.FLOAT);
        dev.kiln.KilnArgumentException.check(dst != null && dst.length == numElements(), "floatsInto: destination has "
                + (dst == null ? "no" : dst.length) + " elements, the tensor " + numElements());
        bytes().asFloatBuffer().get(dst);
        return dst;
    }

    public float[] floats() {
        requireType(DType.FLOAT);
        float[] out = new float[(int) numElements()];
        bytes().asFloatBuffer().get(out);
        return out;
    }

    public double[] doubles() {
        requireType(DType.DOUBLE);
        double[] out = new double[(int) numElements()];
        bytes().asDoubleBuffer().get(out);
        return out;
    }

    public int[] ints() {
        requireType(DType.INT32);
        int[] out = new int[(int) numElements()];
        bytes().asIntBuffer().get(out);
        return out;
    }

    public long[] longs() {
        requireType(DType.INT64);
        long[] out = new long[(int) numElements()];
        bytes().asLongBuffer().get(out);
        return out;
    }

    /** Integer elements of any integer or bool dtype, widened to long. */
    public long[] asLongs() {
        int n = (int) numElements();
        long[] out = new long[n];
        ByteBuffer b = bytes();
        for (int i = 0; i < n; i++) {
            out[i] = switch (dtype) {
                case INT8, QINT8 -> b.get(i);
                case UINT8, QUINT8, BOOL -> b.get(i) & 0xFF;
                case INT16 -> b.getShort(2 * i);
                case UINT16 -> b.getShort(2 * i) & 0xFFFF;
                case INT32, QINT32 -> b.getInt(4 * i);
                case UINT32 -> b.getInt(4 * i) & 0xFFFFFFFFL;
                case INT64, UINT64 -> b.getLong(8 * i);
                default -> throw new IllegalStateException("tensor of " + dtype + " is not an integer tensor");
            };
        }
        return out;
    }

    /** Floating-point elements of FLOAT or DOUBLE (and integers), as double. */
    /**
     * Any numeric tensor as float32: float16 with the kernels' reference conversion (one definition, kiln.h),
     * bfloat16 by its bits, the others cast.
     */
    public float[] asFloats() {
        if (dtype == DType.FLOAT) {
            return floats();
        }
        if (dtype == DType.HALF || dtype == DType.BFLOAT16) {
            java.nio.ShortBuffer s = bytes().asShortBuffer();
            float[] out = new float[s.remaining()];
            for (int i = 0; i < out.length; i++) {
                short h = s.get(i);
                out[i] = dtype == DType.HALF ? dev.kiln.kernels.JavaKernels.fromHalf(h)
                        : Float.intBitsToFloat((h & 0xFFFF) << 16);
            }
            return out;
        }
        double[] d = asDoubles();
        float[] out = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            out[i] = (float) d[i];
        }
        return out;
    }

    public double[] asDoubles() {
        if (dtype == DType.HALF || dtype == DType.BFLOAT16) {
            float[] f = asFloats();
            double[] out = new double[f.length];
            for (int i = 0; i < f.length; i++) {
                out[i] = f[i];
            }
            return out;
        }
        if (dtype == DType.FLOAT) {
            float[] f = floats();
            double[] out = new double[f.length];
            for (int i = 0; i < f.length; i++) {
                out[i] = f[i];
            }
            return out;
        }
        if (dtype == DType.DOUBLE) {
            return doubles();
        }
        long[] l = asLongs();
        double[] out = new double[l.length];
        for (int i = 0; i < l.length; i++) {
            out[i] = l[i];
        }
        return out;
    }

    public List<byte[]> strings() {
        requireType(DType.STRING);
        return strings;
    }

    public String stringValue(int i) {
        return new String(strings().get(i), StandardCharsets.UTF_8);
    }

    /** The same bytes with another shape of the same element count (no copy). */
    public Tensor reshape(Shape newShape) {
        if (newShape.numElements() != numElements()) {
            throw new IllegalArgumentException("cannot reshape " + shape + " to " + newShape);
        }
        return strings != null ? new Tensor(dtype, newShape, null, strings) : new Tensor(dtype, newShape, data, null);
    }

    private void requireFixed() {
        if (data == null) {
            throw new IllegalStateException("tensor of " + dtype + " has no fixed-size data");
        }
    }

    private void requireType(DType t) {
        if (dtype != t) {
            throw new IllegalStateException("tensor is " + dtype + ", not " + t);
        }
    }

    @Override
    public String toString() {
        return "Tensor" + type();
    }
}
