package dev.kiln.tflite;

import dev.kiln.KilnException;
import dev.kiln.graph.DType;
import dev.kiln.graph.Node;
import dev.kiln.graph.TensorRef;
import dev.kiln.graph.TensorType;
import dev.kiln.tflite.TfliteModelBuilder.Quantization;

import java.util.Arrays;

import static dev.kiln.tflite.TfliteSchema.*;

/**
 * SelectV2 → SELECT_V2, which broadcasts condition and both branches as TensorFlow's SelectV2 does (the masks of
 * Keras RNNs). TF1's Select is the same op except that a rank-1 condition over a higher-rank x picks whole rows (the
 * first dimension): its condition is reshaped to [n, 1, ..., 1] so that broadcasting picks rows too. Under INT8 both
 * branches are requantized to the output's calibrated parameters, since SELECT_V2 copies codes.
 */
final class SelectLowering implements Lowering {
    @Override
    public void lower(Node n, TfliteEmitter e) {
        int cond = e.input(n, 0);
        int x = e.input(n, 1);
        int y = e.input(n, 2);
        if (n.op().equals("Select")) {
            cond = rowCondition(n, e, cond);
        }
        int out = e.output(TensorRef.of(n.name(), 0));
        Quantization q = e.model().tensor(out).quantization();
        if (e.model().tensor(out).type() == INT8) {
            x = e.requantize(x, q, e.typeOf(n.input(1)));
            y = e.requantize(y, q, e.typeOf(n.input(2)));
        }
        e.op(SELECT_V2, new int[] {cond, x, y}, new int[] {out}, BuiltinOptions.empty(OPT_SELECT_V2));
    }

    /** TF1 Select's condition, reshaped to [n, 1, ...] when it is a vector over the rows of a higher-rank x. */
    private static int rowCondition(Node n, TfliteEmitter e, int cond) {
        int condRank = e.rankOf(n.input(0));
        int xRank = Math.max(Math.max(e.rankOf(n.input(1)), e.rankOf(n.input(2))),
                e.rankOf(TensorRef.of(n.name(), 0)));
        if (condRank < 0 || (condRank == 1 && xRank < 0)) {
            throw KilnException.unsupported("node '" + n.name() + "' (Select): the rank of the condition ('"
                    + n.input(0) + "') or of the branches is unknown, so whether it picks rows or elements cannot be "
                    + "told; give the inputs' shapes (or use SelectV2)");
        }
        if (condRank != 1 || xRank <= 1) {
            return cond; // same shape as x: element-wise, which SELECT_V2 does as it is
        }
        int[] shape = new int[xRank];
        Arrays.fill(shape, 1);
        shape[0] = -1;
        long[] dims = new long[xRank];
        Arrays.fill(dims, 1);
        dims[0] = e.typeOf(n.input(0)).shape().dims()[0];
        int rows = e.intermediate(n.name() + "/condition_rows", cond, TensorType.of(DType.BOOL, dims));
        e.op(RESHAPE, new int[] {cond, e.int32(n.name() + "/condition_shape", shape)}, new int[] {rows},
                BuiltinOptions.reshape(shape));
        return rows;
    }
}
