package dev.kiln.tflite;

import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.HandBuiltGraphs;
import dev.kiln.graph.Node;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorType;

/** The hand-built IR graphs of kiln-core's tests ({@link HandBuiltGraphs}) and the ones only the TFLite tests use. */
final class TestGraphs extends HandBuiltGraphs {
    TestGraphs(long seed) {
        super(seed);
    }

    /**
     * The ops no model of ../shared uses, in one graph: EXPLICIT-padded conv, Pad, Transpose, StridedSlice,
     * ExpandDims + Squeeze, Slice, Sub, Maximum, Tanh, Sigmoid, LeakyRelu, Exp, Relu6, Mean with keep_dims, ConcatV2
     * on a negative axis, an un-fused BatchNorm and BiasAdd. Input [?,8,8,4] (batch 2 in the tests), outputs
     * "features" [?,4,4,16] and "summary" [?,1,1,16].
     */
    static Graph coverage(long seed) {
        TestGraphs t = new TestGraphs(seed);
        String x = t.input("x", -1, 8, 8, 4);
        String pad = t.add(t.builder("pad", "Pad", x, t.ints2("pad/paddings", 0, 0, 1, 1, 1, 1, 0, 0)));
        String conv = t.add(t.builder("conv_explicit", "Conv2D", x, t.weights("conv_explicit/kernel", 0.5f, 3, 3, 4, 8))
                .attr("strides", AttrValueInts.of(1, 1, 1, 1)).attr("padding", "EXPLICIT")
                .attr("explicit_paddings", AttrValueInts.of(0, 0, 1, 1, 1, 1, 0, 0)).attr("data_format", "NHWC"));
        String bn = t.batchNorm("bn", conv, 8);
        String act = t.op("tanh", "Tanh", bn);
        String sl = t.add(t.builder("strided", "StridedSlice", pad, t.ints("strided/begin", 0, 1, 1, 0),
                t.ints("strided/end", 0, 9, 9, 4), t.ints("strided/strides", 1, 1, 1, 1)).attr("Index", DType.INT32)
                .attr("begin_mask", 9L).attr("end_mask", 9L).attr("ellipsis_mask", 0L).attr("new_axis_mask", 0L)
                .attr("shrink_axis_mask", 0L));
        String sig = t.op("sigmoid", "Sigmoid", sl);
        String perm = t.add(t.builder("transpose", "Transpose", sig, t.ints("transpose/perm", 0, 2, 1, 3)));
        String leaky = t.add(t.builder("leaky", "LeakyRelu", perm).attr("alpha", 0.1f));
        String cat = t.add(t.builder("concat", "ConcatV2", act, leaky, t.constant("concat/axis", Tensor.scalar(-1))).attr("N", 2L));
        String pool = t.pool("pool", "MaxPool", cat, 2, 2, "VALID");
        String sub = t.op("sub", "Sub", pool, t.weights("sub/c", 0.5f, 12));
        String max = t.op("max", "Maximum", sub, t.weights("max/c", 0.2f, 12));
        String exp = t.op("exp", "Exp", t.op("scaled_down", "Mul", max, t.weights("down", 0.3f, 12)));
        String r6 = t.op("relu6", "Relu6", t.bias("b", exp, 12));
        String dims = t.add(t.builder("expand", "ExpandDims", r6, t.constant("expand/dim", Tensor.scalar(1))));
        String sq = t.add(t.builder("squeeze", "Squeeze", dims).attr("squeeze_dims", AttrValueInts.of(1)));
        String slice = t.add(t.builder("slice", "Slice", sq, t.ints("slice/begin", 0, 0, 0, 0),
                t.ints("slice/size", -1, 4, 4, 12)).attr("Index", DType.INT32));
        String feat = t.add(t.builder("features_cat", "ConcatV2", slice, t.op("neg", "Neg", slice),
                t.constant("features_cat/axis", Tensor.scalar(3))).attr("N", 2L));
        String mean = t.add(t.builder("summary", "Mean", feat, t.ints("summary/axes", 1, 2)).attr("keep_dims", true));
        t.output("features", feat, -1, 4, 4, 24);
        t.output("summary", mean, -1, 1, 1, 24);
        return t.graph();
    }

