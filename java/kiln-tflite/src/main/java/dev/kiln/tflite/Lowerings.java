package dev.kiln.tflite;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The table of lowerings by TensorFlow op name (the way tf2onnx registers a handler per op), and which of them TFLite
 * runs on int8 tensors; any other op is computed in float32 between DEQUANTIZE and QUANTIZE under full INT8.
 */
public final class Lowerings {
    private static final Map<String, Lowering> TABLE = new LinkedHashMap<>();
    private static final Map<String, String> TARGETS = new LinkedHashMap<>();
    private static final Set<String> IDENTITY = Set.of("Identity", "Snapshot", "StopGradient", "PreventGradient",
            "CheckNumerics", "PlaceholderWithDefault", "EnsureShape");
    private static final Set<String> FLOAT_ONLY = Set.of("Exp", "Log", "Sqrt", "Rsqrt", "Square", "Floor", "Elu",
            "RealDiv", "LogSoftmax", "Cast", "FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3", "Sum", "RandomUniform", "Sign", "Round", "Cumsum", "OneHot", "Fill", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3");

    static {
        put(new ConvLowering(), "CONV_2D / DEPTHWISE_CONV_2D (+ fused bias, Relu/Relu6)", "Conv2D",
                "DepthwiseConv2dNative");
        put(new MatMulLowering(), "FULLY_CONNECTED (+ fused bias, Relu/Relu6)", "MatMul");
        put(new BiasAddLowering(), "ADD", "BiasAdd");
        put(new BinaryLowering(), "ADD / SUB / MUL / DIV / MAXIMUM / MINIMUM / SQUARED_DIFFERENCE", "Add", "AddV2",
                "Sub", "Mul", "RealDiv", "Maximum", "Minimum", "SquaredDifference");
        put(new ActivationLowering(), "RELU / RELU6 / LOGISTIC / TANH / ELU / LEAKY_RELU", "Relu", "Relu6",
                "Sigmoid", "Tanh", "Elu", "LeakyRelu");
        put(new SoftmaxLowering(), "SOFTMAX / LOG_SOFTMAX", "Softmax", "LogSoftmax");
        put(new PoolLowering(), "MAX_POOL_2D / AVERAGE_POOL_2D", "MaxPool", "AvgPool");
        put(new ReduceLowering(), "MEAN / SUM / REDUCE_MAX / REDUCE_MIN", "Mean", "Sum", "Max", "Min");
        put(new ReshapeLowering(), "RESHAPE / SQUEEZE / EXPAND_DIMS", "Reshape", "Squeeze", "ExpandDims");
        put(new TransposeLowering(), "TRANSPOSE", "Transpose");
        put(new ConcatLowering(), "CONCATENATION / PACK", "ConcatV2", "Pack");
        put(new PadLowering(), "PAD / PADV2", "Pad", "PadV2");
        put(new SliceLowering(), "STRIDED_SLICE / SLICE", "StridedSlice", "Slice");
        put(new UnaryLowering(), "EXP / LOG / SQRT / RSQRT / NEG / ABS / SQUARE / FLOOR / SIGN / ROUND", "Exp", "Log",
                "Sqrt", "Rsqrt", "Neg", "Abs", "Square", "Floor", "Sign", "Round");
        put(new CastLowering(), "CAST / SHAPE", "Cast", "Shape");
        put(new BatchNormLowering(), "MUL + ADD (inference batch norm)", "FusedBatchNorm", "FusedBatchNormV2",
                "FusedBatchNormV3");
        put(new BatchMatMulLowering(), "BATCH_MATMUL", "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3");
        put(new RandomUniformLowering(), "RANDOM_UNIFORM", "RandomUniform");
        put(new SplitLowering(), "SPLIT", "Split");
        put(new UnpackLowering(), "UNPACK", "Unpack");
        put(new FillLowering(), "FILL", "Fill");
        put(new TileLowering(), "TILE", "Tile");
        put(new ResizeLowering(), "RESIZE_BILINEAR / RESIZE_NEAREST_NEIGHBOR", "ResizeBilinear",
                "ResizeNearestNeighbor");
        put(new ReverseLowering(), "REVERSE_V2 (one per axis)", "ReverseV2");
        put(new SelectLowering(), "SELECT_V2 (TF1 Select's row condition reshaped)", "Select", "SelectV2");
        put(new CumsumLowering(), "CUMSUM", "Cumsum");
        put(new ArgMinMaxLowering(), "ARG_MIN / ARG_MAX", "ArgMin", "ArgMax");
        put(new OneHotLowering(), "ONE_HOT", "OneHot");
        put(new IdentityLowering(), "(no operator: the input tensor)", IDENTITY.toArray(new String[0]));
    }

    /** Ops TFLite has no builtin for, with what to do instead (said in the export's error). */
    private static final Map<String, String> NO_BUILTIN = Map.of(
            "ResizeBicubic", "TFLite has no bicubic resize builtin (only RESIZE_BILINEAR and RESIZE_NEAREST_NEIGHBOR); "
                    + "export to ONNX (Resize cubic) or resize bilinearly in the model");

    private static void put(Lowering l, String target, String... ops) {
        for (String op : ops) {
            TABLE.put(op, l);
            TARGETS.put(op, target);
        }
    }

    private Lowerings() {
    }

    /** The lowering of {@code tfOp}, or null when TFLite export does not map it. */
    static Lowering get(String tfOp) {
        return TABLE.get(tfOp);
    }

    /** Why TFLite cannot express {@code tfOp}, for an op known to have no builtin; else null. */
    static String noBuiltinReason(String tfOp) {
        if (KEPT_CONTROL_FLOW.contains(tfOp) || tfOp.startsWith("TensorList")) {
            return "control flow that import kept (a loop of unknown length, a branch decided at run time, or "
                    + "--rnn keep/loop); Kiln's TFLite writer takes straight-line graphs: give the inputs' time steps "
                    + "with --input-shapes NAME[-1,STEPS,...] and leave --rnn at auto (or use --rnn unroll) so that "
                    + "import unrolls it";
        }
        return NO_BUILTIN.get(tfOp);
    }

    private static final java.util.Set<String> KEPT_CONTROL_FLOW = java.util.Set.of("While", "StatelessWhile", "If",
            "StatelessIf", "Case", "StatelessCase");

    public static boolean isSupported(String tfOp) {
        return TABLE.containsKey(tfOp) || tfOp.equals("Const") || tfOp.equals("Placeholder") || tfOp.equals("NoOp");
    }

    static boolean isIdentity(String tfOp) {
        return IDENTITY.contains(tfOp);
    }

    /** Whether TFLite has an int8 kernel for what {@code tfOp} lowers to. */
    static boolean int8Capable(String tfOp) {
        return !FLOAT_ONLY.contains(tfOp);
    }

    /** Every mapped TF op with the TFLite operators it becomes, sorted by TF op (for docs and inspect). */
    public static Map<String, String> supportedOps() {
        return Collections.unmodifiableMap(new TreeMap<>(TARGETS));
    }
}
