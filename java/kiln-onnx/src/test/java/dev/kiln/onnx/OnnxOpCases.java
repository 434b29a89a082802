package dev.kiln.onnx;

import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import org.tensorflow.Output;
import org.tensorflow.proto.DataType;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * The op-coverage table: one case per TF op (or pattern), each a TF-Java graph with random inputs. A case names the
 * ops it proves; {@link OnnxOpCoverageTest} checks that they are still in the graph Kiln exports, then compares
 * TensorFlow with ONNX Runtime on the same inputs.
 */
final class OnnxOpCases {
    /** One case: its name (the test's display name), the TF ops it proves, the graph, the max relative error. */
    record Case(String name, List<String> ops, Consumer<TfOpGraph> build, double tolerance) { }

    private static final float NAN = Float.NaN;
    private static final float INF = Float.POSITIVE_INFINITY;

    private final List<Case> cases = new ArrayList<>();

    private OnnxOpCases() {
    }

    static List<Case> all() {
        OnnxOpCases c = new OnnxOpCases();
        c.unary();
        c.binary();
        c.logic();
        c.reductions();
        c.shapes();
        c.slices();
        c.gathers();
        c.images();
        c.convolutions();
        c.matmuls();
        c.graph();
        c.quantization();
        c.patterns();
        return c.cases;
    }

    private void add(String name, List<String> ops, Consumer<TfOpGraph> build) {
        cases.add(new Case(name, ops, build, 1e-4));
    }

    /** A case for op {@code name} alone. */
    private void add(String name, Consumer<TfOpGraph> build) {
        add(name, List.of(name), build);
    }

    /** An op of one float input drawn from [lo, hi). */
    private void unaryIn(String op, double lo, double hi) {
        add(op, t -> t.output(t.apply(op, t.floatsIn(lo, hi, 2, 3, 4))));
    }

    private static Tensor floats(long[] dims, float... v) {
        return Tensor.ofFloats(Shape.of(dims), v);
    }

    private static Tensor ints(long[] dims, int... v) {
        return Tensor.ofInts(Shape.of(dims), v);
    }

    private static long[] dims(long... d) {
        return d;
    }

    /** Ties at .5 on both sides of zero, where round-half-to-even and round-half-away differ. */
    private static final float[] HALVES = {-2.5f, -1.5f, -0.5f, 0.5f, 1.5f, 2.5f, 3.5f, -0.2f, 0.7f, 1.49f, -3.51f,
        0f};

    private void unary() {
        for (String op : new String[] {"Exp", "Neg", "Abs", "Floor", "Ceil", "Sign", "Erf", "Sin", "Cos", "Atan",
            "Sinh", "Cosh", "Asinh", "Tanh", "Sigmoid", "Relu", "Elu", "Selu", "Softsign", "Square", "Erfc",
            "Expm1"}) {
            unaryIn(op, -3, 3);
        }
        unaryIn("Relu6", -8, 8);
        unaryIn("Softplus", -20, 20);
        unaryIn("Tan", -1.2, 1.2);
        unaryIn("Asin", -0.99, 0.99);
        unaryIn("Acos", -0.99, 0.99);
        unaryIn("Atanh", -0.95, 0.95);
        unaryIn("Acosh", 1.01, 4);
        unaryIn("Log", 0.1, 5);
        unaryIn("Log1p", -0.5, 3);
        unaryIn("Sqrt", 0, 5);
        unaryIn("Rsqrt", 0.1, 5);
        unaryIn("Reciprocal", 0.5, 3);
        unaryIn("Inv", 0.5, 3);
        add("Round", t -> t.output(t.apply("Round", t.input(floats(dims(3, 4), HALVES)))));
        add("Rint", t -> t.output(t.apply("Rint", t.input(floats(dims(3, 4), HALVES)))));
        add("LeakyRelu", t -> t.output(t.op("LeakyRelu", t.floats(2, 3, 4)).setAttr("alpha", 0.1f).build()
                .output(0)));
        add("Softmax", t -> t.output(t.apply("Softmax", t.floats(2, 5))));
        add("LogSoftmax", t -> t.output(t.apply("LogSoftmax", t.floats(2, 5))));
        add("ClipByValue", t -> t.output(t.apply("ClipByValue", t.floats(2, 3, 4), t.scalar(-1f), t.scalar(1.5f))));
        add("ClipByValueTensorBounds", List.of("ClipByValue"), t -> t.output(t.apply("ClipByValue",
                t.floats(2, 3, 4), t.floatsIn(-3, -0.5, 2, 3, 4), t.floatsIn(0.5, 3, 2, 3, 4))));
        add("Invert", t -> t.output(t.apply("Invert", t.intsIn(-100, 100, 2, 5))));
    }

