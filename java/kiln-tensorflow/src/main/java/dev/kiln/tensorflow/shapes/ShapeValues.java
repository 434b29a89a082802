package dev.kiln.tensorflow.shapes;

import dev.kiln.graph.DType;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorType;
import dev.kiln.tensorflow.GraphDefs;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.TensorProto;

import java.util.ArrayList;
import java.util.List;

/**
 * What is known of the values of small integer tensors, computed the way TensorFlow's shape refiner does for the
 * tensors that shape functions read (Reshape's shape, axes, paddings): constants, Shape of a tensor, and Pack, ConcatV2,
 * StridedSlice, Cast and Identity over those. Anything else has no known value, and a rule that needs one gives up.
 */
final class ShapeValues {
    /** Constants of up to this many elements are read (shape tensors are tiny; weights are never read). */
    private static final int MAX_ELEMENTS = 1024;

    private ShapeValues() {
    }

    /** The known value of output 0 of {@code node}, or null. */
    static IntValue of(NodeDef node, List<TensorType> inputs, List<IntValue> values, TensorType output) {
        if (output.dtype() != DType.INT32 && output.dtype() != DType.INT64) {
            return null;
        }
        switch (node.getOp()) {
            case "Const":
                return constant(node);
            case "Shape":
                return shapeOf(inputs.get(0).shape());
            case "Size": {
                Shape s = inputs.get(0).shape();
                return s.isFullyDefined() ? IntValue.scalar(s.numElements()) : null;
            }
            case "Rank": {
                Shape s = inputs.get(0).shape();
                return s.hasRank() ? IntValue.scalar(s.rank()) : null;
            }
            case "Identity":
            case "Cast":
                return values.get(0);
            case "Pack":
                return pack(node, values);
            case "ConcatV2":
                return concat(values);
            case "StridedSlice":
                return slice(node, values);
            default:
                return null;
        }
    }

    private static IntValue constant(NodeDef node) {
        TensorProto p = node.getAttrMap().get("value").getTensor();
        Shape s = GraphDefs.fromProto(p.getTensorShape());
        if (!s.isFullyDefined() || s.rank() > 2 || s.numElements() > MAX_ELEMENTS) {
            return null;
        }
        return new IntValue(s.rank(), GraphDefs.fromProto(p, node.getName()).asLongs());
    }

    private static IntValue shapeOf(Shape s) {
        if (!s.hasRank()) {
            return null;
        }
        long[] v = s.dims();
        for (int i = 0; i < v.length; i++) {
            v[i] = v[i] < 0 ? IntValue.UNKNOWN : v[i];
        }
        return IntValue.vector(v);
    }

    /** Pack of scalars along axis 0: a vector whose unknown scalars are unknown elements. */
    private static IntValue pack(NodeDef node, List<IntValue> values) {
        org.tensorflow.proto.AttrValue axis = node.getAttrMap().get("axis");
        if (axis != null && axis.getI() != 0) {
            return null;
        }
        long[] v = new long[values.size()];
        for (int i = 0; i < v.length; i++) {
            IntValue x = values.get(i);
            if (x != null && !x.scalar()) {
                return null;
            }
            v[i] = x == null ? IntValue.UNKNOWN : x.get(0);
        }
        return IntValue.vector(v);
    }

    private static IntValue concat(List<IntValue> values) {
        IntValue axis = values.get(values.size() - 1);
        if (axis == null || !axis.isExact() || (axis.get(0) != 0 && axis.get(0) != -1)) {
            return null;
        }
        List<Long> v = new ArrayList<>();
        for (int i = 0; i < values.size() - 1; i++) {
            IntValue x = values.get(i);
            if (x == null || x.rank() != 1) {
                return null;
            }
            for (long e : x.elements()) {
                v.add(e);
            }
        }
        return IntValue.vector(v.stream().mapToLong(Long::longValue).toArray());
    }

    /** A slice of a known vector with one constant begin/end/stride, as Keras's Flatten reads the batch size. */
    private static IntValue slice(NodeDef node, List<IntValue> values) {
        IntValue x = values.get(0);
        IntValue b = values.get(1);
        IntValue e = values.get(2);
        IntValue s = values.get(3);
        if (x == null || x.rank() != 1 || b == null || e == null || s == null || !b.isExact() || !e.isExact()
                || !s.isExact() || b.length() != 1 || e.length() != 1 || s.length() != 1 || s.get(0) != 1
                || mask(node, "ellipsis_mask") != 0 || mask(node, "new_axis_mask") != 0) {
            return null;
        }
        int d = x.length();
        long begin = (mask(node, "begin_mask") & 1) != 0 ? 0 : b.get(0) < 0 ? b.get(0) + d : b.get(0);
        if ((mask(node, "shrink_axis_mask") & 1) != 0) {
            return begin >= 0 && begin < d ? IntValue.scalar(x.get((int) begin)) : null;
        }
        long end = (mask(node, "end_mask") & 1) != 0 ? d : e.get(0) < 0 ? e.get(0) + d : e.get(0);
        begin = Math.max(0, Math.min(d, begin));
        end = Math.max(begin, Math.min(d, end));
        long[] v = new long[(int) (end - begin)];
        for (int i = 0; i < v.length; i++) {
            v[i] = x.get((int) begin + i);
        }
        return IntValue.vector(v);
    }

    private static long mask(NodeDef node, String name) {
        org.tensorflow.proto.AttrValue a = node.getAttrMap().get(name);
        return a == null ? 0 : a.getI();
    }
}
