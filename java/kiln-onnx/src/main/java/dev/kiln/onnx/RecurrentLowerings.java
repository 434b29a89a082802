package dev.kiln.onnx;

import dev.kiln.KilnException;
import dev.kiln.graph.AttrValue;
import dev.kiln.graph.Node;
import dev.kiln.graph.RecurrentCall;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import dev.kiln.onnx.OnnxEmitter.Layout;
import dev.kiln.onnx.OnnxEmitter.Val;

import java.util.List;

import static dev.kiln.onnx.OnnxEmitter.F32;
import static dev.kiln.onnx.OnnxEmitter.attr;

/**
 * Recurrent layers kept whole at import ({@link RecurrentCall}): a Keras LSTM becomes one ONNX {@code LSTM} and a
 * Keras GRU one ONNX {@code GRU} (linear_before_reset, Keras's reset_after), as tf2onnx's rewriters make of the same
 * loops, so ONNX Runtime and TensorRT run their own kernels and the sequence length stays free. Computed in float32
 * under every precision: ONNX Runtime's CPU LSTM and GRU are float32 only, and its static quantizer leaves them in
 * float too.
 */
final class RecurrentLowerings {
    /** ONNX's gate order i, o, f, c, as indices of Keras's column blocks i, f, c, o. */
    private static final int[] KERAS_BLOCK_OF_ONNX_GATE = {0, 3, 1, 2};

    private RecurrentLowerings() {
    }

    static void register(OnnxLowerings.Table t) {
        t.add("PartitionedCall", "LSTM or GRU (a Keras LSTM or GRU kept whole; Transpose, Squeeze around it)", 13,
                RecurrentLowerings::call);
    }

    private static void call(OnnxEmitter e, Node n) {
        RecurrentCall rc = RecurrentCall.of(n);
        if (rc == null) {
            String f = n.attrs().get("f") instanceof AttrValue.Func fn ? fn.name() : "?";
            throw KilnException.unsupported("node '" + n.name() + "' calls function '" + f + "', which is not a "
                    + "recurrent layer Kiln keeps whole; only a kept Keras LSTM or GRU call has an ONNX lowering");
        }
        switch (rc.kind()) {
            case KERAS_LSTM -> kerasLstm(e, n, rc);
            case KERAS_GRU -> kerasGru(e, n, rc);
        }
    }

    private static void kerasLstm(OnnxEmitter e, Node n, RecurrentCall rc) {
        float[] kernel = OnnxTensors.floats(e.requireConst(n, 3, "the LSTM's kernel"));
        Tensor recurrentTensor = e.requireConst(n, 4, "the LSTM's recurrent kernel");
        float[] recurrent = OnnxTensors.floats(recurrentTensor);
        float[] bias = OnnxTensors.floats(e.requireConst(n, 5, "the LSTM's bias"));
        int h = (int) recurrentTensor.shape().dim(0);
        int in = kernel.length / (4 * h);
        if (recurrent.length != 4 * h * h || bias.length != 4 * h || kernel.length != 4 * h * in) {
            throw KilnException.invalidModel("node '" + n.name() + "' (Keras LSTM): kernel, recurrent kernel and bias "
                    + "do not fit one hidden size (" + kernel.length + ", " + recurrent.length + ", " + bias.length
                    + " values; hidden size " + h + ")");
        }
        String w = e.init(n.name() + "/W", Tensor.ofFloats(Shape.of(1, 4L * h, in), gatesByRow(kernel, in, h)));
        String r = e.init(n.name() + "/R", Tensor.ofFloats(Shape.of(1, 4L * h, h), gatesByRow(recurrent, h, h)));
        float[] b = new float[8 * h]; // input bias, then a recurrent bias of zeros (Keras has one bias)
        for (int g = 0; g < 4; g++) {
            System.arraycopy(bias, KERAS_BLOCK_OF_ONNX_GATE[g] * h, b, g * h, h);
        }
        String bs = e.init(n.name() + "/B", Tensor.ofFloats(Shape.of(1, 8L * h), b));

        String x = timeMajorInput(e, n, rc);
        String h0 = unsqueeze(e, n.name() + "/h0", e.get(n.input(1), Layout.NATIVE, F32).name(), 0);
        String c0 = unsqueeze(e, n.name() + "/c0", e.get(n.input(2), Layout.NATIVE, F32).name(), 0);
        List<String> outs = e.addMulti("LSTM", n.name() + "/lstm", List.of(x, w, r, bs, "", h0, c0), 3,
                attr("hidden_size", (long) h), attr("direction", rc.goBackwards() ? "reverse" : "forward"));
        String last = squeeze(e, n.name() + "/h", outs.get(1), 0);   // Y_h [1,B,H] -> [B,H]
        String cell = squeeze(e, n.name() + "/c", outs.get(2), 0);
        e.put(n, 0, new Val(last, Layout.NATIVE, F32, 2));
        e.put(n, 1, new Val(sequence(e, n, rc, outs.get(0), last), Layout.NATIVE, F32, 3));
        e.put(n, 2, new Val(last, Layout.NATIVE, F32, 2));
        e.put(n, 3, new Val(cell, Layout.NATIVE, F32, 2));
        e.put(n, 4, runtime(e, n));
    }