    private void binary() {
        for (String op : new String[] {"Add", "AddV2", "Sub", "Mul", "Maximum", "Minimum", "SquaredDifference"}) {
            add(op, t -> t.output(t.apply(op, t.floats(2, 3, 4), t.floats(4))));
        }
        for (String op : new String[] {"RealDiv", "Div"}) {
            add(op, t -> t.output(t.apply(op, t.floats(2, 3, 4), t.floatsIn(0.5, 3, 3, 4))));
        }
        add("Pow", t -> t.output(t.apply("Pow", t.floatsIn(0.1, 3, 2, 3, 4), t.floatsIn(-2, 2, 2, 3, 4))));
        // divisors of both signs, never 0
        float[] divisors = {-2.5f, -1f, -0.75f, 0.5f, 1.25f, 3f};
        for (String op : new String[] {"FloorDiv", "FloorMod", "Mod", "TruncateMod"}) {
            add(op, t -> t.output(t.apply(op, t.floats(4, 6), t.input(floats(dims(6), divisors)))));
        }
        int[] intDivisors = {-7, -3, -1, 1, 2, 5};
        for (String op : new String[] {"FloorDiv", "FloorMod", "TruncateDiv", "TruncateMod", "Div"}) {
            add(op + "Int32", List.of(op), t -> t.output(t.apply(op, t.intsIn(-20, 20, 4, 6),
                    t.input(ints(dims(6), intDivisors)))));
        }
        add("DivNoNan", t -> t.output(t.apply("DivNoNan", t.input(floats(dims(2, 3), 1f, NAN, INF, -2f, 0f, 3f)),
                t.input(floats(dims(2, 3), 0f, 0f, 0f, 4f, 2f, -1.5f)))));
        add("MulNoNan", t -> t.output(t.apply("MulNoNan", t.input(floats(dims(2, 3), 1f, NAN, INF, -2f, 0f, 3f)),
                t.input(floats(dims(2, 3), 0f, 0f, 0f, 4f, 2f, -1.5f)))));
        for (String op : new String[] {"Xdivy", "Xlogy"}) {
            add(op, t -> t.output(t.apply(op, t.input(floats(dims(2, 4), 0f, 0f, 1.5f, -2f, 0f, 3f, 0.25f, 0f)),
                    t.input(floats(dims(2, 4), 0f, 2f, 0.5f, 4f, 0f, 1f, 3f, 7f)))));
        }
        add("Atan2", t -> t.output(t.apply("Atan2", t.input(floats(dims(2, 4), 1f, -1f, 1f, -1f, 0f, 0f, 2f, -3f)),
                t.input(floats(dims(2, 4), 1f, 1f, -1f, -1f, 2f, 0f, 0f, 0.5f)))));
        add("Atan2Random", List.of("Atan2"), t -> t.output(t.apply("Atan2", t.floats(3, 4), t.floats(3, 4))));
        add("AddN", t -> t.output(t.opList("AddN", new Output<?>[] {t.floats(2, 3), t.floats(2, 3), t.floats(2, 3)})
                .build().output(0)));
        add("AddNInt32", List.of("AddN"), t -> t.output(t.opList("AddN", new Output<?>[] {t.intsIn(-9, 9, 2, 3),
            t.intsIn(-9, 9, 2, 3)}).build().output(0)));
        for (String op : new String[] {"BitwiseAnd", "BitwiseOr", "BitwiseXor"}) {
            add(op, t -> t.output(t.apply(op, t.intsIn(-1000, 1000, 3, 4), t.intsIn(-1000, 1000, 3, 4))));
        }
    }

    private void logic() {
        for (String op : new String[] {"Equal", "NotEqual", "Less", "LessEqual", "Greater", "GreaterEqual"}) {
            // small integers so that equal pairs occur
            add(op, t -> t.output(t.apply(op, t.intsIn(0, 3, 3, 4), t.intsIn(0, 3, 4))));
            add(op + "Float", List.of(op), t -> t.output(t.apply(op, t.floats(3, 4), t.floats(3, 4))));
        }
        for (String op : new String[] {"LogicalAnd", "LogicalOr"}) {
            add(op, t -> t.output(t.apply(op, t.bools(3, 4), t.bools(3, 4))));
        }
        add("LogicalNot", t -> t.output(t.apply("LogicalNot", t.bools(3, 4))));
        float[] special = {NAN, INF, -INF, 0f, -1.5f, 2f, NAN, 3e38f};
        for (String op : new String[] {"IsNan", "IsInf", "IsFinite"}) {
            add(op, t -> t.output(t.apply(op, t.input(floats(dims(2, 4), special)))));
        }
        add("SelectV2", t -> t.output(t.apply("SelectV2", t.bools(3, 1), t.floats(3, 4), t.floats(4))));
        add("Select", t -> t.output(t.apply("Select", t.bools(3, 4), t.floats(3, 4), t.floats(3, 4))));
        add("SelectRows", List.of("Select"), t -> t.output(t.apply("Select", t.bools(3), t.floats(3, 2, 2),
                t.floats(3, 2, 2))));
        add("Where", t -> t.output(t.apply("Where", t.bools(3, 4))));
    }

