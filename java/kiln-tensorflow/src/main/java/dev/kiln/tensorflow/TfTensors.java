package dev.kiln.tensorflow;

import dev.kiln.KilnException;
import dev.kiln.graph.DType;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import org.tensorflow.ndarray.NdArray;
import org.tensorflow.ndarray.NdArrays;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.proto.DataType;
import org.tensorflow.types.TBfloat16;
import org.tensorflow.types.TBool;
import org.tensorflow.types.TFloat16;
import org.tensorflow.types.TFloat32;
import org.tensorflow.types.TFloat64;
import org.tensorflow.types.TInt32;
import org.tensorflow.types.TInt64;
import org.tensorflow.types.TString;
import org.tensorflow.types.TUint16;
import org.tensorflow.types.TUint8;
import org.tensorflow.types.family.TType;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;

/** Conversions between Kiln's {@link Tensor} and TF Java tensors, dtypes and shapes. */
public final class TfTensors {
    private TfTensors() {
    }

    /** The TF Java tensor class for a Kiln dtype; throws for dtypes TF Java cannot hold as tensors. */
    static Class<? extends TType> typeClass(DType t) {
        return switch (t) {
            case FLOAT -> TFloat32.class;
            case DOUBLE -> TFloat64.class;
            case INT32 -> TInt32.class;
            case INT64 -> TInt64.class;
            case UINT8 -> TUint8.class;
            case UINT16 -> TUint16.class;
            case BOOL -> TBool.class;
            case HALF -> TFloat16.class;
            case BFLOAT16 -> TBfloat16.class;
            case STRING -> TString.class;
            default -> throw KilnException.unsupported("TensorFlow Java has no tensor type for " + t);
        };
    }

    public static DataType toTf(DType t) {
        return DataType.forNumber(t.tfCode());
    }

    public static DType fromTf(DataType t) {
        return DType.fromTfCode(t.getNumber());
    }

    public static org.tensorflow.ndarray.Shape toTf(Shape s) {
        return s.hasRank() ? org.tensorflow.ndarray.Shape.of(s.dims()) : org.tensorflow.ndarray.Shape.unknown();
    }

    public static Shape fromTf(org.tensorflow.ndarray.Shape s) {
        return s.isUnknown() ? Shape.unknown() : Shape.of(s.asArray());
    }

    /** A new TF tensor holding a copy of {@code t}; the caller closes it. */
    public static org.tensorflow.Tensor toTf(Tensor t) {
        org.tensorflow.ndarray.Shape shape = toTf(t.shape());
        if (t.dtype() == DType.STRING) {
            NdArray<byte[]> arr = NdArrays.ofObjects(byte[].class, shape);
            List<byte[]> values = t.strings();
            long[] i = {0};
            arr.scalars().forEach(s -> s.setObject(values.get((int) i[0]++)));
            return TString.tensorOfBytes(arr);
        }
        ByteBuffer b = t.bytes();
        byte[] bytes = new byte[b.remaining()];
        b.get(bytes);
        return org.tensorflow.Tensor.of(typeClass(t.dtype()), shape, DataBuffers.of(bytes, true, false));
    }

    /** A Kiln tensor holding a copy of TF tensor {@code t} (which the caller still owns). */
    public static Tensor fromTf(org.tensorflow.Tensor t) {
        DType dtype = fromTf(t.dataType());
        Shape shape = fromTf(t.shape());
        if (dtype == DType.STRING) {
            List<byte[]> out = new ArrayList<>();
            ((TString) t).asBytes().scalars().forEach(s -> out.add(s.getObject()));
            return Tensor.ofStrings(shape, out);
        }
        byte[] bytes = new byte[(int) t.numBytes()];
        t.asRawTensor().data().read(bytes);
        return Tensor.wrap(dtype, shape, ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN));
    }
}
