package dev.kiln.tensorflow;

import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.tensorflow.shapes.TfShapeInference;
import org.tensorflow.exceptions.TensorFlowException;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.VersionDef;

import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import java.util.function.LongBinaryOperator;

/**
 * Evaluates the small integer and boolean tensors that decide control flow (a loop's counter against the number of
 * time steps, an If's predicate, a TensorList's size) from what is known at import: constants, and the static
 * dimensions TensorFlow's shape inference gives for a {@code Shape} op's input. A value is known only when every
 * element it needs is; elements that stay unknown (a dynamic batch dimension) are null. When a value is unknown,
 * {@link #whyUnknown()} says which tensor's dimension was missing, for the refusal message.
 */
final class StaticValues {
    /** A small int tensor: its dims and its elements in row-major order, null where unknown, and why they are. */
    record Value(long[] dims, Long[] elements, String why) {
        Value(long[] dims, Long[] elements) {
            this(dims, elements, null);
        }

        boolean whollyUnknown() {
            return dims.length == 0 && elements[0] == null;
        }

        boolean known() {
            return Arrays.stream(elements).allMatch(java.util.Objects::nonNull);
        }

        long scalar() {
            return elements[0];
        }
    }


    private final Map<String, NodeDef> nodes;
    private final VersionDef versions;
    private final Map<String, Value> memo = new HashMap<>();
    /** Static shapes by tensor ref, from TensorFlow's shape inference over {@link #nodes}. */
    private final Map<String, Shape> shapes = new HashMap<>();
    private String whyUnknown = "";
    private String inferenceFailure = "";

    /** Over a graph that grows while it is read: {@code nodes} is the lowering's output, plain ops only. */
    StaticValues(Map<String, NodeDef> nodes, VersionDef versions) {
        this.nodes = nodes;
        this.versions = versions;
    }

    /** Why the last value asked for is unknown (names the tensor whose dimension is missing). */
    String whyUnknown() {
        return whyUnknown;
    }

    /** The scalar value of {@code ref}, or null when it is not known at import. */
    Long scalar(String ref) {
        Value v = eval(ref);
        if (v.elements().length == 1 && v.known()) {
            return v.scalar();
        }
        whyUnknown = v.why() != null ? v.why() : "'" + ref + "', which is not a scalar";
        return null;
    }

    /** The static shape of {@code ref} as TensorFlow infers it (unknown where it cannot). */
    Shape shape(String ref) {
        String key = TensorRef.parse(ref).toString();
        if (!shapes.containsKey(key)) {
            inferShapes(key);
            shapes.putIfAbsent(key, Shape.unknown());
        }
        return shapes.getOrDefault(key, Shape.unknown());
    }

    Value eval(String ref) {
        String key = TensorRef.parse(ref).toString();
        Value v = memo.get(key);
        if (v == null) {
            v = compute(TensorRef.parse(key));
            memo.put(key, v);
        }
        return v;
    }

    /** The data inputs the ops below read (a malformed node with fewer is unknown, not an exception). */
    private static int inputsRead(String op) {
        return switch (op) {
            case "Identity", "Snapshot", "StopGradient", "Cast", "Shape", "LogicalNot" -> 1;
            case "StridedSlice" -> 4;
            case "Add", "AddV2", "Sub", "Mul", "FloorDiv", "FloorMod", "Maximum", "Minimum", "Less", "LessEqual",
                 "Greater", "GreaterEqual", "Equal", "NotEqual", "LogicalAnd", "LogicalOr" -> 2;
            default -> 0;
        };
    }

