package dev.kiln.tensorflow;

import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.FunctionDefLibrary;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.OpDef;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;

import static dev.kiln.tensorflow.WhileLoopGraphs.arg;
import static dev.kiln.tensorflow.WhileLoopGraphs.constInts;
import static dev.kiln.tensorflow.WhileLoopGraphs.constScalarInt;
import static dev.kiln.tensorflow.WhileLoopGraphs.constTensor;
import static dev.kiln.tensorflow.WhileLoopGraphs.func;
import static dev.kiln.tensorflow.WhileLoopGraphs.node;
import static dev.kiln.tensorflow.WhileLoopGraphs.placeholder;
import static dev.kiln.tensorflow.WhileLoopGraphs.type;
import static dev.kiln.tensorflow.WhileLoopGraphs.types;

/**
 * A frozen GraphDef that calls a function written as Keras 2 writes {@code standard_gru} (keras/layers/rnn/gru.py with
 * backend.rnn: the CPU implementation of {@code tf.keras.layers.GRU} with reset_after, tagged {@code api_implements}
 * {@code gru_...}): the input made time-major (and reversed for go_backwards) and unstacked into a TensorList, a
 * StatelessWhile over the steps whose body computes {@code z = σ(x Wz + bz + h Uz + rbz)}, {@code r} likewise,
 * {@code hh = tanh(x Wh + bh + r ⊙ (h Uh + rbh))}, {@code h = z ⊙ h + (1 − z) ⊙ hh} and writes h into a reserved list
 * (one item, at index 0, without return_sequences), then the stack, its last row, and the batch-major outputs.
 * No Keras GRU SavedModel is at hand (no Python TensorFlow here); TensorFlow runs this one as written.
 *
 * <p>Inputs {@code x} [-1, steps, 3] and {@code h0} [-1, 4]; outputs {@code last} [batch, 4], {@code sequence}
 * [batch, steps or 1, 4], {@code h} [batch, 4].
 */
public final class KerasGruGraphs {
    static final int FEATURES = 3;
    static final int UNITS = 4;
    private static final DataType F = DataType.DT_FLOAT;
    private static final DataType I = DataType.DT_INT32;
    private static final DataType V = DataType.DT_VARIANT;

    private KerasGruGraphs() {
    }

    /** Writes the graph ({@code steps} -1: any number of time steps) to {@code file}. */
    public static Path gru(Path file, long steps, boolean returnSequences, boolean goBackwards) throws IOException {
        Random r = new Random(5);
        GraphDef gd = GraphDef.newBuilder()
                .addNode(placeholder("x", Shape.of(-1, steps, FEATURES)))
                .addNode(placeholder("h0", Shape.of(-1, UNITS)))
                .addNode(constTensor("kernel", random(r, FEATURES, 3 * UNITS)))
                .addNode(constTensor("recurrent_kernel", random(r, UNITS, 3 * UNITS)))
                .addNode(constTensor("bias", random(r, 2, 3 * UNITS)))
                .addNode(node("gru", "PartitionedCall", "x", "h0", "kernel", "recurrent_kernel", "bias")
                        .putAttr("Tin", types(F, F, F, F, F)).putAttr("Tout", types(F, F, F, F))
                        .putAttr("f", func("standard_gru")))
                .addNode(node("last", "Identity", "gru:0").putAttr("T", type(F)))
                .addNode(node("sequence", "Identity", "gru:1").putAttr("T", type(F)))
                .addNode(node("h", "Identity", "gru:2").putAttr("T", type(F)))
                .setLibrary(FunctionDefLibrary.newBuilder().addFunction(standardGru(returnSequences, goBackwards))
                        .addFunction(cond()).addFunction(body(returnSequences)))
                .build();
        Files.write(file, gd.toByteArray());
        return file;
    }

    private static Tensor random(Random r, int rows, int cols) {
        float[] w = new float[rows * cols];
        for (int i = 0; i < w.length; i++) {
            w[i] = (float) r.nextGaussian() * 0.5f;
        }
        return Tensor.ofFloats(Shape.of(rows, cols), w);
    }

