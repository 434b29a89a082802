package dev.kiln.tensorflow.shapes;

import dev.kiln.graph.DType;
import dev.kiln.graph.Shape;
import dev.kiln.graph.TensorType;
import dev.kiln.tensorflow.GraphDefs;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.TensorProto;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.LongBinaryOperator;

/**
 * What is known of the values of small integer tensors, computed the way TensorFlow's shape refiner does for the
 * tensors that shape functions read (Reshape's shape, axes, paddings): constants; Shape, Size and Rank of a tensor;
 * Pack, ConcatV2, StridedSlice, Cast and Identity over those (a partial value, as TensorFlow's partial shapes); Range,
 * integer arithmetic and Prod/Sum over exact values (TensorFlow's constant evaluation). A tensor that depends on a
 * graph input is {@link IntValue#DYNAMIC}; anything else has no known value (null), and a rule that needs it gives up.
 */
final class ShapeValues {
    /** Constants of up to this many elements are read (shape tensors are tiny; weights are never read). */
    private static final int MAX_ELEMENTS = 1024;
    /** Ops whose value TensorFlow never evaluates before the graph runs. */
    private static final Set<String> SOURCES = Set.of("Placeholder", "PlaceholderWithDefault", "RandomUniform",
            "RandomStandardNormal", "TruncatedNormal", "RandomUniformInt");

    private ShapeValues() {
    }

    /** The known value of output 0 of {@code node}, {@link IntValue#DYNAMIC}, or null. */
    static IntValue of(NodeDef node, List<TensorType> inputs, List<IntValue> values, TensorType output) {
        String op = node.getOp();
        if (SOURCES.contains(op)) {
            return IntValue.DYNAMIC;
        }
        boolean integer = output != null && (output.dtype() == DType.INT32 || output.dtype() == DType.INT64);
        IntValue v = integer ? evaluate(node, inputs, values) : null;
        if (v != null) {
            return v;
        }
        if (op.equals("Shape") || op.equals("Size") || op.equals("Rank")) {
            return IntValue.DYNAMIC; // the shape it reads is not known well enough
        }
        return values.stream().anyMatch(x -> x != null && x.dependsOnInputs()) ? IntValue.DYNAMIC : null;
    }

    private static IntValue evaluate(NodeDef node, List<TensorType> inputs, List<IntValue> values) {
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
                return values.get(0) == IntValue.DYNAMIC ? null : values.get(0);
            case "Pack":
                return pack(node, values);
            case "ConcatV2":
                return concat(values);
            case "StridedSlice":
                return slice(node, values);
            case "Range":
                return range(values);
            case "Add":
            case "AddV2":
                return arithmetic(values, Math::addExact);
            case "Sub":
                return arithmetic(values, Math::subtractExact);
            case "Mul":
                return arithmetic(values, Math::multiplyExact);
            case "FloorDiv":
                return arithmetic(values, (a, b) -> b == 0 ? IntValue.UNKNOWN : Math.floorDiv(a, b));
            case "Maximum":
                return arithmetic(values, Math::max);
            case "Minimum":
                return arithmetic(values, Math::min);
            case "Prod":
                return reduceVector(node, values, Math::multiplyExact, 1);
            case "Sum":
                return reduceVector(node, values, Math::addExact, 0);
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

    /** Pack of scalars along axis 0: a vector whose input-dependent scalars are unknown elements. */
    private static IntValue pack(NodeDef node, List<IntValue> values) {
        org.tensorflow.proto.AttrValue axis = node.getAttrMap().get("axis");
        if (axis != null && axis.getI() != 0) {
            return null;
        }
        long[] v = new long[values.size()];
        for (int i = 0; i < v.length; i++) {
            IntValue x = values.get(i);
            if (x == null || x != IntValue.DYNAMIC && !x.scalar()) {
                return null;
            }
            v[i] = x == IntValue.DYNAMIC ? IntValue.UNKNOWN : x.get(0);
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

    /** Range over exact integer scalars, as TensorFlow's kernel computes it. */
    private static IntValue range(List<IntValue> values) {
        for (IntValue x : values) {
            if (x == null || !x.isExact() || !x.scalar()) {
                return null;
            }
        }
        long start = values.get(0).get(0);
        long limit = values.get(1).get(0);
        long delta = values.get(2).get(0);
        long n = rangeSize(start, limit, delta);
        if (n < 0 || n > MAX_ELEMENTS) {
            return null;
        }
        long[] v = new long[(int) n];
        for (int i = 0; i < v.length; i++) {
            v[i] = start + i * delta;
        }
        return IntValue.vector(v);
    }

    /** The number of elements of Range(start, limit, delta); -1 where TensorFlow refuses it. */
    static long rangeSize(long start, long limit, long delta) {
        if (delta == 0 || delta > 0 && start > limit || delta < 0 && start < limit) {
            return -1;
        }
        return (Math.abs(limit - start) + Math.abs(delta) - 1) / Math.abs(delta);
    }

    /** An element-wise integer op over exact values: scalars, or vectors of one length, or a vector and a scalar. */
    private static IntValue arithmetic(List<IntValue> values, LongBinaryOperator f) {
        IntValue a = values.get(0);
        IntValue b = values.get(1);
        if (a == null || b == null || !a.isExact() || !b.isExact() || a.rank() > 1 || b.rank() > 1
                || a.rank() == 1 && b.rank() == 1 && a.length() != b.length()) {
            return null;
        }
        int n = Math.max(a.length(), b.length());
        long[] v = new long[n];
        try {
            for (int i = 0; i < n; i++) {
                v[i] = f.applyAsLong(a.get(a.scalar() ? 0 : i), b.get(b.scalar() ? 0 : i));
                if (v[i] == IntValue.UNKNOWN) {
                    return null; // division by zero: TensorFlow's evaluation fails
                }
            }
        } catch (ArithmeticException overflow) {
            return null;
        }
        return a.scalar() && b.scalar() ? IntValue.scalar(v[0]) : IntValue.vector(v);
    }

    /** Prod or Sum of an exact vector over its one axis, without keep_dims: a scalar. */
    private static IntValue reduceVector(NodeDef node, List<IntValue> values, LongBinaryOperator f, long identity) {
        IntValue x = values.get(0);
        IntValue axes = values.get(1);
        org.tensorflow.proto.AttrValue keep = node.getAttrMap().get("keep_dims");
        if (x == null || axes == null || !x.isExact() || !axes.isExact() || x.rank() != 1 || axes.length() != 1
                || (axes.get(0) != 0 && axes.get(0) != -1) || keep != null && keep.getB()) {
            return null;
        }
        long r = identity;
        try {
            for (long e : x.elements()) {
                r = f.applyAsLong(r, e);
            }
        } catch (ArithmeticException overflow) {
            return null;
        }
        return IntValue.scalar(r);
    }

    private static long mask(NodeDef node, String name) {
        org.tensorflow.proto.AttrValue a = node.getAttrMap().get(name);
        return a == null ? 0 : a.getI();
    }
}
