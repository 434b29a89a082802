package dev.kiln.tensorflow;

import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.FunctionDefLibrary;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NameAttrList;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.OpDef;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;

/**
 * A frozen GraphDef with TF2 functional control flow written the way Keras' RNN loop is (a SimpleRNN cell): the
 * input is transposed to time-major and unstacked into a TensorList, a StatelessWhile runs
 * {@code h = tanh(x_t W + h)} over the time steps (counter against the time dimension read from a Shape), then a
 * StatelessCase on the step's parity doubles h at even steps and negates it at odd ones, and each h is written into
 * a reserved TensorList that is stacked after the loop; then a StatelessIf whose predicate (time steps greater than
 * 2) is known once the shape is, doubling h in its then-branch and negating it in its else-branch. TensorFlow runs it
 * as written; it is the oracle.
 *
 * <p>Outputs: {@code y} [batch, steps, 3] (every h), {@code h_last} [batch, 3], {@code z} [batch, 3].
 */
public final class WhileLoopGraphs {
    private static final DataType F = DataType.DT_FLOAT;
    private static final DataType I = DataType.DT_INT32;
    private static final DataType V = DataType.DT_VARIANT;

    private WhileLoopGraphs() {
    }

    /** Writes the graph with input {@code x} of shape [-1, steps, 3] ({@code steps} -1: unknown) to {@code file}. */
    public static Path rnn(Path file, long steps) throws IOException {
        return rnn(file, steps, true);
    }

    /**
     * {@link #rnn(Path, long)} written with the stateful ops (While, If, Case) or, {@code stateless}, their Stateless
     * forms. The stateful form also writes its loop condition as {@code LogicalAnd(i < n, i < n)}, the same test but not
     * a counted loop's single Less, so that exporters' general form of a loop is exercised too.
     */
    public static Path rnn(Path file, long steps, boolean stateless) throws IOException {
        String prefix = stateless ? "Stateless" : "";
        GraphDef gd = GraphDef.newBuilder()
                .addNode(placeholder("x", Shape.of(-1, steps, 3)))
                .addNode(placeholder("h0", Shape.of(-1, 3)))
                .addNode(constInts("perm", 1, 0, 2))
                .addNode(node("xt", "Transpose", "x", "perm").putAttr("T", type(F)).putAttr("Tperm", type(I)))
                .addNode(node("shape", "Shape", "xt").putAttr("T", type(F)).putAttr("out_type", type(I)))
                .addNode(constInts("b", 0)).addNode(constInts("e", 1)).addNode(constInts("s", 1))
                .addNode(node("steps", "StridedSlice", "shape", "b", "e", "s").putAttr("T", type(I))
                        .putAttr("Index", type(I)).putAttr("shrink_axis_mask", AttrValue.newBuilder().setI(1).build()))
                .addNode(constInts("elem_shape", -1, 3))
                .addNode(node("ta", "TensorListFromTensor", "xt", "elem_shape").putAttr("element_dtype", type(F))
                        .putAttr("shape_type", type(I)))
                .addNode(node("out_ta", "TensorListReserve", "elem_shape", "steps").putAttr("element_dtype", type(F))
                        .putAttr("shape_type", type(I)))
                .addNode(constScalarInt("zero", 0))
                .addNode(constTensor("w", weights()))
                .addNode(node("loop", prefix + "While", "zero", "h0", "out_ta", "steps", "ta", "w")
                        .putAttr("T", types(I, F, V, I, V, F)).putAttr("cond", func("loop_cond"))
                        .putAttr("body", func("loop_body")))
                .addNode(node("stack", "TensorListStack", "loop:2", "elem_shape").putAttr("element_dtype", type(F)))
                .addNode(node("y", "Transpose", "stack", "perm").putAttr("T", type(F)).putAttr("Tperm", type(I)))
                .addNode(node("h_last", "Identity", "loop:1").putAttr("T", type(F)))
                .addNode(constScalarInt("two", 2))
                .addNode(node("long_enough", "Greater", "steps", "two").putAttr("T", type(I)))
                .addNode(node("branch", prefix + "If", "long_enough", "loop:1").putAttr("Tcond", type(DataType.DT_BOOL))
                        .putAttr("Tin", types(F)).putAttr("Tout", types(F))
                        .putAttr("then_branch", func("double_it")).putAttr("else_branch", func("negate_it")))
                .addNode(node("z", "Identity", "branch").putAttr("T", type(F)))
                .setLibrary(FunctionDefLibrary.newBuilder().addFunction(cond(stateless)).addFunction(body(prefix))
                        .addFunction(doubleIt()).addFunction(negateIt()))
                .build();
        Files.write(file, gd.toByteArray());
        return file;
    }