    private void reductions() {
        for (String op : new String[] {"Mean", "Sum", "Max", "Min", "EuclideanNorm"}) {
            add(op, t -> t.output(t.op(op, t.floats(2, 3, 4), t.ints(1)).setAttr("keep_dims", false).build()
                    .output(0)));
        }
        add("Prod", t -> t.output(t.op("Prod", t.floatsIn(0.5, 1.5, 2, 3, 4), t.ints(0, 2)).setAttr("keep_dims", true)
                .build().output(0)));
        for (String op : new String[] {"All", "Any"}) {
            add(op, t -> t.output(t.op(op, t.bools(3, 4), t.ints(1)).setAttr("keep_dims", false).build().output(0)));
        }
        for (String op : new String[] {"ArgMax", "ArgMin"}) {
            add(op, t -> t.output(t.apply(op, t.floats(2, 3, 4), t.ints(1))));
            add(op + "Int32", List.of(op), t -> t.output(t.op(op, t.floats(2, 3, 4), t.ints(-1))
                    .setAttr("output_type", DataType.DT_INT32).build().output(0)));
        }
        add("Cumsum", t -> t.output(t.apply("Cumsum", t.floats(2, 3, 4), t.ints(1))));
        add("CumsumExclusiveReverse", List.of("Cumsum"), t -> t.output(t.op("Cumsum", t.floats(2, 3, 4), t.ints(2))
                .setAttr("exclusive", true).setAttr("reverse", true).build().output(0)));
    }

    private void shapes() {
        add("Reshape", t -> t.output(t.apply("Reshape", t.floats(2, 3, 4), t.ints(4, -1))));
        add("Squeeze", t -> t.output(t.op("Squeeze", t.floats(2, 1, 4)).setAttr("squeeze_dims", new long[] {1})
                .build().output(0)));
        add("ExpandDims", t -> t.output(t.apply("ExpandDims", t.floats(2, 4), t.ints(1))));
        add("Shape", t -> t.output(t.apply("Shape", t.floatsAnyBatch(2, 3, 4))));
        add("ShapeN", t -> {
            var op = t.opList("ShapeN", new Output<?>[] {t.floatsAnyBatch(2, 3), t.floatsAnyBatch(5)}).build();
            t.output(op.output(0));
            t.output(op.output(1));
        });
        add("Size", t -> t.output(t.apply("Size", t.floatsAnyBatch(2, 3, 4))));
        add("Rank", t -> t.output(t.apply("Rank", t.floatsAnyBatch(2, 3, 4))));
        add("Cast", t -> t.output(t.op("Cast", t.floats(3, 4)).setAttr("DstT", DataType.DT_INT32).build().output(0)));
        add("CastIntToFloat", List.of("Cast"), t -> t.output(t.op("Cast", t.intsIn(-50, 50, 3, 4))
                .setAttr("DstT", DataType.DT_FLOAT).build().output(0)));
        // the shape comes from a tensor, so constant folding cannot remove the op
        add("Fill", List.of("Fill", "Shape"), t -> t.output(t.apply("Fill", t.apply("Shape", t.floatsAnyBatch(2, 3)),
                t.scalar(2.5f))));
        add("BroadcastTo", t -> t.output(t.apply("BroadcastTo", t.floats(1, 4), t.ints(3, 4))));
        add("Tile", t -> t.output(t.apply("Tile", t.floats(2, 3), t.ints(2, 3))));
        add("ZerosLike", t -> t.output(t.apply("ZerosLike", t.floats(2, 3))));
        add("OnesLike", t -> t.output(t.apply("OnesLike", t.intsIn(0, 9, 2, 3))));
        add("Range", t -> t.output(t.apply("Range", t.ints(1), t.input(Tensor.scalar(11)), t.ints(3))));
        add("InvertPermutation", t -> t.output(t.apply("InvertPermutation", t.input(ints(dims(6), 3, 0, 5, 1, 4,
                2)))));
        add("RangeFloat", List.of("Range"), t -> t.output(t.apply("Range", t.scalar(0.5f),
                t.input(Tensor.scalar(4f)), t.scalar(0.75f))));
        // random values differ between runtimes; their floor is 0 exactly when they lie in [0, 1)
        add("RandomUniform", List.of("RandomUniform", "Floor"), t -> t.output(t.apply("Floor",
                t.op("RandomUniform", t.apply("Shape", t.floatsAnyBatch(3, 5))).setAttr("dtype", DataType.DT_FLOAT)
                        .build().output(0))));
    }

