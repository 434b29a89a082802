package dev.kiln.tflite;

import com.google.flatbuffers.FlatBufferBuilder;

import java.util.function.ToIntFunction;

import static dev.kiln.tflite.TfliteSchema.*;

/**
 * One operator's options: the {@code BuiltinOptions} union type and a writer of its table. The factories below write
 * each table's fields at their schema slots; a field equal to its schema default is left out, as FlatBuffers does.
 */
record BuiltinOptions(byte type, ToIntFunction<FlatBufferBuilder> writer) {

    /** No options (an op whose table would be empty, or one that has none). */
    static final BuiltinOptions NONE = new BuiltinOptions((byte) 0, b -> 0);

    /** An options table without fields (PadOptions, TransposeOptions ...): written, since some kernels read it. */
    static BuiltinOptions empty(byte type) {
        return new BuiltinOptions(type, b -> {
            b.startTable(0);
            return b.endTable();
        });
    }

    static BuiltinOptions conv2d(byte padding, int strideW, int strideH, byte activation, int dilationW,
                                 int dilationH) {
        return new BuiltinOptions(OPT_CONV_2D, b -> {
            b.startTable(6);
            b.addByte(0, padding, 0);
            b.addInt(1, strideW, 0);
            b.addInt(2, strideH, 0);
            b.addByte(3, activation, 0);
            b.addInt(4, dilationW, 1);
            b.addInt(5, dilationH, 1);
            return b.endTable();
        });
    }

    static BuiltinOptions depthwiseConv2d(byte padding, int strideW, int strideH, int multiplier, byte activation,
                                          int dilationW, int dilationH) {
        return new BuiltinOptions(OPT_DEPTHWISE_CONV_2D, b -> {
            b.startTable(7);
            b.addByte(0, padding, 0);
            b.addInt(1, strideW, 0);
            b.addInt(2, strideH, 0);
            b.addInt(3, multiplier, 0);
            b.addByte(4, activation, 0);
            b.addInt(5, dilationW, 1);
            b.addInt(6, dilationH, 1);
            return b.endTable();
        });
    }

    static BuiltinOptions pool2d(byte padding, int strideW, int strideH, int filterW, int filterH, byte activation) {
        return new BuiltinOptions(OPT_POOL_2D, b -> {
            b.startTable(6);
            b.addByte(0, padding, 0);
            b.addInt(1, strideW, 0);
            b.addInt(2, strideH, 0);
            b.addInt(3, filterW, 0);
            b.addInt(4, filterH, 0);
            b.addByte(5, activation, 0);
            return b.endTable();
        });
    }

    /** keep_num_dims false (TF's 2-D MatMul); asymmetric_quantize_inputs for the hybrid (dynamic range) kernel. */
    static BuiltinOptions fullyConnected(byte activation, boolean asymmetricQuantizeInputs) {
        return new BuiltinOptions(OPT_FULLY_CONNECTED, b -> {
            b.startTable(4);
            b.addByte(0, activation, 0);
            b.addBoolean(3, asymmetricQuantizeInputs, false);
            return b.endTable();
        });
    }

    static BuiltinOptions softmax(float beta) {
        return new BuiltinOptions(OPT_SOFTMAX, b -> {
            b.startTable(1);
            b.addFloat(0, beta, 0.0);
            return b.endTable();
        });
    }

    static BuiltinOptions concatenation(int axis, byte activation) {
        return new BuiltinOptions(OPT_CONCATENATION, b -> {
            b.startTable(2);
            b.addInt(0, axis, 0);
            b.addByte(1, activation, 0);
            return b.endTable();
        });
    }

    /** AddOptions, SubOptions, MulOptions, DivOptions: the fused activation only. */
    static BuiltinOptions arithmetic(byte type, byte activation) {
        return new BuiltinOptions(type, b -> {
            b.startTable(1);
            b.addByte(0, activation, 0);
            return b.endTable();
        });
    }

    static BuiltinOptions reshape(int[] newShape) {
        return new BuiltinOptions(OPT_RESHAPE, b -> {
            int shape = TfliteModelBuilder.intVector(b, newShape);
            b.startTable(1);
            b.addOffset(0, shape, 0);
            return b.endTable();
        });
    }

    static BuiltinOptions reducer(boolean keepDims) {
        return new BuiltinOptions(OPT_REDUCER, b -> {
            b.startTable(1);
            b.addBoolean(0, keepDims, false);
            return b.endTable();
        });
    }

