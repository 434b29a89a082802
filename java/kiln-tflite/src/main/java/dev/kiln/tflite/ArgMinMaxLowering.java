package dev.kiln.tflite;

import dev.kiln.graph.DType;
import dev.kiln.graph.Node;
import dev.kiln.graph.TensorRef;

import static dev.kiln.tflite.TfliteSchema.*;

/**
 * ArgMin → ARG_MIN, ArgMax → ARG_MAX over a constant axis, with output_type's int32 or int64 indices (TensorFlow's
 * default int64). TFLite has int8 kernels for both: they compare codes, which keeps the order of the values.
 */
final class ArgMinMaxLowering implements Lowering {
    @Override
    public void lower(Node n, TfliteEmitter e) {
        int x = e.input(n, 0);
        int axis = TfliteEmitter.ints(e.requireConstant(n, 1, "dimension"))[0];
        int axisT = e.int32(n.name() + "/axis", new int[] {axis});
        DType indexType = n.attrs().containsKey("output_type") ? n.attrType("output_type") : DType.INT64;
        int out = e.outputOfType(TensorRef.of(n.name(), 0), indexType);
        byte type = e.model().tensor(out).type();
        boolean min = n.op().equals("ArgMin");
        e.op(min ? ARG_MIN : ARG_MAX, new int[] {x, axisT}, new int[] {out},
                BuiltinOptions.argMinMax(min ? OPT_ARG_MIN : OPT_ARG_MAX, type));
    }
}