    private void slices() {
        add("Transpose", t -> t.output(t.apply("Transpose", t.floats(2, 3, 4), t.ints(2, 0, 1))));
        add("ConjugateTranspose", t -> t.output(t.apply("ConjugateTranspose", t.floats(2, 3, 4), t.ints(1, 0, 2))));
        add("ConcatV2", t -> t.output(t.opList("ConcatV2", new Output<?>[] {t.floats(2, 3), t.floats(2, 2)},
                t.ints(1)).build().output(0)));
        add("Concat", t -> {
            Output<?> axis = t.ints(0);
            t.output(t.g.opBuilder("Concat", "concat_v1", t.g.baseScope()).addInput(axis)
                    .addInputList(new Output<?>[] {t.floats(2, 3), t.floats(1, 3)}).build().output(0));
        });
        add("Pack", t -> t.output(t.opList("Pack", new Output<?>[] {t.floats(2, 3), t.floats(2, 3)})
                .setAttr("axis", 1L).build().output(0)));
        add("Unpack", t -> {
            var op = t.op("Unpack", t.floats(2, 3, 4)).setAttr("num", 3L).setAttr("axis", 1L).build();
            for (int i = 0; i < 3; i++) {
                t.output(op.output(i));
            }
        });
        add("Pad", t -> t.output(t.apply("Pad", t.floats(2, 3), t.constant(ints(dims(2, 2), 1, 0, 2, 1)))));
        add("PadV2", t -> t.output(t.apply("PadV2", t.floats(2, 3), t.constant(ints(dims(2, 2), 0, 1, 1, 2)),
                t.scalar(-7f))));
        add("MirrorPad", t -> t.output(t.op("MirrorPad", t.floats(3, 4), t.constant(ints(dims(2, 2), 1, 2, 2, 1)))
                .setAttr("mode", "REFLECT").build().output(0)));
        add("Slice", t -> t.output(t.apply("Slice", t.floats(3, 4, 5), t.ints(1, 0, 2), t.ints(2, -1, 2))));
        add("StridedSlice", t -> t.output(t.op("StridedSlice", t.floats(4, 6, 5), t.ints(1, 0, 4), t.ints(4, 6, 0),
                t.ints(2, 1, -2)).setAttr("begin_mask", 2L).setAttr("shrink_axis_mask", 0L).build().output(0)));
        add("Split", t -> {
            var op = t.op("Split", t.ints(1), t.floats(2, 6)).setAttr("num_split", 3L).build();
            for (int i = 0; i < 3; i++) {
                t.output(op.output(i));
            }
        });
        add("SplitV", t -> {
            var op = t.op("SplitV", t.floats(7, 2), t.ints(2, -1, 1), t.ints(0)).setAttr("num_split", 3L).build();
            for (int i = 0; i < 3; i++) {
                t.output(op.output(i));
            }
        });
        add("ReverseV2", t -> t.output(t.apply("ReverseV2", t.floats(2, 3, 4), t.ints(0, 2))));
        add("StridedSliceNewAxisEllipsis", List.of("StridedSlice"), t -> t.output(t.op("StridedSlice",
                t.floats(2, 3, 4, 5), t.ints(0, 0, 1, 0), t.ints(0, 0, 3, 0), t.ints(1, 1, 1, 1))
                .setAttr("new_axis_mask", 2L).setAttr("ellipsis_mask", 4L).setAttr("begin_mask", 1L)
                .setAttr("end_mask", 1L).setAttr("shrink_axis_mask", 8L).build().output(0)));
        add("ReverseSequence", t -> t.output(t.op("ReverseSequence", t.floats(3, 5, 2),
                t.input(Tensor.ofLongs(Shape.of(3), 2, 5, 0))).setAttr("seq_dim", 1L).setAttr("batch_dim", 0L).build()
                .output(0)));
        add("Roll", t -> t.output(t.apply("Roll", t.floats(3, 5, 2), t.ints(2, -1), t.ints(1, 0))));
    }

    private void gathers() {
        add("GatherV2", t -> t.output(t.apply("GatherV2", t.floats(3, 5, 2), t.constant(ints(dims(2, 2), 4, 0, 2, 2)),
                t.ints(1))));
        add("GatherV2Indices", List.of("GatherV2"), t -> t.output(t.apply("GatherV2", t.weights(10, 4),
                t.intsIn(0, 10, 2, 3), t.ints(0))));
        add("Gather", t -> t.output(t.apply("Gather", t.floats(5, 3), t.intsIn(0, 5, 4))));
        add("GatherNd", t -> t.output(t.apply("GatherNd", t.floats(3, 4, 2), t.constant(ints(dims(3, 2), 0, 1, 2, 3,
                1, 0)))));
        add("ScatterNd", t -> t.output(t.apply("ScatterNd", t.constant(ints(dims(3, 1), 4, 0, 2)), t.floats(3, 2),
                t.ints(6, 2))));
        // -1 and 7 lie outside [0, depth): TF gives a row of off_value
        add("OneHot", t -> t.output(t.op("OneHot", t.input(ints(dims(2, 3), 0, 3, -1, 5, 7, 1)), t.ints(6),
                t.scalar(2f), t.scalar(-0.5f)).setAttr("axis", -1L).build().output(0)));
        add("OneHotAxis0", List.of("OneHot"), t -> t.output(t.op("OneHot", t.intsIn(0, 4, 2, 3), t.ints(4),
                t.scalar(1f), t.scalar(0f)).setAttr("axis", 0L).build().output(0)));
        for (String op : new String[] {"TensorScatterUpdate", "TensorScatterAdd", "TensorScatterMax",
            "TensorScatterMin"}) {
            add(op, t -> t.output(t.apply(op, t.floats(5, 3), t.constant(ints(dims(3, 1), 4, 0, 2)), t.floats(3, 3))));
        }
        add("Unique", t -> {
            var op = t.op("Unique", t.input(ints(dims(9), 4, 1, 4, 7, 1, 1, 0, 7, 2))).build();
            t.output(op.output(0));
            t.output(op.output(1));
        });
        add("TopKV2", t -> {
            var op = t.op("TopKV2", t.floats(3, 7), t.ints(3)).build();
            t.output(op.output(0));
            t.output(op.output(1));
        });
    }