    /**
     * Resizing, splitting and tiling: ResizeBilinear (half-pixel centers) to 16×16 → Split on channels in two →
     * Tile of the first half ×2 on channels → ResizeNearestNeighbor back to 8×8 = "tiled" [?,8,8,4]; the second
     * half = "second" [?,16,16,2]. Input [?,8,8,4].
     */
    static Graph resizeSplitTile(long seed) {
        TestGraphs t = new TestGraphs(seed);
        String x = t.input("x", -1, 8, 8, 4);
        String up = t.add(t.builder("up", "ResizeBilinear", x, t.ints("up/size", 16, 16))
                .attr("align_corners", false).attr("half_pixel_centers", true));
        String split = t.add(t.builder("split", "Split", t.constant("split/axis", Tensor.scalar(3)), up)
                .attr("num_split", 2L));
        String tiled = t.add(t.builder("tile", "Tile", split + ":0", t.ints("tile/multiples", 1, 1, 1, 2))
                .attr("Tmultiples", DType.INT32));
        String down = t.add(t.builder("down", "ResizeNearestNeighbor", tiled, t.ints("down/size", 8, 8))
                .attr("align_corners", false).attr("half_pixel_centers", true));
        t.output("tiled", down, -1, 8, 8, 4);
        t.output("second", t.op("second", "Relu", split + ":1"), -1, 16, 16, 2);
        return t.graph();
    }

    /**
     * What an unrolled Keras SimpleRNN looks like after import: the input [?,3,4] transposed to time-major and
     * unstacked (Unpack), a zero initial state sized by the run-time batch (Shape → StridedSlice → Pack → Fill), three
     * steps of {@code h = tanh(x_t W + h U)}, and the states packed back (Pack on axis 1). Outputs "h" [?,4] and
     * "sequence" [?,3,4].
     */
    static Graph unrolledRnn(long seed) {
        TestGraphs t = new TestGraphs(seed);
        String x = t.input("x", -1, 3, 4);
        String xt = t.add(t.builder("time_major", "Transpose", x, t.ints("time_major/perm", 1, 0, 2)));
        String steps = t.add(t.builder("steps", "Unpack", xt).attr("num", 3L).attr("axis", 0L));
        // the integer tensors typed as the importer types them (TensorFlow's shape inference)
        String shape = t.add(t.builder("shape", "Shape", x).attr("out_type", DType.INT32)
                .outputType(TensorType.of(DType.INT32, 3)));
        String batch = t.add(t.builder("batch", "StridedSlice", shape, t.ints("batch/begin", 0),
                t.ints("batch/end", 1), t.ints("batch/strides", 1)).attr("T", DType.INT32).attr("Index", DType.INT32)
                .attr("begin_mask", 0L).attr("end_mask", 0L).attr("ellipsis_mask", 0L).attr("new_axis_mask", 0L)
                .attr("shrink_axis_mask", 1L).outputType(TensorType.of(DType.INT32)));
        String dims = t.add(t.builder("state_dims", "Pack", batch, t.constant("units", Tensor.scalar(4)))
                .attr("T", DType.INT32).attr("N", 2L).attr("axis", 0L).outputType(TensorType.of(DType.INT32, 2)));
        String h = t.add(t.builder("h0", "Fill", dims, t.constant("zero", Tensor.scalar(0f)))
                .attr("index_type", DType.INT32));
        String w = t.weights("kernel", 0.6f, 4, 4);
        String u = t.weights("recurrent_kernel", 0.6f, 4, 4);
        String[] states = new String[3];
        for (int k = 0; k < 3; k++) {
            String xw = t.add(t.builder("step" + k + "/xw", "MatMul", steps + ":" + k, w)
                    .attr("transpose_a", false).attr("transpose_b", false));
            String hu = t.add(t.builder("step" + k + "/hu", "MatMul", h, u)
                    .attr("transpose_a", false).attr("transpose_b", false));
            h = t.op("step" + k + "/h", "Tanh", t.op("step" + k + "/sum", "AddV2", xw, hu));
            states[k] = h;
        }
        String seq = t.add(t.builder("sequence", "Pack", states).attr("N", 3L).attr("axis", 1L));
        t.output("h", h, -1, 4);
        t.output("sequence", seq, -1, 3, 4);
        return t.graph();
    }

