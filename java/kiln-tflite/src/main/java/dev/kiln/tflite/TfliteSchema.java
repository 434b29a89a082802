package dev.kiln.tflite;

/**
 * The numbers of TensorFlow Lite's FlatBuffer schema (schema.fbs, version 3) that Kiln writes: builtin operator
 * codes, the {@code BuiltinOptions} union's type indices, tensor types, and each table's field slots.
 *
 * <p>A field's slot is its position in the table declaration, where a union field takes two slots (its type, then its
 * value); written by hand from the public schema, checked by {@code TfliteModelReaderTest} against the interpreter.
 */
final class TfliteSchema {
    private TfliteSchema() {
    }

    static final String FILE_IDENTIFIER = "TFL3";
    static final int SCHEMA_VERSION = 3;

    /** enum TensorType. */
    static final byte FLOAT32 = 0;
    static final byte FLOAT16 = 1;
    static final byte INT32 = 2;
    static final byte UINT8 = 3;
    static final byte INT64 = 4;
    static final byte BOOL = 6;
    static final byte INT16 = 7;
    static final byte INT8 = 9;

    /** enum Padding. */
    static final byte PADDING_SAME = 0;
    static final byte PADDING_VALID = 1;

    /** enum ActivationFunctionType. */
    static final byte ACT_NONE = 0;
    static final byte ACT_RELU = 1;
    static final byte ACT_RELU6 = 3;

    /** enum BuiltinOperator. */
    static final int ADD = 0;
    static final int AVERAGE_POOL_2D = 1;
    static final int CONCATENATION = 2;
    static final int CONV_2D = 3;
    static final int DEPTHWISE_CONV_2D = 4;
    static final int DEQUANTIZE = 6;
    static final int FLOOR = 8;
    static final int FULLY_CONNECTED = 9;
    static final int LOGISTIC = 14;
    static final int MAX_POOL_2D = 17;
    static final int MUL = 18;
    static final int RELU = 19;
    static final int RELU6 = 21;
    static final int RESHAPE = 22;
    static final int RESIZE_BILINEAR = 23;
    static final int SOFTMAX = 25;
    static final int TANH = 28;
    static final int PAD = 34;
    static final int TRANSPOSE = 39;
    static final int MEAN = 40;
    static final int SUB = 41;
    static final int DIV = 42;
    static final int SQUEEZE = 43;
    static final int STRIDED_SLICE = 45;
    static final int EXP = 47;
    static final int SPLIT = 49;
    static final int LOG_SOFTMAX = 50;
    static final int CAST = 53;
    static final int MAXIMUM = 55;
    static final int ARG_MAX = 56;
    static final int MINIMUM = 57;
    static final int NEG = 59;
    static final int PADV2 = 60;
    static final int SLICE = 65;
    static final int TILE = 69;
    static final int EXPAND_DIMS = 70;
    static final int LOG = 73;
    static final int SUM = 74;
    static final int SQRT = 75;
    static final int RSQRT = 76;
    static final int SHAPE = 77;
    static final int ARG_MIN = 79;
    static final int REDUCE_MAX = 82;
    static final int PACK = 83;
    static final int ONE_HOT = 85;
    static final int UNPACK = 88;
    static final int FILL = 94;
    static final int REDUCE_MIN = 89;
    static final int SQUARE = 92;
    static final int RESIZE_NEAREST_NEIGHBOR = 97;
    static final int LEAKY_RELU = 98;
    static final int SQUARED_DIFFERENCE = 99;
    static final int ABS = 101;
    static final int REVERSE_V2 = 105;
    static final int ELU = 111;
    static final int QUANTIZE = 114;
    static final int ROUND = 116;
    static final int SELECT_V2 = 123;
    static final int BATCH_MATMUL = 126;
    static final int RANDOM_UNIFORM = 148;
    static final int SIGN = 158;
    /** Codes at or above this go only into OperatorCode.builtin_code; below it also into deprecated_builtin_code. */
    static final int PLACEHOLDER_FOR_GREATER_OP_CODES = 127;
    static final int CUMSUM = 128;