    private Value compute(TensorRef r) {
        NodeDef nd = nodes.get(r.node());
        if (nd == null) {
            return unknown("'" + r + "' is not a plain tensor of the graph");
        }
        long dataInputs = nd.getInputList().stream().filter(in -> !in.startsWith("^")).count();
        if (dataInputs < inputsRead(nd.getOp()) || nd.getInputList().stream().limit(inputsRead(nd.getOp()))
                .anyMatch(in -> in.startsWith("^"))) {
            return unknown("'" + nd.getName() + "' (" + nd.getOp() + ") has " + dataInputs + " data inputs");
        }
        switch (nd.getOp()) {
            case "Const": {
                Tensor t = GraphDefs.fromProto(nd.getAttrOrThrow("value").getTensor(), nd.getName());
                if (!t.dtype().isInteger() && t.dtype() != dev.kiln.graph.DType.BOOL) {
                    return unknown("'" + nd.getName() + "' is not an integer constant");
                }
                return new Value(t.shape().dims(), Arrays.stream(t.asLongs()).boxed().toArray(Long[]::new));
            }
            case "Identity", "Snapshot", "StopGradient":
                return eval(nd.getInput(0));
            case "Cast":
                return eval(nd.getInput(0)); // integer and boolean casts keep the values Kiln compares
            case "Shape": {
                Shape s = shape(nd.getInput(0));
                if (!s.hasRank()) {
                    return unknown("the rank of '" + nd.getInput(0) + "' is unknown");
                }
                Long[] e = new Long[s.rank()];
                for (int i = 0; i < e.length; i++) {
                    e[i] = s.dim(i) < 0 ? null : s.dim(i);
                }
                return new Value(new long[] {e.length}, e, "the shape of '" + nd.getInput(0) + "', " + s);
            }
            case "StridedSlice":
                return stridedSlice(nd);
            case "Pack": {
                Long[] e = new Long[nd.getInputCount()];
                for (int i = 0; i < e.length; i++) {
                    Value v = eval(nd.getInput(i));
                    if (v.elements().length != 1) {
                        return unknown("Pack '" + nd.getName() + "' packs non-scalars");
                    }
                    if (v.whollyUnknown()) {
                        return v;
                    }
                    e[i] = v.elements()[0];
                }
                return new Value(new long[] {e.length}, e);
            }
            case "Add", "AddV2":
                return binary(nd, Long::sum);
            case "Sub":
                return binary(nd, (a, b) -> a - b);
            case "Mul":
                return binary(nd, (a, b) -> a * b);
            case "FloorDiv":
                return binary(nd, Math::floorDiv);
            case "FloorMod":
                return binary(nd, Math::floorMod);
            case "Maximum":
                return binary(nd, Math::max);
            case "Minimum":
                return binary(nd, Math::min);
            case "Less":
                return binary(nd, (a, b) -> a < b ? 1 : 0);
            case "LessEqual":
                return binary(nd, (a, b) -> a <= b ? 1 : 0);
            case "Greater":
                return binary(nd, (a, b) -> a > b ? 1 : 0);
            case "GreaterEqual":
                return binary(nd, (a, b) -> a >= b ? 1 : 0);
            case "Equal":
                return binary(nd, (a, b) -> a == b ? 1 : 0);
            case "NotEqual":
                return binary(nd, (a, b) -> a != b ? 1 : 0);
            case "LogicalAnd":
                return binary(nd, (a, b) -> a != 0 && b != 0 ? 1 : 0);
            case "LogicalOr":
                return binary(nd, (a, b) -> a != 0 || b != 0 ? 1 : 0);
            case "LogicalNot": {
                Value v = eval(nd.getInput(0));
                return new Value(v.dims(), Arrays.stream(v.elements()).map(x -> x == null ? null : x == 0 ? 1L : 0L)
                        .toArray(Long[]::new), v.why());
            }
            default:
                return unknown("'" + nd.getName() + "' (" + nd.getOp() + ") is computed at run time");
        }
    }

    /** Element-wise on equal sizes or against a scalar; an element is known where both operands' are. */
    private Value binary(NodeDef nd, LongBinaryOperator f) {
        Value a = eval(nd.getInput(0));
        if (a.whollyUnknown()) {
            return a;
        }
        Value b = eval(nd.getInput(1));
        if (b.whollyUnknown()) {
            return b;
        }
        int n = Math.max(a.elements().length, b.elements().length);
        if (a.elements().length != n && a.elements().length != 1 || b.elements().length != n
                && b.elements().length != 1) {
            return unknown("'" + nd.getName() + "' broadcasts beyond a scalar");
        }
        Long[] e = new Long[n];
        for (int i = 0; i < n; i++) {
            Long x = a.elements()[a.elements().length == 1 ? 0 : i];
            Long y = b.elements()[b.elements().length == 1 ? 0 : i];
            e[i] = x == null || y == null ? null : f.applyAsLong(x, y);
        }
        return new Value(a.elements().length == n ? a.dims() : b.dims(), e, a.why() != null ? a.why() : b.why());
    }