    private static FunctionDef standardGru(boolean returnSequences, boolean goBackwards) {
        OpDef.Builder s = OpDef.newBuilder().setName("standard_gru");
        for (String a : new String[] {"inputs", "init_h", "kernel", "recurrent_kernel", "bias"}) {
            s.addInputArg(arg(a, F));
        }
        for (String o : new String[] {"identity", "identity_1", "identity_2", "identity_3"}) {
            s.addOutputArg(arg(o, F));
        }
        String timeMajor = goBackwards ? "reversed:output:0" : "transpose:y:0";
        FunctionDef.Builder f = FunctionDef.newBuilder().setSignature(s)
                .putAttr("api_implements", AttrValue.newBuilder().setS(com.google.protobuf.ByteString
                        .copyFromUtf8("gru_0b9d2f5e-kiln-test")).build())
                .putAttr("api_preferred_device", AttrValue.newBuilder().setS(com.google.protobuf.ByteString
                        .copyFromUtf8("CPU")).build())
                .putAttr("go_backwards", AttrValue.newBuilder().setB(goBackwards).build())
                .putAttr("time_major", AttrValue.newBuilder().setB(false).build())
                .addNodeDef(constInts("perm", 1, 0, 2))
                .addNodeDef(node("transpose", "Transpose", "inputs", "perm:output:0").putAttr("T", type(F))
                        .putAttr("Tperm", type(I)))
                .addNodeDef(constInts("axis0", 0))
                .addNodeDef(node("reversed", "ReverseV2", "transpose:y:0", "axis0:output:0").putAttr("T", type(F))
                        .putAttr("Tidx", type(I)))
                .addNodeDef(node("shape", "Shape", "transpose:y:0").putAttr("T", type(F)).putAttr("out_type", type(I)))
                .addNodeDef(constInts("b0", 0)).addNodeDef(constInts("e1", 1)).addNodeDef(constInts("s1", 1))
                .addNodeDef(node("steps", "StridedSlice", "shape:output:0", "b0:output:0", "e1:output:0", "s1:output:0")
                        .putAttr("T", type(I)).putAttr("Index", type(I))
                        .putAttr("shrink_axis_mask", AttrValue.newBuilder().setI(1).build()))
                .addNodeDef(node("unstack", "Unpack", "bias").putAttr("T", type(F))
                        .putAttr("num", AttrValue.newBuilder().setI(2).build())
                        .putAttr("axis", AttrValue.newBuilder().setI(0).build()))
                .addNodeDef(constInts("in_elem", -1, FEATURES))
                .addNodeDef(node("ta", "TensorListFromTensor", timeMajor, "in_elem:output:0")
                        .putAttr("element_dtype", type(F)).putAttr("shape_type", type(I)))
                .addNodeDef(constInts("out_elem", -1, UNITS))
                .addNodeDef(constScalarInt("one_item", 1))
                .addNodeDef(node("out_ta", "TensorListReserve", "out_elem:output:0",
                        returnSequences ? "steps:output:0" : "one_item:output:0")
                        .putAttr("element_dtype", type(F)).putAttr("shape_type", type(I)))
                .addNodeDef(constScalarInt("time", 0))
                .addNodeDef(node("while", "StatelessWhile", "time:output:0", "init_h", "out_ta:handle:0",
                        "steps:output:0", "ta:output_handle:0", "kernel", "recurrent_kernel", "unstack:output:0",
                        "unstack:output:1")
                        .putAttr("T", types(I, F, V, I, V, F, F, F, F)).putAttr("cond", func("gru_cond"))
                        .putAttr("body", func("gru_body")))
                .addNodeDef(node("stack", "TensorListStack", "while:output:2", "out_elem:output:0")
                        .putAttr("element_dtype", type(F)))
                .addNodeDef(constInts("last_b", -1)).addNodeDef(constInts("last_e", 0))
                .addNodeDef(node("last_output", "StridedSlice", "stack:tensor:0", "last_b:output:0",
                        "last_e:output:0", "s1:output:0").putAttr("T", type(F)).putAttr("Index", type(I))
                        .putAttr("shrink_axis_mask", AttrValue.newBuilder().setI(1).build()))
                .addNodeDef(node("outputs", "Transpose", "stack:tensor:0", "perm:output:0").putAttr("T", type(F))
                        .putAttr("Tperm", type(I)))
                .addNodeDef(constTensor("runtime", Tensor.scalar(1f)));
        return f.putRet("identity", "last_output:output:0").putRet("identity_1", "outputs:y:0")
                .putRet("identity_2", "while:output:1").putRet("identity_3", "runtime:output:0").build();
    }

    private static OpDef.Builder loopSignature(String name) {
        OpDef.Builder s = OpDef.newBuilder().setName(name);
        String[] names = {"time", "h", "out_ta", "steps", "ta", "kernel", "recurrent_kernel", "input_bias",
                "recurrent_bias"};
        DataType[] t = {I, F, V, I, V, F, F, F, F};
        for (int k = 0; k < names.length; k++) {
            s.addInputArg(arg(names[k], t[k]));
        }
        return s;
    }

