package dev.kiln.tflite;

import dev.kiln.graph.Node;
import dev.kiln.graph.TensorRef;

import static dev.kiln.tflite.TfliteSchema.*;

/** Mean → MEAN, Sum → SUM, Max → REDUCE_MAX, Min → REDUCE_MIN, over constant axes, keep_dims as in TF. */
final class ReduceLowering implements Lowering {
    @Override
    public void lower(Node n, TfliteEmitter e) {
        int x = e.input(n, 0);
        int[] axes = TfliteEmitter.ints(e.requireConstant(n, 1, "reduction axes"));
        int axesT = e.int32(n.name() + "/axes", axes);
        TensorRef ref = TensorRef.of(n.name(), 0);
        int builtin = switch (n.op()) {
            case "Mean" -> MEAN;
            case "Sum" -> SUM;
            case "Max" -> REDUCE_MAX;
            default -> REDUCE_MIN;
        };
        // int8 REDUCE_MAX / REDUCE_MIN pick codes: the output keeps the input's parameters
        int out = builtin == REDUCE_MAX || builtin == REDUCE_MIN ? e.outputLike(ref, x) : e.output(ref);
        e.op(builtin, new int[] {x, axesT}, new int[] {out}, BuiltinOptions.reducer(n.attrBool("keep_dims", false)));
    }
}
