package dev.kiln.onnx;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import dev.kiln.KilnException;
import dev.kiln.Limits;
import dev.kiln.graph.DType;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import dev.kiln.kernels.JavaKernels;
import dev.kiln.onnx.proto.Onnx.TensorProto;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/** Conversions between Kiln tensors and ONNX TensorProtos, ONNX element types, and IEEE float16. */
public final class OnnxTensors {
    private OnnxTensors() {
    }

    /** The ONNX TensorProto.DataType for a Kiln dtype; throws for types ONNX cannot hold. */
    public static int onnxType(DType t) {
        return switch (t) {
            case FLOAT -> TensorProto.DataType.FLOAT_VALUE;
            case DOUBLE -> TensorProto.DataType.DOUBLE_VALUE;
            case HALF -> TensorProto.DataType.FLOAT16_VALUE;
            case BFLOAT16 -> TensorProto.DataType.BFLOAT16_VALUE;
            case INT8, QINT8 -> TensorProto.DataType.INT8_VALUE;
            case UINT8, QUINT8 -> TensorProto.DataType.UINT8_VALUE;
            case INT16 -> TensorProto.DataType.INT16_VALUE;
            case UINT16 -> TensorProto.DataType.UINT16_VALUE;
            case INT32, QINT32 -> TensorProto.DataType.INT32_VALUE;
            case UINT32 -> TensorProto.DataType.UINT32_VALUE;
            case INT64 -> TensorProto.DataType.INT64_VALUE;
            case UINT64 -> TensorProto.DataType.UINT64_VALUE;
            case BOOL -> TensorProto.DataType.BOOL_VALUE;
            case STRING -> TensorProto.DataType.STRING_VALUE;
            default -> throw KilnException.unsupported("dtype " + t + " has no ONNX equivalent");
        };
    }

    /** The Kiln dtype for an ONNX TensorProto.DataType. */
    public static DType kilnType(int onnxType) {
        return switch (onnxType) {
            case TensorProto.DataType.FLOAT_VALUE -> DType.FLOAT;
            case TensorProto.DataType.DOUBLE_VALUE -> DType.DOUBLE;
            case TensorProto.DataType.FLOAT16_VALUE -> DType.HALF;
            case TensorProto.DataType.BFLOAT16_VALUE -> DType.BFLOAT16;
            case TensorProto.DataType.INT8_VALUE -> DType.INT8;
            case TensorProto.DataType.UINT8_VALUE -> DType.UINT8;
            case TensorProto.DataType.INT16_VALUE -> DType.INT16;
            case TensorProto.DataType.UINT16_VALUE -> DType.UINT16;
            case TensorProto.DataType.INT32_VALUE -> DType.INT32;
            case TensorProto.DataType.UINT32_VALUE -> DType.UINT32;
            case TensorProto.DataType.INT64_VALUE -> DType.INT64;
            case TensorProto.DataType.UINT64_VALUE -> DType.UINT64;
            case TensorProto.DataType.BOOL_VALUE -> DType.BOOL;
            case TensorProto.DataType.STRING_VALUE -> DType.STRING;
            default -> throw KilnException.unsupported("ONNX element type " + onnxType + " is not supported by Kiln");
        };
    }

    public static String typeName(int onnxType) {
        TensorProto.DataType t = TensorProto.DataType.forNumber(onnxType);
        return t == null ? "type" + onnxType : t.name().toLowerCase();
    }

    /** A TensorProto holding {@code t} as raw little-endian data (strings as string_data). */
    public static TensorProto toProto(String name, Tensor t) {
        TensorProto.Builder b = TensorProto.newBuilder().setName(name).setDataType(onnxType(t.dtype()));
        for (long d : t.shape().dims()) {
            b.addDims(d);
        }
        if (t.dtype() == DType.STRING) {
            for (byte[] s : t.strings()) {
                b.addStringData(ByteString.copyFrom(s));
            }
        } else {
            // no copy: a Tensor's bytes are never written after construction
            b.setRawData(UnsafeByteOperations.unsafeWrap(t.bytes()));
        }
        return b.build();
    }