    private void images() {
        for (String op : new String[] {"ResizeBilinear", "ResizeNearestNeighbor"}) {
            add(op, t -> t.output(t.apply(op, t.floats(2, 5, 6, 3), t.ints(9, 4))));
            add(op + "AlignCorners", List.of(op), t -> t.output(t.op(op, t.floats(2, 5, 6, 3), t.ints(9, 13))
                    .setAttr("align_corners", true).build().output(0)));
            add(op + "HalfPixel", List.of(op), t -> t.output(t.op(op, t.floats(2, 5, 6, 3), t.ints(11, 4))
                    .setAttr("half_pixel_centers", true).build().output(0)));
        }
        // TF's bicubic weights come from a table of 1024 steps per pixel: agreement to ~1e-3, not float rounding
        cases.add(new Case("ResizeBicubic", List.of("ResizeBicubic"), t -> t.output(t.apply("ResizeBicubic",
                t.floats(2, 5, 6, 3), t.ints(9, 4))), 3e-3));
        cases.add(new Case("ResizeBicubicAlignCorners", List.of("ResizeBicubic"), t -> t.output(t.op("ResizeBicubic",
                t.floats(2, 5, 6, 3), t.ints(9, 13)).setAttr("align_corners", true).build().output(0)), 3e-3));
        cases.add(new Case("ResizeBicubicHalfPixel", List.of("ResizeBicubic"), t -> t.output(t.op("ResizeBicubic",
                t.floats(2, 5, 6, 3), t.ints(11, 4)).setAttr("half_pixel_centers", true).build().output(0)), 3e-3));
        add("DepthToSpace", t -> t.output(t.op("DepthToSpace", t.floats(2, 3, 4, 8)).setAttr("block_size", 2L).build()
                .output(0)));
        add("SpaceToDepth", t -> t.output(t.op("SpaceToDepth", t.floats(2, 4, 6, 3)).setAttr("block_size", 2L).build()
                .output(0)));
        add("SpaceToBatchND", t -> t.output(t.apply("SpaceToBatchND", t.floats(2, 5, 6, 3), t.ints(2, 3),
                t.constant(ints(dims(2, 2), 1, 0, 0, 3)))));
        add("BatchToSpaceND", t -> t.output(t.apply("BatchToSpaceND", t.floats(12, 3, 3, 2), t.ints(2, 3),
                t.constant(ints(dims(2, 2), 1, 0, 0, 2)))));
        // a dilated convolution as TF writes it: SpaceToBatchND → Conv2D → BatchToSpaceND
        add("DilatedConvPattern", List.of("SpaceToBatchND", "Conv2D", "BatchToSpaceND"), t -> {
            Output<?> s2b = t.apply("SpaceToBatchND", t.floats(1, 8, 8, 3), t.ints(2, 2),
                    t.constant(ints(dims(2, 2), 2, 2, 2, 2)));
            Output<?> c = t.op("Conv2D", s2b, t.weights(3, 3, 3, 4)).setAttr("strides", ones4())
                    .setAttr("padding", "VALID").build().output(0);
            t.output(t.apply("BatchToSpaceND", c, t.ints(2, 2), t.constant(ints(dims(2, 2), 0, 0, 0, 0))));
        });
        add("LRN", t -> t.output(t.op("LRN", t.floats(2, 3, 3, 8)).setAttr("depth_radius", 2L).setAttr("bias", 1.5f)
                .setAttr("alpha", 0.3f).setAttr("beta", 0.75f).build().output(0)));
        for (String op : new String[] {"FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"}) {
            add(op, t -> {
                var b = t.op(op, t.floats(2, 4, 4, 3), t.weights(3), t.weights(3), t.weights(3),
                        t.constant(Tensor.ofFloats(Shape.of(3), 0.5f, 1f, 2f))).setAttr("is_training", false)
                        .setAttr("epsilon", 0.001f);
                if (!op.equals("FusedBatchNorm")) {
                    b.setAttr("U", DataType.DT_FLOAT);
                }
                t.output(b.build().output(0));
            });
        }
    }

    private static float[] ones(int n) {
        float[] v = new float[n];
        java.util.Arrays.fill(v, 1f);
        return v;
    }

    private static long[] ones4() {
        return new long[] {1, 1, 1, 1};
    }

    private void convolutions() {
        add("Conv2D", t -> t.output(t.op("Conv2D", t.floats(2, 7, 7, 3), t.weights(3, 3, 3, 4))
                .setAttr("strides", new long[] {1, 2, 2, 1}).setAttr("padding", "SAME").build().output(0)));
        add("DepthwiseConv2dNative", t -> t.output(t.op("DepthwiseConv2dNative", t.floats(2, 6, 6, 3),
                t.weights(3, 3, 3, 2)).setAttr("strides", ones4()).setAttr("padding", "VALID").build().output(0)));
        add("Conv2DBackpropInput", t -> t.output(t.op("Conv2DBackpropInput", t.ints(2, 9, 9, 3),
                t.weights(3, 3, 3, 5), t.floats(2, 5, 5, 5)).setAttr("strides", new long[] {1, 2, 2, 1})
                .setAttr("padding", "SAME").build().output(0)));
        add("Conv2DBackpropInputValid", List.of("Conv2DBackpropInput"), t -> t.output(t.op("Conv2DBackpropInput",
                t.ints(2, 12, 12, 2), t.weights(3, 3, 2, 4), t.floats(2, 5, 5, 4))
                .setAttr("strides", new long[] {1, 2, 2, 1}).setAttr("padding", "VALID").build().output(0)));
        add("Conv3D", t -> t.output(t.op("Conv3D", t.floats(2, 5, 6, 6, 2), t.weights(3, 3, 3, 2, 4))
                .setAttr("strides", new long[] {1, 1, 2, 2, 1}).setAttr("padding", "SAME").build().output(0)));
        for (String op : new String[] {"BiasAdd", "BiasAddV1"}) {
            add(op, t -> t.output(t.apply(op, t.floats(2, 3, 4), t.weights(4))));
        }
        add("BiasAddAfterConv", List.of("Conv2D", "BiasAdd", "Relu"), t -> t.output(t.apply("Relu", t.apply("BiasAdd",
                t.op("Conv2D", t.floats(2, 6, 6, 3), t.weights(3, 3, 3, 4)).setAttr("strides", ones4())
                        .setAttr("padding", "SAME").build().output(0), t.weights(4)))));
        for (String op : new String[] {"MaxPool", "AvgPool"}) {
            add(op, t -> t.output(t.op(op, t.floats(2, 7, 7, 3)).setAttr("ksize", new long[] {1, 3, 3, 1})
                    .setAttr("strides", new long[] {1, 2, 2, 1}).setAttr("padding", "SAME").build().output(0)));
        }
        add("MaxPoolV2", t -> t.output(t.op("MaxPoolV2", t.floats(2, 7, 7, 3), t.ints(1, 2, 2, 1), t.ints(1, 2, 2, 1))
                .setAttr("padding", "VALID").build().output(0)));
        for (String op : new String[] {"MaxPool3D", "AvgPool3D"}) {
            add(op, t -> t.output(t.op(op, t.floats(2, 4, 6, 6, 3)).setAttr("ksize", new long[] {1, 2, 2, 2, 1})
                    .setAttr("strides", new long[] {1, 2, 2, 2, 1}).setAttr("padding", "VALID").build().output(0)));
        }
    }

