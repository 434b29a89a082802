package dev.kiln.tflite;

import dev.kiln.KilnException;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.graph.TensorType;

import static dev.kiln.tflite.TfliteSchema.*;

/**
 * Reshape → RESHAPE, Squeeze → SQUEEZE, ExpandDims → EXPAND_DIMS; the output keeps the input's int8 parameters. A
 * Reshape whose shape is computed (Keras' Flatten: Shape → StridedSlice → Pack) but known from the IR up to one
 * unknown dimension gets that shape as a constant, so the shape computation stays out of the model.
 */
final class ReshapeLowering implements Lowering {
    @Override
    public void lower(Node n, TfliteEmitter e) {
        int x = e.input(n, 0);
        TensorRef ref = TensorRef.of(n.name(), 0);
        switch (n.op()) {
            case "Reshape" -> {
                int[] shape = staticShape(n, e.graph(), e);
                int shapeT = shape != null ? e.int32(n.name() + "/shape", shape) : e.input(n, 1);
                int out = e.outputLike(ref, x);
                e.op(RESHAPE, new int[] {x, shapeT}, new int[] {out},
                        shape != null ? BuiltinOptions.reshape(shape) : BuiltinOptions.NONE);
            }
            case "Squeeze" -> {
                long[] dims = n.attrInts("squeeze_dims", new long[0]);
                int[] d = new int[dims.length];
                for (int i = 0; i < dims.length; i++) {
                    d[i] = (int) dims[i];
                }
                int out = e.outputLike(ref, x);
                e.op(SQUEEZE, new int[] {x}, new int[] {out}, BuiltinOptions.squeeze(d));
            }
            default -> {
                int[] axis = TfliteEmitter.ints(e.requireConstant(n, 1, "axis"));
                int axisT = e.int32(n.name() + "/axis", axis, new long[0]);
                int out = e.outputLike(ref, x);
                e.op(EXPAND_DIMS, new int[] {x, axisT}, new int[] {out}, BuiltinOptions.empty(OPT_EXPAND_DIMS));
            }
        }
    }

    @Override
    public int[] usedInputs(Node n, Graph g) {
        if (n.op().equals("Reshape") && staticShape(n, g, null) != null) {
            return new int[] {0};
        }
        return Lowering.super.usedInputs(n, g);
    }

    /** The target shape as constants: the shape input's value, or the IR's output shape with at most one -1. */
    private static int[] staticShape(Node n, Graph g, TfliteEmitter e) {
        Tensor c = e != null ? e.constant(n.input(1)) : g.constantValue(n.input(1));
        if (c != null) {
            return TfliteEmitter.ints(c);
        }
        TensorType t = n.outputType(0);
        if (t == null || !t.shape().hasRank()) {
            return null;
        }
        long[] d = t.shape().dims();
        int[] out = new int[d.length];
        int unknown = 0;
        for (int i = 0; i < d.length; i++) {
            out[i] = (int) d[i];
            unknown += d[i] < 0 ? 1 : 0;
        }
        if (unknown > 1) {
            return null;
        }
        if (out.length == 0 && c == null) {
            throw KilnException.unsupported("node '" + n.name() + "': reshape to a scalar needs a constant shape");
        }
        return out;
    }
}
