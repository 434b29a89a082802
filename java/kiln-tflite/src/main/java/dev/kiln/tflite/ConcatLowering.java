package dev.kiln.tflite;

import dev.kiln.graph.Node;
import dev.kiln.graph.TensorRef;

import static dev.kiln.tflite.TfliteSchema.*;

/**
 * ConcatV2 (constant axis) → CONCATENATION; Pack → PACK. TFLite's int8 kernels copy codes, so under INT8 every input
 * is requantized (QUANTIZE int8 → int8) to the output's parameters where they differ: the output's calibrated range
 * for CONCATENATION, the first input's for PACK.
 */
final class ConcatLowering implements Lowering {
    @Override
    public void lower(Node n, TfliteEmitter e) {
        TensorRef ref = TensorRef.of(n.name(), 0);
        if (n.op().equals("Pack")) {
            int count = n.numDataInputs();
            int[] in = new int[count];
            for (int i = 0; i < count; i++) {
                in[i] = e.input(n, i);
            }
            int out = e.outputLike(ref, in[0]);
            for (int i = 1; i < count; i++) {
                in[i] = e.requantize(in[i], e.model().tensor(out).quantization(), e.typeOf(n.input(i)));
            }
            e.op(PACK, in, new int[] {out}, BuiltinOptions.pack(count, (int) n.attrInt("axis", 0)));
            return;
        }
        int count = n.numDataInputs() - 1;
        int axis = TfliteEmitter.ints(e.requireConstant(n, count, "axis"))[0];
        int rank = e.rankOf(ref);
        if (axis < 0 && rank > 0) {
            axis += rank;
        }
        int[] in = new int[count];
        for (int i = 0; i < count; i++) {
            in[i] = e.input(n, i);
        }
        int out = e.output(ref);
        for (int i = 0; i < count; i++) {
            in[i] = e.requantize(in[i], e.model().tensor(out).quantization(), e.typeOf(n.input(i)));
        }
        e.op(CONCATENATION, in, new int[] {out}, BuiltinOptions.concatenation(axis, ACT_NONE));
    }
}