    private void matmuls() {
        add("MatMul", t -> t.output(t.op("MatMul", t.floats(3, 4), t.weights(5, 4)).setAttr("transpose_b", true)
                .build().output(0)));
        add("MatMulTwoInputs", List.of("MatMul"), t -> t.output(t.op("MatMul", t.floats(4, 3), t.floats(4, 5))
                .setAttr("transpose_a", true).build().output(0)));
        add("BatchMatMul", t -> t.output(t.apply("BatchMatMul", t.floats(2, 3, 4), t.floats(2, 4, 5))));
        add("BatchMatMulV2", t -> t.output(t.op("BatchMatMulV2", t.floats(2, 3, 4), t.floats(5, 4))
                .setAttr("adj_y", true).build().output(0)));
        add("BatchMatMulV3", t -> t.output(t.op("BatchMatMulV3", t.floats(2, 3, 4), t.floats(2, 4, 2))
                .setAttr("Tout", DataType.DT_FLOAT).build().output(0)));
        add("Einsum", t -> t.output(t.opList("Einsum", new Output<?>[] {t.floats(2, 3, 4), t.floats(2, 4, 5)})
                .setAttr("equation", "bij,bjk->bik").build().output(0)));
        add("MatrixBandPart", t -> t.output(t.apply("MatrixBandPart", t.floats(2, 4, 5), t.ints(1), t.ints(2))));
        add("MatrixBandPartCausal", List.of("MatrixBandPart"), t -> t.output(t.apply("MatrixBandPart",
                t.floats(5, 5), t.ints(-1), t.ints(0))));
        add("EinsumReduce", List.of("Einsum"), t -> t.output(t.opList("Einsum", new Output<?>[] {t.floats(3, 4),
            t.floats(4)}).setAttr("equation", "ij,j->i").build().output(0)));
    }

    private void graph() {
        for (String op : new String[] {"Identity", "Snapshot", "StopGradient", "PreventGradient"}) {
            // the Relu keeps the op off the graph's edge, where the optimizer would otherwise drop it
            add(op, List.of(op), t -> t.output(t.apply("Relu", t.apply(op, t.floats(2, 3)))));
        }
        add("CheckNumerics", t -> t.output(t.apply("Relu", t.op("CheckNumerics", t.floats(2, 3))
                .setAttr("message", "bad").build().output(0))));
        add("EnsureShape", t -> t.output(t.apply("Relu", t.op("EnsureShape", t.floats(2, 3))
                .setAttr("shape", org.tensorflow.ndarray.Shape.of(2, 3)).build().output(0))));
        add("IdentityN", t -> {
            var op = t.opList("IdentityN", new Output<?>[] {t.floats(2, 3), t.intsIn(0, 5, 4)}).build();
            t.output(t.apply("Relu", op.output(0)));
            t.output(t.apply("Neg", op.output(1)));
        });
        add("PlaceholderWithDefault", t -> t.output(t.apply("Mul", t.floats(2, 3), t.op("PlaceholderWithDefault",
                t.weights(2, 3)).setAttr("shape", org.tensorflow.ndarray.Shape.of(2, 3)).build().output(0))));
    }

