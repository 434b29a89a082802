package dev.kiln.onnx;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/** Which TensorFlow ops the ONNX exporter maps, to what, and from which ONNX opset on. */
public final class OnnxOpSupport {
    /** The lowest opset Kiln writes (per-axis QuantizeLinear, Softmax on one axis, axes as inputs). */
    public static final int MIN_OPSET = 13;
    /** The newest opset of the default ai.onnx domain that the bundled ONNX Runtime (1.23) runs. */
    public static final int MAX_OPSET = 23;
    public static final int DEFAULT_OPSET = 17;

    /** A TF op's ONNX mapping: the ONNX ops it becomes and the minimum opset. */
    public record Mapping(String tfOp, String onnxOps, int minOpset) { }

    private static final Map<String, Mapping> MAP = new LinkedHashMap<>();

    static {
        put("Placeholder", "graph input", 1);
        put("Const", "initializer", 1);
        for (String op : new String[] {"Identity", "Snapshot", "StopGradient", "PreventGradient", "CheckNumerics"}) {
            put(op, "(alias, no node)", 1);
        }
        put("NoOp", "(dropped)", 1);
        put("Conv2D", "Conv (NCHW, OIHW weights)", 1);
        put("DepthwiseConv2dNative", "Conv group=in (weights [in*mult,1,h,w])", 1);
        put("MatMul", "MatMul", 1);
        put("BatchMatMul", "MatMul (+Transpose for adj)", 1);
        put("BatchMatMulV2", "MatMul (+Transpose for adj)", 1);
        put("BatchMatMulV3", "MatMul (+Transpose for adj)", 1);
        put("BiasAdd", "Conv bias input, or Add", 1);
        put("Add", "Add", 1);
        put("AddV2", "Add", 1);
        put("Sub", "Sub", 1);
        put("Mul", "Mul", 1);
        put("RealDiv", "Div", 1);
        put("Maximum", "Max", 1);
        put("Minimum", "Min", 1);
        put("Relu", "Relu", 1);
        put("Relu6", "Clip(0, 6)", 11);
        put("Sigmoid", "Sigmoid", 1);
        put("Tanh", "Tanh", 1);
        put("Elu", "Elu", 1);
        put("LeakyRelu", "LeakyRelu", 1);
        put("Softmax", "Softmax(axis=-1)", 13);
        put("LogSoftmax", "LogSoftmax(axis=-1)", 13);
        put("MaxPool", "MaxPool (NCHW)", 1);
        put("AvgPool", "AveragePool (NCHW, count_include_pad=0)", 1);
        put("Mean", "ReduceMean", 1);
        put("Sum", "ReduceSum", 13);
        put("Max", "ReduceMax", 1);
        put("Min", "ReduceMin", 1);
        put("Reshape", "Reshape (int64 shape)", 5);
        put("Squeeze", "Squeeze", 13);
        put("ExpandDims", "Unsqueeze", 13);
        put("Transpose", "Transpose", 1);
        put("ConcatV2", "Concat", 1);
        put("Pad", "Pad (constant)", 11);
        put("PadV2", "Pad (constant value)", 11);
        put("Slice", "Slice", 10);
        put("StridedSlice", "Slice (+Squeeze for shrink_axis_mask)", 13);
        put("Cast", "Cast", 1);
        put("Pack", "Unsqueeze + Concat", 13);
        put("Shape", "Shape (+Cast to int32)", 1);
        put("FusedBatchNorm", "BatchNormalization (NCHW)", 9);
        put("FusedBatchNormV2", "BatchNormalization (NCHW)", 9);
        put("FusedBatchNormV3", "BatchNormalization (NCHW)", 9);
        put("Rsqrt", "Reciprocal(Sqrt)", 1);
        put("Sqrt", "Sqrt", 1);
        put("Square", "Mul(x, x)", 1);
        put("Neg", "Neg", 1);
        put("Exp", "Exp", 1);
        put("Log", "Log", 1);
        put("Abs", "Abs", 1);
        put("PlaceholderWithDefault", "(alias of its default when not a signature input)", 1);
        put("Floor", "Floor", 1);
        put("RandomUniform", "ConstantOfShape + RandomUniformLike", 9);
        put("BitwiseAnd", "BitwiseAnd", 18);
        put("BitwiseOr", "BitwiseOr", 18);
        put("BitwiseXor", "BitwiseXor", 18);
    }

    private static void put(String tf, String onnx, int minOpset) {
        MAP.put(tf, new Mapping(tf, onnx, minOpset));
    }

    private OnnxOpSupport() {
    }

    public static boolean isSupported(String tfOp) {
        return MAP.containsKey(tfOp);
    }

    /** The mapping of {@code tfOp}, or null. */
    public static Mapping mapping(String tfOp) {
        return MAP.get(tfOp);
    }

    /** Every supported TF op with its mapping, sorted by TF op name (for {@code kiln inspect}). */
    public static Map<String, Mapping> supportedOps() {
        return Collections.unmodifiableMap(new TreeMap<>(MAP));
    }

    /** The IR version that goes with an opset of the default domain (ONNX's release table). */
    public static int irVersionFor(int opset) {
        if (opset <= 13) {
            return 7;
        }
        if (opset <= 18) {
            return 8;
        }
        if (opset <= 20) {
            return 9;
        }
        if (opset <= 22) {
            return 10;
        }
        return 11;
    }
}
