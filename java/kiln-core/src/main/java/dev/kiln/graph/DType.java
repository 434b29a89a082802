package dev.kiln.graph;

/**
 * Element types of IR tensors. The numeric codes are TensorFlow's DataType values, since TensorFlow is where every
 * model comes from; exporters map them to their own (ONNX TensorProto.DataType, TFLite TensorType).
 */
public enum DType {
    FLOAT(1, 4),
    DOUBLE(2, 8),
    INT32(3, 4),
    UINT8(4, 1),
    INT16(5, 2),
    INT8(6, 1),
    STRING(7, -1),
    COMPLEX64(8, 8),
    INT64(9, 8),
    BOOL(10, 1),
    QINT8(11, 1),
    QUINT8(12, 1),
    QINT32(13, 4),
    BFLOAT16(14, 2),
    UINT16(17, 2),
    COMPLEX128(18, 16),
    HALF(19, 2),
    RESOURCE(20, -1),
    VARIANT(21, -1),
    UINT32(22, 4),
    UINT64(23, 8);

    private final int tfCode;
    private final int byteSize;

    DType(int tfCode, int byteSize) {
        this.tfCode = tfCode;
        this.byteSize = byteSize;
    }

    /** TensorFlow's DataType enum value (without the _REF offset of 100). */
    public int tfCode() {
        return tfCode;
    }

    /** Bytes per element, or -1 for types without a fixed size (string, resource, variant). */
    public int byteSize() {
        return byteSize;
    }

    public boolean isFloatingPoint() {
        return this == FLOAT || this == DOUBLE || this == HALF || this == BFLOAT16;
    }

    public boolean isInteger() {
        return switch (this) {
            case INT8, INT16, INT32, INT64, UINT8, UINT16, UINT32, UINT64 -> true;
            default -> false;
        };
    }

    /** The type for a TensorFlow DataType code; reference types (code + 100) map to their base type. */
    public static DType fromTfCode(int code) {
        int base = code > 100 ? code - 100 : code;
        for (DType t : values()) {
            if (t.tfCode == base) {
                return t;
            }
        }
        throw new IllegalArgumentException("unknown TensorFlow DataType code " + code);
    }
}
