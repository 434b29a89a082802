package dev.kiln.tflite;

import dev.kiln.KilnException;
import dev.kiln.graph.Node;
import dev.kiln.graph.Tensor;

import static dev.kiln.tflite.TfliteSchema.*;

/**
 * MatMul with constant weights → FULLY_CONNECTED with weights [out, in] (TF's [in, out] transposed unless
 * transpose_b), a fused BiasAdd and Relu/Relu6 ({@link FusedChain}). Weights are per tensor under INT8 and dynamic
 * range, as TFLite's quantization spec has it for FULLY_CONNECTED.
 */
final class MatMulLowering implements Lowering {
    @Override
    public void lower(Node n, TfliteEmitter e) {
        if (n.attrBool("transpose_a", false)) {
            throw KilnException.unsupported("node '" + n.name() + "': MatMul with transpose_a has no TFLite mapping "
                    + "in Kiln");
        }
        Tensor b = e.requireConstant(n, 1, "weight matrix");
        long[] d = b.shape().dims();
        float[] w = b.asFloats();
        boolean tb = n.attrBool("transpose_b", false);
        int in = (int) (tb ? d[1] : d[0]);
        int outs = (int) (tb ? d[0] : d[1]);
        float[] oi = tb ? w : transpose(w, in, outs);
        int x = e.input(n, 0);
        FusedChain chain = FusedChain.of(n, e.graph());
        int weights = e.weights(n.name() + "/weights", oi, new long[] {outs, in}, 0, false);
        int bias = chain.bias() != null
                ? e.bias(chain.bias().name() + "/bias", ConvLowering.biasValues(chain.bias(), e, outs), x, weights)
                : e.zeroBias(n.name() + "/bias", outs, x, weights);
        chain.absorbInto(e);
        int out = e.output(chain.end());
        boolean hybrid = e.precision() == TflitePrecision.DYNAMIC_RANGE;
        e.op(FULLY_CONNECTED, new int[] {x, weights, bias}, new int[] {out},
                BuiltinOptions.fullyConnected(chain.activationCode(), hybrid));
    }

    /** [rows, cols] → [cols, rows]. */
    static float[] transpose(float[] w, int rows, int cols) {
        float[] out = new float[w.length];
        for (int r = 0; r < rows; r++) {
            for (int c = 0; c < cols; c++) {
                out[c * rows + r] = w[r * cols + c];
            }
        }
        return out;
    }
}
