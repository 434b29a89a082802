package dev.kiln.tflite;

import dev.kiln.graph.Node;
import dev.kiln.graph.TensorRef;

import static dev.kiln.tflite.TfliteSchema.*;

/** Pad → PAD, PadV2 → PADV2 (constant paddings [rank, 2]); the output keeps the input's int8 parameters. */
final class PadLowering implements Lowering {
    @Override
    public void lower(Node n, TfliteEmitter e) {
        int x = e.input(n, 0);
        int[] p = TfliteEmitter.ints(e.requireConstant(n, 1, "paddings"));
        int pads = e.int32(n.name() + "/paddings", p, p.length / 2, 2);
        int out = e.outputLike(TensorRef.of(n.name(), 0), x);
        if (n.op().equals("Pad")) {
            e.op(PAD, new int[] {x, pads}, new int[] {out}, BuiltinOptions.empty(OPT_PAD));
        } else {
            int value = e.requantize(e.input(n, 2), e.model().tensor(x).quantization(), e.typeOf(n.input(2)));
            e.op(PADV2, new int[] {x, pads, value}, new int[] {out}, BuiltinOptions.empty(OPT_PADV2));
        }
    }
}
