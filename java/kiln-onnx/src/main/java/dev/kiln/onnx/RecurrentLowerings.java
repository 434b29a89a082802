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
 * Recurrent layers kept whole at import ({@link RecurrentCall}): a Keras LSTM becomes one ONNX {@code LSTM}, as
 * tf2onnx's rewriters make of the same loop, so ONNX Runtime and TensorRT run their own LSTM kernels and the sequence
 * length stays free. Computed in float32 under every precision: ONNX Runtime's CPU LSTM is float32 only, and its
 * static quantizer leaves LSTM in float too.
 */
final class RecurrentLowerings {
    /** ONNX's gate order i, o, f, c, as indices of Keras's column blocks i, f, c, o. */
    private static final int[] KERAS_BLOCK_OF_ONNX_GATE = {0, 3, 1, 2};

    private RecurrentLowerings() {
    }

    static void register(OnnxLowerings.Table t) {
        t.add("PartitionedCall", "LSTM (a Keras LSTM kept whole; Transpose, Squeeze around it)", 13,
                RecurrentLowerings::call);
    }

    private static void call(OnnxEmitter e, Node n) {
        RecurrentCall rc = RecurrentCall.of(n);
        if (rc == null) {
            String f = n.attrs().get("f") instanceof AttrValue.Func fn ? fn.name() : "?";
            throw KilnException.unsupported("node '" + n.name() + "' calls function '" + f + "', which is not a "
                    + "recurrent layer Kiln keeps whole; only a kept Keras LSTM call has an ONNX lowering");
        }
        kerasLstm(e, n, rc);
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

        String x = e.get(n.input(0), Layout.NATIVE, F32).name();
        if (!rc.timeMajor()) {
            x = e.add("Transpose", n.name() + "/time_major", List.of(x), OnnxEmitter.attrs("perm", 1, 0, 2));
        }
        String h0 = unsqueeze(e, n.name() + "/h0", e.get(n.input(1), Layout.NATIVE, F32).name(), 0);
        String c0 = unsqueeze(e, n.name() + "/c0", e.get(n.input(2), Layout.NATIVE, F32).name(), 0);
        List<String> outs = e.addMulti("LSTM", n.name() + "/lstm", List.of(x, w, r, bs, "", h0, c0), 3,
                attr("hidden_size", (long) h), attr("direction", rc.goBackwards() ? "reverse" : "forward"));
        String last = squeeze(e, n.name() + "/h", outs.get(1), 0);   // Y_h [1,B,H] -> [B,H]
        String cell = squeeze(e, n.name() + "/c", outs.get(2), 0);
        String sequence;
        if (rc.returnSequences()) {
            sequence = squeeze(e, n.name() + "/steps", outs.get(0), 1); // Y [T,1,B,H] -> [T,B,H]
            if (rc.goBackwards()) {
                // ONNX's reverse direction writes step t at position t; Keras keeps the order it processed them in
                sequence = e.add("Slice", n.name() + "/processing_order", List.of(sequence,
                        e.initLongs(n.name() + "/starts", -1), e.initLongs(n.name() + "/ends", Long.MIN_VALUE),
                        e.initLongs(n.name() + "/axes", 0), e.initLongs(n.name() + "/steps_by", -1)));
            }
            if (!rc.timeMajor()) {
                sequence = e.add("Transpose", n.name() + "/batch_major", List.of(sequence),
                        OnnxEmitter.attrs("perm", 1, 0, 2));
            }
        } else {
            sequence = unsqueeze(e, n.name() + "/last_step", last, rc.timeMajor() ? 0 : 1);
        }
        e.put(n, 0, new Val(last, Layout.NATIVE, F32, 2));
        e.put(n, 1, new Val(sequence, Layout.NATIVE, F32, 3));
        e.put(n, 2, new Val(last, Layout.NATIVE, F32, 2));
        e.put(n, 3, new Val(cell, Layout.NATIVE, F32, 2));
        // Keras's runtime output: the constant _RUNTIME_CPU (1) that standard_lstm returns
        e.put(n, 4, new Val(e.scalarInit(n.name() + "/runtime", F32, 1f), Layout.NATIVE, F32, 0));
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
