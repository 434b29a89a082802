package dev.kiln.tflite;

import dev.kiln.KilnException;
import dev.kiln.graph.Node;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorRef;

import static dev.kiln.tflite.TfliteSchema.*;

/**
 * An inference-mode FusedBatchNorm that the optimizer did not fold into a convolution → MUL by
 * gamma / sqrt(variance + epsilon) and ADD of beta - mean × that scale, both per channel (NHWC).
 */
final class BatchNormLowering implements Lowering {
    @Override
    public void lower(Node n, TfliteEmitter e) {
        Windows.requireNhwc(n);
        if (n.attrBool("is_training", false)) {
            throw KilnException.unsupported("node '" + n.name() + "': a training-mode FusedBatchNorm has no TFLite "
                    + "mapping (run the inference passes first)");
        }
        float[] gamma = e.requireConstant(n, 1, "scale").asFloats();
        float[] beta = e.requireConstant(n, 2, "offset").asFloats();
        float[] mean = e.requireConstant(n, 3, "mean").asFloats();
        float[] var = e.requireConstant(n, 4, "variance").asFloats();
        float eps = n.attrFloat("epsilon", 1e-3f);
        float[] scale = new float[gamma.length];
        float[] offset = new float[gamma.length];
        for (int c = 0; c < gamma.length; c++) {
            scale[c] = (float) (gamma[c] / Math.sqrt(var[c] + (double) eps));
            offset[c] = beta[c] - mean[c] * scale[c];
        }
        int x = e.input(n, 0);
        int s = e.constantTensor(n.name() + "/scale", Tensor.ofFloats(Shape.of(scale.length), scale));
        int o = e.constantTensor(n.name() + "/offset", Tensor.ofFloats(Shape.of(offset.length), offset));
        int mid = e.intermediate(n.name() + "/scaled", x, e.typeOf(n.input(0)));
        e.op(MUL, new int[] {x, s}, new int[] {mid}, BuiltinOptions.arithmetic(OPT_MUL, ACT_NONE));
        int out = e.output(TensorRef.of(n.name(), 0));
        e.op(ADD, new int[] {mid, o}, new int[] {out}, BuiltinOptions.arithmetic(OPT_ADD, ACT_NONE));
    }
}