    /** A 1-D strided slice with constant bounds (what Keras writes to read one dimension out of a Shape). */
    private Value stridedSlice(NodeDef nd) {
        Value in = eval(nd.getInput(0));
        if (in.whollyUnknown()) {
            return in;
        }
        Value begin = eval(nd.getInput(1));
        Value end = eval(nd.getInput(2));
        Value stride = eval(nd.getInput(3));
        if (in.dims().length != 1 || !begin.known() || !end.known() || !stride.known()
                || begin.elements().length != 1 || attr(nd, "ellipsis_mask") != 0 || attr(nd, "new_axis_mask") != 0) {
            return in.dims().length == 1 && !in.known() && begin.known() ? sliceOfPartial(nd, in, begin)
                    : unknown("'" + nd.getName() + "' is not a constant 1-D slice");
        }
        long n = in.dims()[0];
        long s = stride.scalar();
        if (s == 0) {
            return unknown("'" + nd.getName() + "' has stride 0");
        }
        long b = (attr(nd, "begin_mask") & 1) != 0 ? (s > 0 ? 0 : n - 1) : clamp(begin.scalar(), n, s);
        if ((attr(nd, "shrink_axis_mask") & 1) != 0) {
            long i = begin.scalar() < 0 ? begin.scalar() + n : begin.scalar();
            return i < 0 || i >= n ? unknown("'" + nd.getName() + "' slices out of range")
                    : new Value(new long[0], new Long[] {in.elements()[(int) i]}, in.why());
        }
        long e = (attr(nd, "end_mask") & 1) != 0 ? (s > 0 ? n : -1) : clamp(end.scalar(), n, s);
        java.util.List<Long> out = new java.util.ArrayList<>();
        for (long i = b; s > 0 ? i < e : i > e; i += s) {
            out.add(in.elements()[(int) i]);
        }
        return new Value(new long[] {out.size()}, out.toArray(Long[]::new), in.why());
    }

    /** A shrinking slice of one element out of a partly known shape: known when that element is. */
    private Value sliceOfPartial(NodeDef nd, Value in, Value begin) {
        if ((attr(nd, "shrink_axis_mask") & 1) == 0 || begin.elements().length != 1) {
            return unknown("'" + nd.getName() + "' is not a constant 1-D slice");
        }
        long n = in.dims()[0];
        long i = begin.scalar() < 0 ? begin.scalar() + n : begin.scalar();
        if (i < 0 || i >= n) {
            return unknown("'" + nd.getName() + "' slices out of range");
        }
        return new Value(new long[0], new Long[] {in.elements()[(int) i]}, in.why());
    }

    private static long clamp(long v, long n, long stride) {
        if (v < 0) {
            v += n;
        }
        return stride > 0 ? Math.max(0, Math.min(v, n)) : Math.max(-1, Math.min(v, n - 1));
    }

    private static long attr(NodeDef nd, String name) {
        AttrValue a = nd.getAttrMap().get(name);
        return a == null ? 0 : a.getI();
    }

    private Value unknown(String why) {
        return new Value(new long[0], new Long[] {null}, why + inferenceFailure);
    }

    /**
     * Shape inference over the plain graph built so far: Kiln's for the nodes it can type (the same shapes, without
     * loading TensorFlow), TensorFlow's when {@code wanted} is not among them.
     */
    private void inferShapes(String wanted) {
        GraphDef gd = GraphDef.newBuilder().addAllNode(nodes.values()).setVersions(versions).build();
        TfShapeInference.inferWhatItCan(gd).forEach((node, types) -> {
            for (int i = 0; i < types.size(); i++) {
                shapes.put(TensorRef.of(node, i).toString(), types.get(i).shape());
            }
        });
        if (shapes.containsKey(wanted)) {
            return;
        }
        try {
            TensorFlowInference.of(gd).shapes().forEach((node, s) -> {
                for (int i = 0; i < s.size(); i++) {
                    shapes.put(TensorRef.of(node, i).toString(), s.get(i));
                }
            });
        } catch (IllegalArgumentException | TensorFlowException e) {
            inferenceFailure = " (TensorFlow cannot infer shapes here: " + TfImporter.firstLine(e.getMessage()) + ")";
        }
    }
}