    /**
     * What a masked Keras Bidirectional RNN and friends need beside the cell: x [?,6,8] reversed in time (ReverseV2 on
     * axis 1, and on axes [-1, 1]), a SelectV2 whose bool mask [?,6,1] broadcasts over the features, one whose "else"
     * is the scalar 0, a TF1 Select whose rank-1 condition [?] picks whole batch rows, and Sign, Round,
     * SquaredDifference and two Cumsums (exclusive; reversed on axis -2) concatenated on the last axis. Outputs
     * "masked" [?,6,8], "rows" [?,6,8] and "math" [?,6,40].
     */
    static Graph maskedBidirectional(long seed) {
        TestGraphs t = new TestGraphs(seed);
        String x = t.input("x", -1, 6, 8);
        String mask = t.boolInput("mask", -1, 6, 1);
        String rows = t.boolInput("rows", -1);
        String backward = t.add(t.builder("backward", "ReverseV2", x, t.ints("backward/axis", 1))
                .attr("Tidx", DType.INT32));
        String both = t.add(t.builder("both", "ReverseV2", x, t.ints("both/axis", -1, 1)).attr("Tidx", DType.INT32));
        String picked = t.op("picked", "SelectV2", mask, x, backward);
        String masked = t.op("masked", "SelectV2", mask, picked, t.constant("zero", Tensor.scalar(0f)));
        // typed as the importer types it (TensorFlow's shape inference): that tells a row pick from an element-wise one
        String byRow = t.add(t.builder("by_row", "Select", rows, both, t.op("scaled", "Mul", x, t.weights("scale", 1f, 8)))
                .outputType(TensorType.of(DType.FLOAT, -1, 6, 8)));
        String sign = t.op("sign", "Sign", x);
        String round = t.op("round", "Round", t.op("times3", "Mul", x, t.constant("three", Tensor.scalar(3f))));
        String sqd = t.op("sqd", "SquaredDifference", x, backward);
        // one exclusive, one reversed: a swapped option slot shows
        String cum = t.add(t.builder("cumsum", "Cumsum", x, t.constant("cumsum/axis", Tensor.scalar(1)))
                .attr("Tidx", DType.INT32).attr("exclusive", true).attr("reverse", false));
        String cumRev = t.add(t.builder("cumsum_reverse", "Cumsum", x, t.constant("cumsum_reverse/axis",
                Tensor.scalar(-2))).attr("Tidx", DType.INT32).attr("exclusive", false).attr("reverse", true));
        String math = t.add(t.builder("math", "ConcatV2", sign, round, sqd, cum, cumRev,
                t.constant("math/axis", Tensor.scalar(2))).attr("N", 5L));
        t.output("masked", masked, -1, 6, 8);
        t.output("rows", byRow, -1, 6, 8);
        t.output("math", math, -1, 6, 40);
        return t.graph();
    }

    /**
     * Index ops: ArgMin over the last axis (int64, TF's default) and ArgMax over axis 1 (int32) of x [?,6,8], and
     * OneHot of int32 ids [?,5] (values 0..3) at depth 4 on a new last axis and at depth 3 on axis 1 (id 3 then gives a
     * column of off_value). Outputs "argmin" [?,6], "argmax" [?,8], "onehot" [?,5,4], "onehot_axis1" [?,3,5].
     */
    static Graph indices(long seed) {
        TestGraphs t = new TestGraphs(seed);
        String x = t.input("x", -1, 6, 8);
        t.graph().add(Node.builder("ids", "Placeholder").attr("dtype", DType.INT32)
                .outputType(TensorType.of(DType.INT32, -1, 5)).build());
        t.graph().addInput(new SignatureTensor("ids", TensorRef.of("ids", 0), TensorType.of(DType.INT32, -1, 5)));
        String argmin = t.add(t.builder("argmin", "ArgMin", x, t.constant("argmin/axis", Tensor.scalar(-1)))
                .attr("Tidx", DType.INT32).attr("output_type", DType.INT64)
                .outputType(TensorType.of(DType.INT64, -1, 6)));
        String argmax = t.add(t.builder("argmax", "ArgMax", x, t.constant("argmax/axis", Tensor.scalar(1)))
                .attr("Tidx", DType.INT32).attr("output_type", DType.INT32)
                .outputType(TensorType.of(DType.INT32, -1, 8)));
        String on = t.constant("on", Tensor.scalar(2.5f));
        String off = t.constant("off", Tensor.scalar(-1f));
        String oneHot = t.add(t.builder("onehot", "OneHot", "ids", t.constant("depth4", Tensor.scalar(4)), on, off)
                .attr("TI", DType.INT32).attr("axis", -1L));
        String oneHot1 = t.add(t.builder("onehot_axis1", "OneHot", "ids", t.constant("depth3", Tensor.scalar(3)), on,
                off).attr("TI", DType.INT32).attr("axis", 1L));
        t.graph().addOutput(new SignatureTensor("argmin", TensorRef.parse(argmin), TensorType.of(DType.INT64, -1, 6)));
        t.graph().addOutput(new SignatureTensor("argmax", TensorRef.parse(argmax), TensorType.of(DType.INT32, -1, 8)));
        t.output("onehot", oneHot, -1, 5, 4);
        t.output("onehot_axis1", oneHot1, -1, 3, 5);
        return t.graph();
    }

    String boolInput(String name, long... dims) {
        graph().add(Node.builder(name, "Placeholder").attr("dtype", DType.BOOL)
                .outputType(TensorType.of(DType.BOOL, dims)).build());
        graph().addInput(new SignatureTensor(name, TensorRef.of(name, 0), TensorType.of(DType.BOOL, dims)));
        return name;
    }

    String ints2(String name, int... v) {
        return constant(name, Tensor.ofInts(Shape.of(v.length / 2, 2), v));
    }
}