    /** union BuiltinOptions: the type index of each options table (NONE = 0). */
    static final byte OPT_CONV_2D = 1;
    static final byte OPT_DEPTHWISE_CONV_2D = 2;
    static final byte OPT_POOL_2D = 5;
    static final byte OPT_FULLY_CONNECTED = 8;
    static final byte OPT_SOFTMAX = 9;
    static final byte OPT_CONCATENATION = 10;
    static final byte OPT_ADD = 11;
    static final byte OPT_RESIZE_BILINEAR = 15;
    static final byte OPT_RESHAPE = 17;
    static final byte OPT_MUL = 21;
    static final byte OPT_PAD = 22;
    static final byte OPT_TRANSPOSE = 26;
    static final byte OPT_REDUCER = 27;
    static final byte OPT_SUB = 28;
    static final byte OPT_DIV = 29;
    static final byte OPT_SQUEEZE = 30;
    static final byte OPT_STRIDED_SLICE = 32;
    static final byte OPT_EXP = 33;
    static final byte OPT_SPLIT = 35;
    static final byte OPT_LOG_SOFTMAX = 36;
    static final byte OPT_CAST = 37;
    static final byte OPT_DEQUANTIZE = 38;
    static final byte OPT_MAXIMUM_MINIMUM = 39;
    static final byte OPT_ARG_MAX = 40;
    static final byte OPT_NEG = 42;
    static final byte OPT_PADV2 = 43;
    static final byte OPT_SLICE = 48;
    static final byte OPT_TILE = 51;
    static final byte OPT_EXPAND_DIMS = 52;
    static final byte OPT_SHAPE = 55;
    static final byte OPT_ARG_MIN = 57;
    static final byte OPT_PACK = 59;
    static final byte OPT_ONE_HOT = 61;
    static final byte OPT_UNPACK = 64;
    static final byte OPT_FILL = 68;
    static final byte OPT_SQUARE = 66;
    static final byte OPT_RESIZE_NEAREST_NEIGHBOR = 74;
    static final byte OPT_LEAKY_RELU = 75;
    static final byte OPT_SQUARED_DIFFERENCE = 76;
    static final byte OPT_ABS = 78;
    static final byte OPT_REVERSE_V2 = 81;
    static final byte OPT_QUANTIZE = 89;
    static final byte OPT_SELECT_V2 = 98;
    static final byte OPT_BATCH_MATMUL = 101;
    static final byte OPT_CUMSUM = 102;
    static final byte OPT_RANDOM = 114;
    static final byte OPT_SIGN = 123;

    // ---- field slots, per table ----

    /** table Model. */
    static final int MODEL_VERSION = 0;
    static final int MODEL_OPERATOR_CODES = 1;
    static final int MODEL_SUBGRAPHS = 2;
    static final int MODEL_DESCRIPTION = 3;
    static final int MODEL_BUFFERS = 4;
    static final int MODEL_METADATA = 6;
    static final int MODEL_SIGNATURE_DEFS = 7;
    static final int MODEL_FIELDS = 8;

    /** table OperatorCode. */
    static final int OPCODE_DEPRECATED_BUILTIN_CODE = 0;
    static final int OPCODE_VERSION = 2;
    static final int OPCODE_BUILTIN_CODE = 3;
    static final int OPCODE_FIELDS = 4;

    /** table SubGraph. */
    static final int SUBGRAPH_TENSORS = 0;
    static final int SUBGRAPH_INPUTS = 1;
    static final int SUBGRAPH_OUTPUTS = 2;
    static final int SUBGRAPH_OPERATORS = 3;
    static final int SUBGRAPH_NAME = 4;
    static final int SUBGRAPH_FIELDS = 5;

    /** table Tensor. */
    static final int TENSOR_SHAPE = 0;
    static final int TENSOR_TYPE = 1;
    static final int TENSOR_BUFFER = 2;
    static final int TENSOR_NAME = 3;
    static final int TENSOR_QUANTIZATION = 4;
    static final int TENSOR_SHAPE_SIGNATURE = 7;
    static final int TENSOR_HAS_RANK = 8;
    static final int TENSOR_FIELDS = 9;

    /** table QuantizationParameters (details is a union: slots 4 and 5). */
    static final int QUANT_MIN = 0;
    static final int QUANT_MAX = 1;
    static final int QUANT_SCALE = 2;
    static final int QUANT_ZERO_POINT = 3;
    static final int QUANT_QUANTIZED_DIMENSION = 6;
    static final int QUANT_FIELDS = 7;

    /** table Operator (builtin_options is a union: slots 3 and 4). */
    static final int OPERATOR_OPCODE_INDEX = 0;
    static final int OPERATOR_INPUTS = 1;
    static final int OPERATOR_OUTPUTS = 2;
    static final int OPERATOR_BUILTIN_OPTIONS_TYPE = 3;
    static final int OPERATOR_BUILTIN_OPTIONS = 4;
    static final int OPERATOR_FIELDS = 5;

    /** table Buffer. */
    static final int BUFFER_DATA = 0;
    static final int BUFFER_FIELDS = 1;

    /** table Metadata. */
    static final int METADATA_NAME = 0;
    static final int METADATA_BUFFER = 1;
    static final int METADATA_FIELDS = 2;

    /** table TensorMap. */
    static final int TENSORMAP_NAME = 0;
    static final int TENSORMAP_TENSOR_INDEX = 1;
    static final int TENSORMAP_FIELDS = 2;

    /** table SignatureDef (slot 3 is the deprecated tag). */
    static final int SIGNATURE_INPUTS = 0;
    static final int SIGNATURE_OUTPUTS = 1;
    static final int SIGNATURE_KEY = 2;
    static final int SIGNATURE_SUBGRAPH_INDEX = 4;
    static final int SIGNATURE_FIELDS = 5;
}