    private static FunctionDef cond() {
        return FunctionDef.newBuilder().setSignature(loopSignature("gru_cond").addOutputArg(arg("go", DataType.DT_BOOL)))
                .addNodeDef(node("less", "Less", "time", "steps").putAttr("T", type(I)))
                .putRet("go", "less:z:0").build();
    }

    private static FunctionDef body(boolean returnSequences) {
        OpDef.Builder s = loopSignature("gru_body");
        String[] outs = {"time_next", "h_next", "out_ta_next", "steps_out", "ta_out", "kernel_out", "rk_out",
                "ib_out", "rb_out"};
        DataType[] t = {I, F, V, I, V, F, F, F, F};
        for (int k = 0; k < outs.length; k++) {
            s.addOutputArg(arg(outs[k], t[k]));
        }
        FunctionDef.Builder f = FunctionDef.newBuilder().setSignature(s)
                .addNodeDef(constInts("in_elem", -1, FEATURES))
                .addNodeDef(node("x_t", "TensorListGetItem", "ta", "time", "in_elem:output:0")
                        .putAttr("element_dtype", type(F)))
                .addNodeDef(node("matrix_x", "MatMul", "x_t:item:0", "kernel").putAttr("T", type(F)))
                .addNodeDef(node("matrix_x_b", "BiasAdd", "matrix_x:product:0", "input_bias").putAttr("T", type(F)))
                .addNodeDef(constScalarInt("split_dim", 1))
                .addNodeDef(node("split_x", "Split", "split_dim:output:0", "matrix_x_b:output:0").putAttr("T", type(F))
                        .putAttr("num_split", AttrValue.newBuilder().setI(3).build()))
                .addNodeDef(node("matrix_inner", "MatMul", "h", "recurrent_kernel").putAttr("T", type(F)))
                .addNodeDef(node("matrix_inner_b", "BiasAdd", "matrix_inner:product:0", "recurrent_bias")
                        .putAttr("T", type(F)))
                .addNodeDef(node("split_inner", "Split", "split_dim:output:0", "matrix_inner_b:output:0")
                        .putAttr("T", type(F)).putAttr("num_split", AttrValue.newBuilder().setI(3).build()))
                .addNodeDef(node("z_sum", "AddV2", "split_x:output:0", "split_inner:output:0").putAttr("T", type(F)))
                .addNodeDef(node("z", "Sigmoid", "z_sum:z:0").putAttr("T", type(F)))
                .addNodeDef(node("r_sum", "AddV2", "split_x:output:1", "split_inner:output:1").putAttr("T", type(F)))
                .addNodeDef(node("r", "Sigmoid", "r_sum:z:0").putAttr("T", type(F)))
                .addNodeDef(node("r_h", "Mul", "r:y:0", "split_inner:output:2").putAttr("T", type(F)))
                .addNodeDef(node("hh_sum", "AddV2", "split_x:output:2", "r_h:z:0").putAttr("T", type(F)))
                .addNodeDef(node("hh", "Tanh", "hh_sum:z:0").putAttr("T", type(F)))
                .addNodeDef(node("z_h", "Mul", "z:y:0", "h").putAttr("T", type(F)))
                .addNodeDef(constTensor("one_f", Tensor.scalar(1f)))
                .addNodeDef(node("one_minus_z", "Sub", "one_f:output:0", "z:y:0").putAttr("T", type(F)))
                .addNodeDef(node("z_hh", "Mul", "one_minus_z:z:0", "hh:y:0").putAttr("T", type(F)))
                .addNodeDef(node("h_new", "AddV2", "z_h:z:0", "z_hh:z:0").putAttr("T", type(F)))
                .addNodeDef(constScalarInt("zero_index", 0))
                .addNodeDef(node("write", "TensorListSetItem", "out_ta", returnSequences ? "time" : "zero_index:output:0",
                        "h_new:z:0").putAttr("element_dtype", type(F)))
                .addNodeDef(constScalarInt("one", 1))
                .addNodeDef(node("time_plus_1", "AddV2", "time", "one:output:0").putAttr("T", type(I)));
        return f.putRet("time_next", "time_plus_1:z:0").putRet("h_next", "h_new:z:0")
                .putRet("out_ta_next", "write:output_handle:0").putRet("steps_out", "steps").putRet("ta_out", "ta")
                .putRet("kernel_out", "kernel").putRet("rk_out", "recurrent_kernel").putRet("ib_out", "input_bias")
                .putRet("rb_out", "recurrent_bias").build();
    }
}