    /**
     * The Kiln tensor held by a TensorProto, from raw_data or the typed repeated fields. Throws naming the tensor when
     * it holds no data (stripped weights as in a "weightless" model, or external data that {@link OnnxReader#read}
     * did not resolve). raw_data is wrapped, not copied: a tensor of external data stays a view of its mapped file.
     */
    public static Tensor fromProto(TensorProto p) {
        DType dt = kilnType(p.getDataType());
        long[] dims = new long[p.getDimsCount()];
        for (int i = 0; i < dims.length; i++) {
            dims[i] = p.getDims(i);
            if (dims[i] < 0) {
                throw KilnException.invalidModel("tensor '" + p.getName() + "': negative dimension " + dims[i]
                        + " in dims " + java.util.Arrays.toString(dims));
            }
        }
        Shape shape = Shape.of(dims);
        String what = "tensor '" + p.getName() + "'";
        // the declared size is checked before anything is allocated for it (dims may declare [2^40])
        long n = Limits.tensorBytes(what, shape, 1);
        if (OnnxExternalData.isExternal(p)) {
            // OnnxReader.read resolves external data beside the model file; a bare TensorProto has no file to go by
            throw KilnException.invalidModel("tensor '" + p.getName() + "' keeps its data in an external file "
                    + "(" + p.getExternalDataList().stream().filter(e -> e.getKey().equals("location"))
                    .map(e -> e.getValue()).findFirst().orElse("no location") + "), which is read only when the "
                    + "model is read from its file");
        }
        if (dt == DType.STRING) {
            if (p.getStringDataCount() != n) {
                throw KilnException.invalidModel(what + " string" + shape + " has " + p.getStringDataCount()
                        + " of " + n + " strings");
            }
            List<byte[]> s = new ArrayList<>();
            p.getStringDataList().forEach(bs -> s.add(bs.toByteArray()));
            return Tensor.ofStrings(shape, s);
        }
        int es = dt.byteSize();
        long bytes = Limits.tensorBytes(what + " " + dt, shape, es);
        // the data present must match the declared size before the buffer is allocated: a few bytes of file must
        // not make Kiln allocate gigabytes
        if (p.hasRawData()) {
            if (p.getRawData().size() != bytes) {
                throw KilnException.invalidModel("tensor '" + p.getName() + "' " + dt + shape + " needs " + bytes
                        + " bytes of raw_data, has " + p.getRawData().size() + " (weights stripped?)");
            }
        } else {
            long have = switch (dt) {
                case FLOAT -> p.getFloatDataCount();
                case DOUBLE -> p.getDoubleDataCount();
                case INT64 -> p.getInt64DataCount();
                case UINT32, UINT64 -> p.getUint64DataCount();
                default -> p.getInt32DataCount();
            };
            if (have != n) {
                throw KilnException.invalidModel("tensor '" + p.getName() + "' " + dt + shape + " has no data ("
                        + have + " of " + n + " elements present; weights stripped?)");
            }
        }
        if (p.hasRawData()) {
            // no copy: a ByteString is immutable, and Tensor.wrap makes a read-only little-endian view of it
            return Tensor.wrap(dt, shape, p.getRawData().asReadOnlyByteBuffer());
        }
        ByteBuffer out = ByteBuffer.allocate((int) bytes).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < n; i++) {
            switch (dt) {
                case FLOAT -> out.putFloat(p.getFloatData(i));
                case DOUBLE -> out.putDouble(p.getDoubleData(i));
                case INT64 -> out.putLong(p.getInt64Data(i));
                case UINT64 -> out.putLong(p.getUint64Data(i));
                case UINT32 -> out.putInt((int) p.getUint64Data(i));
                case INT32 -> out.putInt(p.getInt32Data(i));
                case INT16, UINT16, HALF, BFLOAT16 -> out.putShort((short) p.getInt32Data(i));
                default -> out.put((byte) p.getInt32Data(i));
            }
        }
        out.flip();
        return Tensor.wrap(dt, shape, out);
    }

    // ---- float16 ----

    /** IEEE binary16 bits of {@code f}, round to nearest even: Kiln's reference conversion (kiln.h). */
    public static short floatToHalf(float f) {
        return JavaKernels.toHalf(f);
    }

    /** The float value of IEEE binary16 bits. */
    public static float halfToFloat(short h) {
        return JavaKernels.fromHalf(h);
    }

    /** A HALF tensor from a FLOAT (or DOUBLE) tensor. */
    public static Tensor toHalf(Tensor t) {
        double[] v = t.asDoubles();
        short[] h = new short[v.length];
        for (int i = 0; i < v.length; i++) {
            h[i] = floatToHalf((float) v[i]);
        }
        return Tensor.ofShorts(DType.HALF, t.shape(), h);
    }

    /** A FLOAT tensor from a HALF tensor. */
    public static Tensor halfToFloat(Tensor t) {
        ByteBuffer b = t.bytes();
        float[] f = new float[(int) t.numElements()];
        for (int i = 0; i < f.length; i++) {
            f[i] = halfToFloat(b.getShort(2 * i));
        }
        return Tensor.ofFloats(t.shape(), f);
    }

    /** Float values of a FLOAT, DOUBLE, HALF or integer tensor. */
    public static float[] floats(Tensor t) {
        if (t.dtype() == DType.FLOAT) {
            return t.floats();
        }
        if (t.dtype() == DType.HALF) {
            return halfToFloat(t).floats();
        }
        double[] d = t.asDoubles();
        float[] f = new float[d.length];
        for (int i = 0; i < d.length; i++) {
            f[i] = (float) d[i];
        }
        return f;
    }
}
