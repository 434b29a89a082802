package dev.kiln.tensorflow.shapes;

import dev.kiln.graph.DType;
import dev.kiln.graph.Shape;
import dev.kiln.graph.TensorType;
import dev.kiln.tensorflow.TfOpSupport;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.OpDef;

import java.util.ArrayList;
import java.util.List;

/**
 * One node as a shape rule sees it: its attributes (with the op's defaults), its inputs' types and what is known of
 * their values, and the small algebra of dimensions that TensorFlow's shape functions use (unknown is -1).
 */
final class NodeShapes {
    private final NodeDef node;
    private final OpDef def;
    private final List<TensorType> inputs;
    private final List<IntValue> values;
    private final int outputCount;

    NodeShapes(NodeDef node, OpDef def, List<TensorType> inputs, List<IntValue> values, int outputCount) {
        this.node = node;
        this.def = def;
        this.inputs = inputs;
        this.values = values;
        this.outputCount = outputCount;
    }

    int inputCount() {
        return inputs.size();
    }

    int outputCount() {
        return outputCount;
    }

    Shape shape(int i) {
        return inputs.get(i).shape();
    }

    DType dtype(int i) {
        return inputs.get(i).dtype();
    }

    /** The input's rank; gives up where it is unknown. */
    int rank(int i) {
        Shape s = shape(i);
        if (!s.hasRank()) {
            throw giveUp("input " + i + " has an unknown rank");
        }
        return s.rank();
    }

    /** The input's rank, which must be {@code r}. */
    long[] dimsOfRank(int i, int r) {
        if (rank(i) != r) {
            throw giveUp("input " + i + " has rank " + rank(i) + ", not " + r);
        }
        return shape(i).dims();
    }

    /** What is known of input {@code i}'s value; gives up where nothing is. */
    IntValue value(int i) {
        IntValue v = values.get(i);
        if (v == null) {
            throw giveUp("the value of input " + i + " is not known here");
        }
        return v;
    }

    /** Input {@code i}'s value, every element known. */
    long[] exactValue(int i) {
        IntValue v = value(i);
        if (!v.isExact()) {
            throw giveUp("the value of input " + i + " is only partly known");
        }
        return v.elements().clone();
    }

    /** Input {@code i}'s value read as a shape (TensorFlow's MakeShapeFromShapeTensor): -1 and unknown are unknown. */
    Shape valueAsShape(int i) {
        IntValue v = value(i);
        if (v == IntValue.DYNAMIC) {
            // TensorFlow knows only the shape tensor's own shape: [k] is a rank-k shape of unknown dimensions
            Shape s = shape(i);
            if (!s.hasRank() || s.rank() != 1) {
                throw giveUp("input " + i + " is a shape tensor of shape " + s);
            }
            if (s.dim(0) < 0) {
                return Shape.unknown();
            }
            long[] d = new long[(int) s.dim(0)];
            java.util.Arrays.fill(d, -1);
            return Shape.of(d);
        }
        if (v.rank() != 1) {
            throw giveUp("input " + i + " is not a shape vector");
        }
        long[] d = new long[v.length()];
        for (int k = 0; k < d.length; k++) {
            long e = v.get(k);
            if (e == IntValue.UNKNOWN || e == -1) {
                d[k] = -1;
            } else if (e < -1) {
                throw giveUp("dimension " + e + " in input " + i);
            } else {
                d[k] = e;
            }
        }
        return Shape.of(d);
    }

    // ---- attributes ----

    AttrValue attr(String name) {
        AttrValue v = TfOpSupport.attrOrDefault(node, def, name);
        if (v == null) {
            throw giveUp("no attribute '" + name + "'");
        }
        return v;
    }

    boolean hasAttr(String name) {
        return node.getAttrMap().containsKey(name);
    }

    long intAttr(String name) {
        return attr(name).getI();
    }

    boolean boolAttr(String name) {
        return attr(name).getB();
    }

    String stringAttr(String name) {
        return attr(name).getS().toStringUtf8();
    }

    long[] intsAttr(String name) {
        return attr(name).getList().getIList().stream().mapToLong(Long::longValue).toArray();
    }

    // ---- dimensions ----

    /** TensorFlow's Merge of two dimensions: the known one; both known must agree. */
    long merge(long a, long b) {
        if (a < 0) {
            return b;
        }
        if (b >= 0 && a != b) {
            throw giveUp("dimensions " + a + " and " + b + " must be equal");
        }
        return a;
    }

    /** The shapes merged dimension by dimension; ranks must be known and equal. */
    long[] mergeShapes(Shape a, Shape b) {
        if (!a.hasRank() || !b.hasRank() || a.rank() != b.rank()) {
            throw giveUp("shapes " + a + " and " + b + " cannot be merged here");
        }
        long[] d = a.dims();
        for (int i = 0; i < d.length; i++) {
            d[i] = merge(d[i], b.dim(i));
        }
        return d;
    }

    static long times(long a, long b) {
        return a < 0 || b < 0 ? -1 : a * b;
    }

    static long plus(long a, long b) {
        return a < 0 || b < 0 ? -1 : a + b;
    }

    /** An axis in [-rank, rank) made non-negative. */
    int axis(long a, int rank) {
        if (a < -rank || a >= rank) {
            throw giveUp("axis " + a + " is out of range for rank " + rank);
        }
        return (int) (a < 0 ? a + rank : a);
    }

    static List<Shape> one(Shape s) {
        return List.of(s);
    }

    static List<Shape> one(long... dims) {
        return List.of(Shape.of(dims));
    }

    static List<Shape> repeat(Shape s, int n) {
        List<Shape> l = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            l.add(s);
        }
        return l;
    }

    CannotInfer giveUp(String reason) {
        return new CannotInfer("node '" + node.getName() + "' (" + node.getOp() + "): " + reason);
    }
}
