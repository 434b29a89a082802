package dev.kiln.tflite;

import static dev.kiln.tflite.TfliteSchema.*;

/**
 * The operator version to write for each use, from its input types as TFLite's versioning rules define it: version 1
 * for float kernels, the int8 version for integer kernels, the hybrid version where float activations meet int8
 * weights, and DEQUANTIZE's float16 and int8 versions. The interpreter refuses versions it does not know, so these are
 * the lowest ones that describe each kernel.
 */
final class OpVersions {
    private OpVersions() {
    }

    static int version(int builtin, int[] in, TfliteModelBuilder mb) {
        byte first = in.length > 0 && in[0] >= 0 ? mb.tensor(in[0]).type() : FLOAT32;
        byte second = in.length > 1 && in[1] >= 0 ? mb.tensor(in[1]).type() : FLOAT32;
        if (builtin == DEQUANTIZE) {
            return first == FLOAT16 ? 3 : first == INT8 ? 2 : 1;
        }
        if (builtin == QUANTIZE) {
            return first == INT8 ? 2 : 1;
        }
        if (first == FLOAT32 && second == INT8) { // hybrid: float activations, int8 weights (dynamic range)
            boolean perChannel = mb.tensor(in[1]).quantization() != null
                    && mb.tensor(in[1]).quantization().scale().length > 1;
            return switch (builtin) {
                case CONV_2D -> perChannel ? 5 : 2;
                case DEPTHWISE_CONV_2D -> perChannel ? 6 : 4;
                case FULLY_CONNECTED -> 7; // asymmetric_quantize_inputs
                default -> 1;
            };
        }
        if (builtin == REVERSE_V2 && first == BOOL) {
            return 2;
        }
        if (first == INT8) {
            return switch (builtin) {
                case REVERSE_V2 -> 3;
                case CONV_2D, DEPTHWISE_CONV_2D -> 3;
                case FULLY_CONNECTED -> 4;
                case ADD, SUB, MUL, AVERAGE_POOL_2D, MAX_POOL_2D, SOFTMAX, LOGISTIC, TANH, CONCATENATION, PAD,
                     MEAN, TRANSPOSE, STRIDED_SLICE, RELU, RELU6, MAXIMUM, MINIMUM, SLICE, SUM, REDUCE_MAX,
                     REDUCE_MIN, PACK, LEAKY_RELU, SQUARED_DIFFERENCE, ARG_MIN, ARG_MAX -> 2;
                default -> 1;
            };
        }
        return 1;
    }
}
