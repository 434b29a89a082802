package dev.kiln.tflite;

import dev.kiln.graph.Node;
import dev.kiln.graph.TensorRef;

import static dev.kiln.tflite.TfliteSchema.*;

/**
 * StridedSlice (constant begin/end/strides, TF's masks) → STRIDED_SLICE; Slice (constant begin/size) → SLICE. The
 * output keeps the input's int8 parameters.
 */
final class SliceLowering implements Lowering {
    @Override
    public void lower(Node n, TfliteEmitter e) {
        int x = e.input(n, 0);
        TensorRef ref = TensorRef.of(n.name(), 0);
        if (n.op().equals("Slice")) {
            int begin = e.int32(n.name() + "/begin", TfliteEmitter.ints(e.requireConstant(n, 1, "begin")));
            int size = e.int32(n.name() + "/size", TfliteEmitter.ints(e.requireConstant(n, 2, "size")));
            int out = e.outputLike(ref, x);
            e.op(SLICE, new int[] {x, begin, size}, new int[] {out}, BuiltinOptions.empty(OPT_SLICE));
            return;
        }
        int begin = e.int32(n.name() + "/begin", TfliteEmitter.ints(e.requireConstant(n, 1, "begin")));
        int end = e.int32(n.name() + "/end", TfliteEmitter.ints(e.requireConstant(n, 2, "end")));
        int strides = e.int32(n.name() + "/strides", TfliteEmitter.ints(e.requireConstant(n, 3, "strides")));
        int out = e.outputLike(ref, x);
        e.op(STRIDED_SLICE, new int[] {x, begin, end, strides}, new int[] {out}, BuiltinOptions.stridedSlice(
                (int) n.attrInt("begin_mask", 0), (int) n.attrInt("end_mask", 0), (int) n.attrInt("ellipsis_mask", 0),
                (int) n.attrInt("new_axis_mask", 0), (int) n.attrInt("shrink_axis_mask", 0)));
    }
}