    private void quantization() {
        add("FakeQuantWithMinMaxArgs", t -> t.output(t.op("FakeQuantWithMinMaxArgs", t.floats(2, 3, 8))
                .setAttr("min", -1.5f).setAttr("max", 2f).build().output(0)));
        add("FakeQuantWithMinMaxArgsNarrow4Bits", List.of("FakeQuantWithMinMaxArgs"), t -> t.output(t.op(
                "FakeQuantWithMinMaxArgs", t.floats(2, 3, 8)).setAttr("min", -2f).setAttr("max", 1.3f)
                .setAttr("num_bits", 4L).setAttr("narrow_range", true).build().output(0)));
        add("FakeQuantWithMinMaxVars", t -> t.output(t.apply("FakeQuantWithMinMaxVars", t.floats(2, 3, 8),
                t.scalar(-0.7f), t.scalar(2.2f))));
        add("FakeQuantWithMinMaxVarsPerChannel", t -> t.output(t.apply("FakeQuantWithMinMaxVarsPerChannel",
                t.floats(2, 3, 4), t.constant(Tensor.ofFloats(Shape.of(4), -1f, -2.5f, 0f, -0.3f)),
                t.constant(Tensor.ofFloats(Shape.of(4), 1f, 0.5f, 3f, 2.9f)))));
    }