    private static Tensor weights() {
        Random r = new Random(11);
        float[] w = new float[9];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) r.nextGaussian() * 0.5f;
        }
        return Tensor.ofFloats(Shape.of(3, 3), w);
    }

    private static OpDef.Builder loopSignature(String name) {
        OpDef.Builder s = OpDef.newBuilder().setName(name);
        String[] names = {"i", "h", "out_ta", "n", "ta", "w"};
        DataType[] types = {I, F, V, I, V, F};
        for (int k = 0; k < names.length; k++) {
            s.addInputArg(OpDef.ArgDef.newBuilder().setName(names[k]).setType(types[k]));
        }
        return s;
    }

    private static FunctionDef cond(boolean singleLess) {
        FunctionDef.Builder f = FunctionDef.newBuilder()
                .setSignature(loopSignature("loop_cond").addOutputArg(arg("go", DataType.DT_BOOL)))
                .addNodeDef(node("less", "Less", "i", "n").putAttr("T", type(I)));
        if (singleLess) {
            return f.putRet("go", "less:z:0").build();
        }
        return f.addNodeDef(node("both", "LogicalAnd", "less:z:0", "less:z:0")).putRet("go", "both:z:0").build();
    }

    private static FunctionDef body(String prefix) {
        OpDef.Builder s = loopSignature("loop_body");
        String[] outs = {"i_next", "h_next", "out_ta_next", "n_out", "ta_out", "w_out"};
        DataType[] types = {I, F, V, I, V, F};
        for (int k = 0; k < outs.length; k++) {
            s.addOutputArg(arg(outs[k], types[k]));
        }
        return FunctionDef.newBuilder().setSignature(s)
                .addNodeDef(constInts("elem_shape", -1, 3))
                .addNodeDef(node("x_t", "TensorListGetItem", "ta", "i", "elem_shape:output:0")
                        .putAttr("element_dtype", type(F)))
                .addNodeDef(node("xw", "MatMul", "x_t:item:0", "w").putAttr("T", type(F)))
                .addNodeDef(node("sum", "AddV2", "xw:product:0", "h").putAttr("T", type(F)))
                .addNodeDef(node("h_tanh", "Tanh", "sum:z:0").putAttr("T", type(F)))
                .addNodeDef(constScalarInt("two", 2))
                .addNodeDef(node("parity", "FloorMod", "i", "two:output:0").putAttr("T", type(I)))
                .addNodeDef(node("h_new", prefix + "Case", "parity:z:0", "h_tanh:y:0").putAttr("Tin", types(F))
                        .putAttr("Tout", types(F)).putAttr("branches", AttrValue.newBuilder().setList(
                                AttrValue.ListValue.newBuilder().addFunc(NameAttrList.newBuilder().setName("double_it"))
                                        .addFunc(NameAttrList.newBuilder().setName("negate_it"))).build()))
                .addNodeDef(node("write", "TensorListSetItem", "out_ta", "i", "h_new:output:0")
                        .putAttr("element_dtype", type(F)))
                .addNodeDef(constScalarInt("one", 1))
                .addNodeDef(node("i_plus_1", "AddV2", "i", "one:output:0").putAttr("T", type(I)))
                .putRet("i_next", "i_plus_1:z:0").putRet("h_next", "h_new:output:0")
                .putRet("out_ta_next", "write:output_handle:0").putRet("n_out", "n").putRet("ta_out", "ta")
                .putRet("w_out", "w").build();
    }

    private static FunctionDef doubleIt() {
        return FunctionDef.newBuilder()
                .setSignature(OpDef.newBuilder().setName("double_it").addInputArg(arg("h", F))
                        .addOutputArg(arg("out", F)))
                .addNodeDef(constTensor("two_f", Tensor.scalar(2f)))
                .addNodeDef(node("twice", "Mul", "h", "two_f:output:0").putAttr("T", type(F)))
                .putRet("out", "twice:z:0").build();
    }

    private static FunctionDef negateIt() {
        return FunctionDef.newBuilder()
                .setSignature(OpDef.newBuilder().setName("negate_it").addInputArg(arg("h", F))
                        .addOutputArg(arg("out", F)))
                .addNodeDef(node("neg", "Neg", "h").putAttr("T", type(F)))
                .putRet("out", "neg:y:0").build();
    }

    // ---- NodeDef helpers ----

    static OpDef.ArgDef.Builder arg(String name, DataType t) {
        return OpDef.ArgDef.newBuilder().setName(name).setType(t);
    }

    static NodeDef.Builder node(String name, String op, String... inputs) {
        return NodeDef.newBuilder().setName(name).setOp(op).addAllInput(List.of(inputs));
    }

    static AttrValue type(DataType t) {
        return AttrValue.newBuilder().setType(t).build();
    }

    static AttrValue types(DataType... ts) {
        AttrValue.ListValue.Builder l = AttrValue.ListValue.newBuilder();
        for (DataType t : ts) {
            l.addType(t);
        }
        return AttrValue.newBuilder().setList(l).build();
    }

    static AttrValue func(String name) {
        return AttrValue.newBuilder().setFunc(NameAttrList.newBuilder().setName(name)).build();
    }

    static NodeDef placeholder(String name, Shape shape) {
        return node(name, "Placeholder").putAttr("dtype", type(F))
                .putAttr("shape", AttrValue.newBuilder().setShape(GraphDefs.toProto(shape)).build()).build();
    }

    static NodeDef.Builder constTensor(String name, Tensor t) {
        return node(name, "Const").putAttr("dtype", type(DataType.forNumber(t.dtype().tfCode())))
                .putAttr("value", AttrValue.newBuilder().setTensor(GraphDefs.toProto(t)).build());
    }

    static NodeDef.Builder constInts(String name, int... v) {
        return constTensor(name, Tensor.ofInts(Shape.of(v.length), v));
    }

    static NodeDef.Builder constScalarInt(String name, int v) {
        return constTensor(name, Tensor.scalar(v));
    }
}