    static BuiltinOptions squeeze(int[] dims) {
        return new BuiltinOptions(OPT_SQUEEZE, b -> {
            int v = TfliteModelBuilder.intVector(b, dims);
            b.startTable(1);
            b.addOffset(0, v, 0);
            return b.endTable();
        });
    }

    static BuiltinOptions stridedSlice(int beginMask, int endMask, int ellipsisMask, int newAxisMask,
                                       int shrinkAxisMask) {
        return new BuiltinOptions(OPT_STRIDED_SLICE, b -> {
            b.startTable(5);
            b.addInt(0, beginMask, 0);
            b.addInt(1, endMask, 0);
            b.addInt(2, ellipsisMask, 0);
            b.addInt(3, newAxisMask, 0);
            b.addInt(4, shrinkAxisMask, 0);
            return b.endTable();
        });
    }

    static BuiltinOptions leakyRelu(float alpha) {
        return new BuiltinOptions(OPT_LEAKY_RELU, b -> {
            b.startTable(1);
            b.addFloat(0, alpha, 0.0);
            return b.endTable();
        });
    }

    static BuiltinOptions pack(int count, int axis) {
        return new BuiltinOptions(OPT_PACK, b -> {
            b.startTable(2);
            b.addInt(0, count, 0);
            b.addInt(1, axis, 0);
            return b.endTable();
        });
    }

    static BuiltinOptions cast(byte in, byte out) {
        return new BuiltinOptions(OPT_CAST, b -> {
            b.startTable(2);
            b.addByte(0, in, 0);
            b.addByte(1, out, 0);
            return b.endTable();
        });
    }

    static BuiltinOptions unpack(int count, int axis) {
        return new BuiltinOptions(OPT_UNPACK, b -> {
            b.startTable(2);
            b.addInt(0, count, 0);
            b.addInt(1, axis, 0);
            return b.endTable();
        });
    }

    static BuiltinOptions fill() {
        return new BuiltinOptions(OPT_FILL, b -> {
            b.startTable(0);
            return b.endTable();
        });
    }

    static BuiltinOptions shape(byte outType) {
        return new BuiltinOptions(OPT_SHAPE, b -> {
            b.startTable(1);
            b.addByte(0, outType, 0);
            return b.endTable();
        });
    }

    static BuiltinOptions batchMatMul(boolean adjX, boolean adjY) {
        return new BuiltinOptions(OPT_BATCH_MATMUL, b -> {
            b.startTable(2);
            b.addBoolean(0, adjX, false);
            b.addBoolean(1, adjY, false);
            return b.endTable();
        });
    }

    static BuiltinOptions random(long seed, long seed2) {
        return new BuiltinOptions(OPT_RANDOM, b -> {
            b.startTable(2);
            b.addLong(0, seed, 0L);
            b.addLong(1, seed2, 0L);
            return b.endTable();
        });
    }

    /** SplitOptions. */
    static BuiltinOptions split(int count) {
        return new BuiltinOptions(OPT_SPLIT, b -> {
            b.startTable(1);
            b.addInt(0, count, 0);
            return b.endTable();
        });
    }

    /** ResizeBilinearOptions (slots 0 and 1 are the deprecated new_height/new_width) and ResizeNearestNeighborOptions. */
    static BuiltinOptions resize(boolean bilinear, boolean alignCorners, boolean halfPixelCenters) {
        int first = bilinear ? 2 : 0;
        return new BuiltinOptions(bilinear ? OPT_RESIZE_BILINEAR : OPT_RESIZE_NEAREST_NEIGHBOR, b -> {
            b.startTable(first + 2);
            b.addBoolean(first, alignCorners, false);
            b.addBoolean(first + 1, halfPixelCenters, false);
            return b.endTable();
        });
    }

    /** CumsumOptions. */
    static BuiltinOptions cumsum(boolean exclusive, boolean reverse) {
        return new BuiltinOptions(OPT_CUMSUM, b -> {
            b.startTable(2);
            b.addBoolean(0, exclusive, false);
            b.addBoolean(1, reverse, false);
            return b.endTable();
        });
    }

    /** ArgMaxOptions and ArgMinOptions: the index type. */
    static BuiltinOptions argMinMax(byte type, byte outputType) {
        return new BuiltinOptions(type, b -> {
            b.startTable(1);
            b.addByte(0, outputType, 0);
            return b.endTable();
        });
    }

    /** OneHotOptions. */
    static BuiltinOptions oneHot(int axis) {
        return new BuiltinOptions(OPT_ONE_HOT, b -> {
            b.startTable(1);
            b.addInt(0, axis, 0);
            return b.endTable();
        });
    }
}