    /**
     * Keras's GRU with reset_after: {@code hh = tanh(x Wh + bh + r ⊙ (h Uh + rbh))}, which is ONNX's GRU with
     * linear_before_reset = 1; both order the gates z, r, h, so the matrices are only transposed, and the [2, 3H] bias
     * is ONNX's input bias then recurrent bias.
     */
    private static void kerasGru(OnnxEmitter e, Node n, RecurrentCall rc) {
        float[] kernel = OnnxTensors.floats(e.requireConst(n, 2, "the GRU's kernel"));
        Tensor recurrentTensor = e.requireConst(n, 3, "the GRU's recurrent kernel");
        float[] recurrent = OnnxTensors.floats(recurrentTensor);
        Tensor biasTensor = e.requireConst(n, 4, "the GRU's bias");
        float[] bias = OnnxTensors.floats(biasTensor);
        int h = (int) recurrentTensor.shape().dim(0);
        int in = kernel.length / (3 * h);
        if (recurrent.length != 3 * h * h || bias.length != 6 * h || kernel.length != 3 * h * in) {
            throw KilnException.unsupported("node '" + n.name() + "' (Keras GRU): kernel, recurrent kernel and bias "
                    + "do not fit one hidden size with reset_after's [2, 3H] bias (" + kernel.length + ", "
                    + recurrent.length + ", " + bias.length + " values; hidden size " + h + ")");
        }
        String w = e.init(n.name() + "/W", Tensor.ofFloats(Shape.of(1, 3L * h, in), transposed(kernel, in, 3 * h)));
        String r = e.init(n.name() + "/R", Tensor.ofFloats(Shape.of(1, 3L * h, h), transposed(recurrent, h, 3 * h)));
        String bs = e.init(n.name() + "/B", Tensor.ofFloats(Shape.of(1, 6L * h), bias));
        String x = timeMajorInput(e, n, rc);
        String h0 = unsqueeze(e, n.name() + "/h0", e.get(n.input(1), Layout.NATIVE, F32).name(), 0);
        List<String> outs = e.addMulti("GRU", n.name() + "/gru", List.of(x, w, r, bs, "", h0), 2,
                attr("hidden_size", (long) h), attr("direction", rc.goBackwards() ? "reverse" : "forward"),
                attr("linear_before_reset", 1L));
        String last = squeeze(e, n.name() + "/h", outs.get(1), 0);
        e.put(n, 0, new Val(last, Layout.NATIVE, F32, 2));
        e.put(n, 1, new Val(sequence(e, n, rc, outs.get(0), last), Layout.NATIVE, F32, 3));
        e.put(n, 2, new Val(last, Layout.NATIVE, F32, 2));
        e.put(n, 3, runtime(e, n));
    }

    /** The layer's input as ONNX wants it: [T, B, I]. */
    private static String timeMajorInput(OnnxEmitter e, Node n, RecurrentCall rc) {
        String x = e.get(n.input(0), Layout.NATIVE, F32).name();
        return rc.timeMajor() ? x : e.add("Transpose", n.name() + "/time_major", List.of(x),
                OnnxEmitter.attrs("perm", 1, 0, 2));
    }

    /**
     * Keras's {@code outputs} from ONNX's Y [T,1,B,H]: every step's h in the order the layer processed them, or the
     * last step's alone (without return_sequences), batch-major unless the layer is time-major.
     */
    private static String sequence(OnnxEmitter e, Node n, RecurrentCall rc, String y, String last) {
        if (!rc.returnSequences()) {
            return unsqueeze(e, n.name() + "/last_step", last, rc.timeMajor() ? 0 : 1);
        }
        String sequence = squeeze(e, n.name() + "/steps", y, 1); // [T,1,B,H] -> [T,B,H]
        if (rc.goBackwards()) {
            // ONNX's reverse direction writes step t at position t; Keras keeps the order it processed them in
            sequence = e.add("Slice", n.name() + "/processing_order", List.of(sequence,
                    e.initLongs(n.name() + "/starts", -1), e.initLongs(n.name() + "/ends", Long.MIN_VALUE),
                    e.initLongs(n.name() + "/axes", 0), e.initLongs(n.name() + "/steps_by", -1)));
        }
        return rc.timeMajor() ? sequence : e.add("Transpose", n.name() + "/batch_major", List.of(sequence),
                OnnxEmitter.attrs("perm", 1, 0, 2));
    }

    /** Keras's runtime output: the constant _RUNTIME_CPU (1) that standard_lstm and standard_gru return. */
    private static Val runtime(OnnxEmitter e, Node n) {
        return new Val(e.scalarInit(n.name() + "/runtime", F32, 1f), Layout.NATIVE, F32, 0);
    }

    /** A [rows, cols] matrix transposed. */
    private static float[] transposed(float[] m, int rows, int cols) {
        float[] out = new float[m.length];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < cols; j++) {
                out[j * rows + i] = m[i * cols + j];
            }
        }
        return out;
    }

    /** Keras's [rows, 4H] matrix (column blocks i, f, c, o) as ONNX's [4H, rows] rows in gate order i, o, f, c. */
    private static float[] gatesByRow(float[] m, int rows, int h) {
        float[] out = new float[4 * h * rows];
        for (int g = 0; g < 4; g++) {
            int block = KERAS_BLOCK_OF_ONNX_GATE[g];
            for (int j = 0; j < h; j++) {
                for (int k = 0; k < rows; k++) {
                    out[(g * h + j) * rows + k] = m[k * 4 * h + block * h + j];
                }
            }
        }
        return out;
    }

    private static String unsqueeze(OnnxEmitter e, String hint, String x, long axis) {
        return e.add("Unsqueeze", hint, List.of(x, e.initLongs(hint + "/axes", axis)));
    }

    private static String squeeze(OnnxEmitter e, String hint, String x, long axis) {
        return e.add("Squeeze", hint, List.of(x, e.initLongs(hint + "/axes", axis)));
    }
}