    private void patterns() {
        // the tf.Module: NaN → 0 with IsNan, ZerosLike and SelectV2
        add("NanToZero", List.of("IsNan", "ZerosLike", "SelectV2"), t -> {
            Output<?> x = t.input(floats(dims(2, 4), NAN, 1f, -2f, NAN, 3f, INF, 0.5f, NAN));
            t.output(t.apply("SelectV2", t.apply("IsNan", x), t.apply("ZerosLike", x), x));
        });
        // Keras LayerNormalization as TF writes it without the fused op
        add("LayerNormPattern", List.of("Mean", "SquaredDifference", "Rsqrt", "Mul", "Sub", "AddV2"), t -> {
            Output<?> x = t.floats(2, 5, 8);
            Output<?> axes = t.ints(-1);
            Output<?> mean = t.op("Mean", x, axes).setAttr("keep_dims", true).build().output(0);
            Output<?> var = t.op("Mean", t.apply("SquaredDifference", x, mean), axes).setAttr("keep_dims", true)
                    .build().output(0);
            Output<?> inv = t.apply("Mul", t.apply("Rsqrt", t.apply("AddV2", var, t.scalar(1e-3f))), t.weights(8));
            Output<?> y = t.apply("AddV2", t.apply("Mul", x, inv), t.apply("Sub", t.weights(8), t.apply("Mul", mean,
                    inv)));
            t.output(y);
        });
        // tf.nn.moments (StopGradient on the mean) + tf.nn.batch_normalization over the last two axes, gamma and beta
        // varying along the last one only
        add("LayerNormTwoAxesPattern", List.of("Mean", "StopGradient", "SquaredDifference", "Rsqrt", "Mul", "Sub",
                "AddV2"), t -> {
            Output<?> x = t.floats(3, 4, 6);
            Output<?> axes = t.ints(1, 2);
            Output<?> mean = t.op("Mean", x, axes).setAttr("keep_dims", true).build().output(0);
            Output<?> var = t.op("Mean", t.apply("SquaredDifference", x, t.apply("StopGradient", mean)), axes)
                    .setAttr("keep_dims", true).build().output(0);
            Output<?> inv = t.apply("Mul", t.weights(6), t.apply("Rsqrt", t.apply("AddV2", var, t.scalar(1e-5f))));
            t.output(t.apply("AddV2", t.apply("Sub", t.weights(1, 6), t.apply("Mul", mean, inv)),
                    t.apply("Mul", x, inv)));
        });
        // the hand-written layer norm of the official TF Transformer and OpenNMT:
        // (x - mean) * rsqrt(mean((x - mean)^2) + eps) * gamma + beta
        add("LayerNormCenteredPattern", List.of("Mean", "Sub", "Square", "Rsqrt", "Mul", "AddV2"), t -> {
            Output<?> x = t.floats(2, 5, 8);
            Output<?> axes = t.ints(-1);
            Output<?> mean = t.op("Mean", x, axes).setAttr("keep_dims", true).build().output(0);
            Output<?> var = t.op("Mean", t.apply("Square", t.apply("Sub", x, mean)), axes).setAttr("keep_dims", true)
                    .build().output(0);
            Output<?> norm = t.apply("Mul", t.apply("Sub", x, mean), t.apply("Rsqrt", t.apply("AddV2", var,
                    t.scalar(1e-6f))));
            t.output(t.apply("AddV2", t.apply("Mul", norm, t.weights(8)), t.weights(8)));
        });
        // the same with a division: gamma * (x - mean) / sqrt(var + eps) + beta
        add("LayerNormDivPattern", List.of("Mean", "Sub", "SquaredDifference", "Sqrt", "RealDiv", "Mul", "AddV2"),
                t -> {
                    Output<?> x = t.floats(2, 5, 8);
                    Output<?> axes = t.ints(-1);
                    Output<?> mean = t.op("Mean", x, axes).setAttr("keep_dims", true).build().output(0);
                    Output<?> var = t.op("Mean", t.apply("SquaredDifference", x, mean), axes)
                            .setAttr("keep_dims", true).build().output(0);
                    Output<?> norm = t.apply("RealDiv", t.apply("Sub", x, mean), t.apply("Sqrt", t.apply("AddV2",
                            t.scalar(1e-5f), var)));
                    t.output(t.apply("AddV2", t.weights(8), t.apply("Mul", t.weights(8), norm)));
                });
        // Keras' LayerNormalization as TF 2 writes it: a training-mode fused batch norm over a [1, rows, features, 1]
        // NCHW view, then gamma and beta
        add("KerasFusedLayerNormPattern", List.of("FusedBatchNormV3", "Reshape", "Mul", "AddV2"), t -> {
            Output<?> x = t.floats(2, 5, 8);
            Output<?> v = t.apply("Reshape", x, t.ints(1, 10, 8, 1));
            Output<?> empty = t.constant(Tensor.ofFloats(Shape.of(0)));
            Output<?> bn = t.op("FusedBatchNormV3", v, t.constant(Tensor.ofFloats(Shape.of(10), ones(10))),
                    t.constant(Tensor.ofFloats(Shape.of(10), new float[10])), empty, empty)
                    .setAttr("is_training", true).setAttr("epsilon", 1e-3f).setAttr("data_format", "NCHW")
                    .setAttr("U", DataType.DT_FLOAT).build().output(0);
            Output<?> y = t.apply("Reshape", bn, t.ints(2, 5, 8));
            t.output(t.apply("AddV2", t.apply("Mul", y, t.weights(8)), t.weights(8)));
        });
        add("FusedBatchNormV3Training", List.of("FusedBatchNormV3"), t -> {
            Output<?> empty = t.constant(Tensor.ofFloats(Shape.of(0)));
            t.output(t.op("FusedBatchNormV3", t.floats(3, 4, 4, 2), t.weights(2), t.weights(2), empty, empty)
                    .setAttr("is_training", true).setAttr("epsilon", 1e-3f).setAttr("U", DataType.DT_FLOAT).build()
                    .output(0));
        });
        // ops after a convolution read its NCHW output (layout-agnostic ones keep NCHW, the others transpose back)
        add("NchwElementwiseAfterConv", List.of("Conv2D", "Erf", "FloorMod", "Greater", "SelectV2", "ClipByValue",
                "ZerosLike", "IsNan", "Prod"), t -> {
            Output<?> c = t.op("Conv2D", t.floats(2, 6, 6, 3), t.weights(3, 3, 3, 4)).setAttr("strides", ones4())
                    .setAttr("padding", "SAME").build().output(0);
            Output<?> s = t.apply("SelectV2", t.apply("Greater", c, t.weights(4)), t.apply("Erf", c),
                    t.apply("FloorMod", c, t.constant(Tensor.ofFloats(Shape.of(4), 0.7f, -1.1f, 2f, 0.4f))));
            Output<?> z = t.apply("SelectV2", t.apply("IsNan", s), t.apply("ZerosLike", s), s);
            Output<?> clipped = t.apply("ClipByValue", z, t.scalar(-0.8f), t.scalar(0.9f));
            t.output(clipped);
            t.output(t.op("Prod", clipped, t.ints(3)).setAttr("keep_dims", true).build().output(0));
        });
        add("NchwImageOpsAfterConv", List.of("Conv2D", "ResizeBilinear", "DepthToSpace", "LRN", "SpaceToDepth"), t -> {
            Output<?> c = t.op("Conv2D", t.floats(2, 5, 5, 3), t.weights(3, 3, 3, 8)).setAttr("strides", ones4())
                    .setAttr("padding", "SAME").build().output(0);
            Output<?> r = t.op("ResizeBilinear", c, t.ints(6, 6)).setAttr("half_pixel_centers", true).build()
                    .output(0);
            Output<?> d = t.op("DepthToSpace", r).setAttr("block_size", 2L).build().output(0);
            Output<?> l = t.op("LRN", d).setAttr("depth_radius", 1L).build().output(0);
            t.output(t.op("SpaceToDepth", l).setAttr("block_size", 3L).build().output(0));
        });
        // GELU, exact: 0.5 x (1 + erf(x / sqrt 2))
        add("GeluErfPattern", List.of("Erf", "Mul", "AddV2"), t -> {
            Output<?> x = t.floats(2, 3, 8);
            Output<?> erf = t.apply("Erf", t.apply("Mul", x, t.scalar((float) (1 / Math.sqrt(2)))));
            t.output(t.apply("Mul", t.apply("Mul", x, t.scalar(0.5f)), t.apply("AddV2", erf, t.scalar(1f))));
        });
        // tf.nn.gelu(x, approximate=False): 0.5 * x * (1 + erf(x / sqrt 2)), constants first
        add("TfNnGeluPattern", List.of("Erf", "RealDiv", "Mul", "AddV2"), t -> {
            Output<?> x = t.floats(2, 3, 8);
            Output<?> erf = t.apply("Erf", t.apply("RealDiv", x, t.scalar((float) Math.sqrt(2))));
            t.output(t.apply("Mul", t.apply("Mul", t.scalar(0.5f), x), t.apply("AddV2", t.scalar(1f), erf)));
        });
        // GELU, tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
        add("GeluTanhPattern", List.of("Pow", "Tanh", "Mul", "AddV2"), t -> {
            Output<?> x = t.floats(2, 3, 8);
            Output<?> cube = t.apply("Mul", t.apply("Pow", x, t.scalar(3f)), t.scalar(0.044715f));
            Output<?> inner = t.apply("Mul", t.apply("AddV2", x, cube), t.scalar((float) Math.sqrt(2 / Math.PI)));
            t.output(t.apply("Mul", t.apply("Mul", x, t.scalar(0.5f)), t.apply("AddV2", t.apply("Tanh", inner),
                    t.scalar(1f))));
        });
    }
}
