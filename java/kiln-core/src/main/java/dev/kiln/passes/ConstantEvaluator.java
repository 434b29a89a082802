package dev.kiln.passes;

import dev.kiln.graph.DType;
import dev.kiln.graph.Node;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;

/**
 * Evaluates single TensorFlow ops on constant inputs in Java, with TensorFlow's semantics (NumPy broadcasting, C-order
 * layout). Arithmetic runs in double (long for integers) and is rounded to the node's type, which for the basic
 * float32 operations gives TensorFlow's exact result.
 *
 * <p>Supported: elementwise Add, AddV2, Sub, Mul, RealDiv, Div (float), Maximum, Minimum, FloorDiv, FloorMod, Pow,
 * SquaredDifference; Neg, Sqrt, Rsqrt, Square, Reciprocal, Abs, Exp, Log, Floor, Ceil, Relu, Relu6, Tanh, Sigmoid,
 * ZerosLike, OnesLike, Identity; Cast; Reshape, Transpose, Pack, ConcatV2, Squeeze, ExpandDims, Fill, Range,
 * StridedSlice (begin/end/shrink-axis masks), Slice, Gather/GatherV2 (batch_dims 0); Sum, Prod, Max, Min, Mean; and
 * Shape, Size, Rank from a known shape. Arithmetic types: float32, float64, int32, int64; the structural ops copy any
 * fixed-size type.
 */
public final class ConstantEvaluator {
    private ConstantEvaluator() {
    }

    private static final Set<String> BINARY = Set.of("Add", "AddV2", "Sub", "Mul", "RealDiv", "Div", "Maximum",
            "Minimum", "FloorDiv", "FloorMod", "Pow", "SquaredDifference");
    private static final Set<String> UNARY = Set.of("Neg", "Sqrt", "Rsqrt", "Square", "Reciprocal", "Inv", "Abs",
            "Exp", "Log", "Floor", "Ceil", "Relu", "Relu6", "Tanh", "Sigmoid", "ZerosLike", "OnesLike", "Identity");
    private static final Set<String> OTHER = Set.of("Cast", "Reshape", "Transpose", "Pack", "ConcatV2", "Squeeze",
            "ExpandDims", "Fill", "Range", "StridedSlice", "Slice", "Gather", "GatherV2", "Sum", "Prod", "Max", "Min",
            "Mean");
    private static final Set<String> SHAPE_OPS = Set.of("Shape", "Size", "Rank");

    /** Whether {@link #evaluate} knows the op (it may still decline a particular node, returning null). */
    public static boolean supports(String op) {
        return BINARY.contains(op) || UNARY.contains(op) || OTHER.contains(op);
    }

    /** Whether the op is Shape, Size or Rank, which {@link #evaluateShapeOp} computes from a known input shape. */
    public static boolean isShapeOp(String op) {
        return SHAPE_OPS.contains(op);
    }

    /**
     * Shape, Size or Rank of an input of shape {@code in}: null when the shape is not known well enough (Rank needs
     * the rank, the others a fully defined shape).
     */
    public static Tensor evaluateShapeOp(Node node, Shape in) {
        DType out = node.hasAttr("out_type") ? node.attrType("out_type") : DType.INT32;
        switch (node.op()) {
            case "Rank":
                return in.hasRank() ? Tensor.scalar(in.rank()) : null;
            case "Shape":
                if (!in.isFullyDefined()) {
                    return null;
                }
                return fromLongs(out, Shape.of(in.rank()), in.dims());
            case "Size":
                if (!in.isFullyDefined()) {
                    return null;
                }
                return fromLongs(out, Shape.scalar(), new long[] {in.numElements()});
            default:
                return null;
        }
    }

    /**
     * The value of {@code node} given the values of its data inputs, or null when this evaluator cannot compute it
     * (an unsupported op, type or attribute). Throws IllegalArgumentException when the inputs are inconsistent.
     */
    public static Tensor evaluate(Node node, List<Tensor> in) {
        String op = node.op();
        for (Tensor t : in) {
            if (t.dtype().byteSize() <= 0) {
                return null;
            }
        }
        if (BINARY.contains(op)) {
            return in.size() == 2 ? binary(op, in.get(0), in.get(1)) : null;
        }
        if (UNARY.contains(op)) {
            return in.size() == 1 ? unary(op, in.get(0)) : null;
        }
        return switch (op) {
            case "Cast" -> cast(in.get(0), node.attrType("DstT"));
            case "Reshape" -> reshape(in.get(0), in.get(1));
            case "Transpose" -> transpose(in.get(0), toInts(in.get(1)));
            case "Pack" -> pack(in, (int) node.attrInt("axis", 0));
            case "ConcatV2" -> concat(in.subList(0, in.size() - 1), (int) scalarLong(in.get(in.size() - 1)));
            case "Squeeze" -> squeeze(in.get(0), node.attrInts("squeeze_dims", node.attrInts("axis", new long[0])));
            case "ExpandDims" -> expandDims(in.get(0), (int) scalarLong(in.get(1)));
            case "Fill" -> fill(in.get(0), in.get(1));
            case "Range" -> range(in.get(0), in.get(1), in.get(2), node);
            case "StridedSlice" -> stridedSlice(node, in.get(0), in.get(1), in.get(2), in.get(3));
            case "Slice" -> slice(in.get(0), in.get(1), in.get(2));
            case "Gather" -> gather(in.get(0), in.get(1), 0);
            case "GatherV2" -> node.attrInt("batch_dims", 0) != 0 ? null
                    : gather(in.get(0), in.get(1), (int) scalarLong(in.get(2)));
            case "Sum", "Prod", "Max", "Min", "Mean" -> reduce(op, in.get(0), in.get(1),
                    node.attrBool("keep_dims", false));
            default -> null;
        };
    }

    // ---------------------------------------------------------------- elementwise

    private static boolean arithmetic(DType t) {
        return t == DType.FLOAT || t == DType.DOUBLE || t == DType.INT32 || t == DType.INT64;
    }

    private static boolean isFloat(DType t) {
        return t == DType.FLOAT || t == DType.DOUBLE;
    }

    /** NumPy broadcast of two shapes. */
    static long[] broadcast(long[] a, long[] b) {
        int r = Math.max(a.length, b.length);
        long[] out = new long[r];
        for (int i = 0; i < r; i++) {
            long da = i < r - a.length ? 1 : a[i - (r - a.length)];
            long db = i < r - b.length ? 1 : b[i - (r - b.length)];
            if (da != db && da != 1 && db != 1) {
                throw new IllegalArgumentException("shapes " + Arrays.toString(a) + " and " + Arrays.toString(b)
                        + " do not broadcast");
            }
            out[i] = da == 1 ? db : da;
        }
        return out;
    }

    /** For each element of {@code out}, the flat index of the broadcast source element of shape {@code src}. */
    static int[] broadcastIndex(long[] src, long[] out) {
        int n = (int) count(out);
        int[] idx = new int[n];
        int r = out.length;
        int off = r - src.length;
        long[] srcStrides = strides(src);
        int[] pos = new int[r];
        for (int i = 0; i < n; i++) {
            long s = 0;
            for (int d = off; d < r; d++) {
                if (src[d - off] != 1) {
                    s += pos[d] * srcStrides[d - off];
                }
            }
            idx[i] = (int) s;
            for (int d = r - 1; d >= 0; d--) {
                if (++pos[d] < out[d]) {
                    break;
                }
                pos[d] = 0;
            }
        }
        return idx;
    }

    private static Tensor binary(String op, Tensor a, Tensor b) {
        if (a.dtype() != b.dtype() || !arithmetic(a.dtype())) {
            return null;
        }
        DType t = a.dtype();
        long[] outDims = broadcast(a.shape().dims(), b.shape().dims());
        int[] ia = broadcastIndex(a.shape().dims(), outDims);
        int[] ib = broadcastIndex(b.shape().dims(), outDims);
        int n = ia.length;
        if (isFloat(t)) {
            if (op.equals("FloorMod")) {
                return null;
            }
            double[] x = a.asDoubles();
            double[] y = b.asDoubles();
            double[] z = new double[n];
            for (int i = 0; i < n; i++) {
                double p = x[ia[i]];
                double q = y[ib[i]];
                z[i] = switch (op) {
                    case "Add", "AddV2" -> p + q;
                    case "Sub" -> p - q;
                    case "Mul" -> p * q;
                    case "RealDiv", "Div" -> p / q;
                    case "Maximum" -> Double.isNaN(p) || Double.isNaN(q) ? Double.NaN : Math.max(p, q);
                    case "Minimum" -> Double.isNaN(p) || Double.isNaN(q) ? Double.NaN : Math.min(p, q);
                    case "FloorDiv" -> Math.floor(p / q);
                    case "Pow" -> Math.pow(p, q);
                    case "SquaredDifference" -> (p - q) * (p - q);
                    default -> throw new IllegalStateException(op);
                };
            }
            return fromDoubles(t, Shape.of(outDims), z);
        }
        if (op.equals("RealDiv") || op.equals("Pow")) {
            return null;
        }
        long[] x = a.asLongs();
        long[] y = b.asLongs();
        long[] z = new long[n];
        for (int i = 0; i < n; i++) {
            long p = x[ia[i]];
            long q = y[ib[i]];
            if ((op.equals("Div") || op.equals("FloorDiv") || op.equals("FloorMod")) && q == 0) {
                return null;
            }
            z[i] = switch (op) {
                case "Add", "AddV2" -> p + q;
                case "Sub" -> p - q;
                case "Mul" -> p * q;
                case "Div" -> p / q;
                case "Maximum" -> Math.max(p, q);
                case "Minimum" -> Math.min(p, q);
                case "FloorDiv" -> Math.floorDiv(p, q);
                case "FloorMod" -> Math.floorMod(p, q);
                case "SquaredDifference" -> (p - q) * (p - q);
                default -> throw new IllegalStateException(op);
            };
        }
        return fromLongs(t, Shape.of(outDims), z);
    }

    private static Tensor unary(String op, Tensor a) {
        DType t = a.dtype();
        if (op.equals("Identity")) {
            return a;
        }
        if (!arithmetic(t)) {
            return null;
        }
        int n = (int) a.numElements();
        if (isFloat(t)) {
            double[] x = a.asDoubles();
            double[] z = new double[n];
            for (int i = 0; i < n; i++) {
                double p = x[i];
                z[i] = switch (op) {
                    case "Neg" -> -p;
                    case "Sqrt" -> Math.sqrt(p);
                    case "Rsqrt" -> 1.0 / Math.sqrt(p);
                    case "Square" -> p * p;
                    case "Reciprocal", "Inv" -> 1.0 / p;
                    case "Abs" -> Math.abs(p);
                    case "Exp" -> Math.exp(p);
                    case "Log" -> Math.log(p);
                    case "Floor" -> Math.floor(p);
                    case "Ceil" -> Math.ceil(p);
                    case "Relu" -> p > 0 ? p : 0.0;
                    case "Relu6" -> Math.min(Math.max(p, 0.0), 6.0);
                    case "Tanh" -> Math.tanh(p);
                    case "Sigmoid" -> 1.0 / (1.0 + Math.exp(-p));
                    case "ZerosLike" -> 0.0;
                    case "OnesLike" -> 1.0;
                    default -> throw new IllegalStateException(op);
                };
            }
            return fromDoubles(t, a.shape(), z);
        }
        long[] x = a.asLongs();
        long[] z = new long[n];
        for (int i = 0; i < n; i++) {
            long p = x[i];
            Long v = switch (op) {
                case "Neg" -> -p;
                case "Square" -> p * p;
                case "Abs" -> Math.abs(p);
                case "Relu" -> Math.max(p, 0);
                case "Relu6" -> Math.min(Math.max(p, 0), 6);
                case "ZerosLike" -> 0L;
                case "OnesLike" -> 1L;
                case "Floor", "Ceil" -> p;
                default -> null;
            };
            if (v == null) {
                return null;
            }
            z[i] = v;
        }
        return fromLongs(t, a.shape(), z);
    }

    private static Tensor cast(Tensor a, DType to) {
        DType from = a.dtype();
        if (from == to) {
            return a;
        }
        boolean okFrom = arithmetic(from) || from == DType.BOOL;
        boolean okTo = arithmetic(to) || to == DType.BOOL;
        if (!okFrom || !okTo) {
            return null;
        }
        int n = (int) a.numElements();
        if (to == DType.BOOL) {
            byte[] z = new byte[n];
            double[] x = a.asDoubles();
            for (int i = 0; i < n; i++) {
                z[i] = (byte) (x[i] != 0 ? 1 : 0);
            }
            return Tensor.ofBytes(DType.BOOL, a.shape(), z);
        }
        if (isFloat(to)) {
            return fromDoubles(to, a.shape(), isFloat(from) ? a.asDoubles() : longsToDoubles(a.asLongs()));
        }
        long[] z = new long[n];
        if (isFloat(from)) {
            double[] x = a.asDoubles();
            for (int i = 0; i < n; i++) {
                if (Double.isNaN(x[i]) || Double.isInfinite(x[i])) {
                    return null; // implementation-defined in C++
                }
                z[i] = (long) x[i];
            }
        } else {
            z = a.asLongs();
        }
        return fromLongs(to, a.shape(), z);
    }

    // ---------------------------------------------------------------- structural

    private static Tensor reshape(Tensor a, Tensor shapeT) {
        long[] s = shapeT.asLongs();
        long n = a.numElements();
        int unknown = -1;
        long known = 1;
        for (int i = 0; i < s.length; i++) {
            if (s[i] == -1) {
                if (unknown >= 0) {
                    throw new IllegalArgumentException("reshape with two -1 dimensions");
                }
                unknown = i;
            } else {
                known *= s[i];
            }
        }
        if (unknown >= 0) {
            if (known == 0 || n % known != 0) {
                throw new IllegalArgumentException("cannot reshape " + a.shape() + " to " + Arrays.toString(s));
            }
            s[unknown] = n / known;
        }
        return a.reshape(Shape.of(s));
    }

    private static Tensor transpose(Tensor a, int[] perm) {
        long[] d = a.shape().dims();
        if (perm.length != d.length) {
            throw new IllegalArgumentException("transpose perm " + Arrays.toString(perm) + " for " + a.shape());
        }
        long[] out = new long[d.length];
        for (int i = 0; i < d.length; i++) {
            out[i] = d[perm[i]];
        }
        long[] inStrides = strides(d);
        int n = (int) count(out);
        int[] idx = new int[n];
        int[] pos = new int[out.length];
        for (int i = 0; i < n; i++) {
            long s = 0;
            for (int k = 0; k < out.length; k++) {
                s += pos[k] * inStrides[perm[k]];
            }
            idx[i] = (int) s;
            increment(pos, out);
        }
        return select(a, out, idx);
    }

    private static Tensor pack(List<Tensor> in, int axis) {
        int rank = in.get(0).shape().rank() + 1;
        int ax = axis < 0 ? axis + rank : axis;
        List<Tensor> expanded = new ArrayList<>();
        for (Tensor t : in) {
            expanded.add(expandDims(t, ax));
        }
        return concat(expanded, ax);
    }

    private static Tensor concat(List<Tensor> in, int axis) {
        Tensor first = in.get(0);
        int rank = first.shape().rank();
        int ax = axis < 0 ? axis + rank : axis;
        long[] out = first.shape().dims();
        long total = 0;
        for (Tensor t : in) {
            if (t.dtype() != first.dtype() || t.shape().rank() != rank) {
                throw new IllegalArgumentException("concat of mismatched tensors");
            }
            total += t.shape().dim(ax);
        }
        out[ax] = total;
        int es = first.dtype().byteSize();
        long outer = 1;
        for (int i = 0; i < ax; i++) {
            outer *= out[i];
        }
        ByteBuffer buf = ByteBuffer.allocate((int) (count(out) * es)).order(ByteOrder.LITTLE_ENDIAN);
        for (long o = 0; o < outer; o++) {
            for (Tensor t : in) {
                long inner = t.numElements() / Math.max(outer, 1) * es;
                if (outer == 0) {
                    break;
                }
                ByteBuffer src = t.bytes();
                src.position((int) (o * inner));
                src.limit((int) (o * inner + inner));
                buf.put(src);
            }
        }
        buf.flip();
        return Tensor.wrap(first.dtype(), Shape.of(out), buf);
    }

    private static Tensor squeeze(Tensor a, long[] axes) {
        long[] d = a.shape().dims();
        boolean[] drop = new boolean[d.length];
        if (axes.length == 0) {
            for (int i = 0; i < d.length; i++) {
                drop[i] = d[i] == 1;
            }
        } else {
            for (long ax : axes) {
                int i = (int) (ax < 0 ? ax + d.length : ax);
                if (d[i] != 1) {
                    throw new IllegalArgumentException("cannot squeeze dimension " + i + " of " + a.shape());
                }
                drop[i] = true;
            }
        }
        long[] out = new long[d.length];
        int k = 0;
        for (int i = 0; i < d.length; i++) {
            if (!drop[i]) {
                out[k++] = d[i];
            }
        }
        return a.reshape(Shape.of(Arrays.copyOf(out, k)));
    }

    private static Tensor expandDims(Tensor a, int axis) {
        long[] d = a.shape().dims();
        int ax = axis < 0 ? axis + d.length + 1 : axis;
        long[] out = new long[d.length + 1];
        for (int i = 0, k = 0; i < out.length; i++) {
            out[i] = i == ax ? 1 : d[k++];
        }
        return a.reshape(Shape.of(out));
    }

    private static Tensor fill(Tensor dimsT, Tensor value) {
        long[] out = dimsT.asLongs();
        int n = (int) count(out);
        return select(value, out, new int[n]);
    }

    private static Tensor range(Tensor start, Tensor limit, Tensor delta, Node node) {
        DType t = start.dtype();
        if (!arithmetic(t)) {
            return null;
        }
        if (isFloat(t)) {
            double s = start.asDoubles()[0];
            double l = limit.asDoubles()[0];
            double d = delta.asDoubles()[0];
            if (d == 0) {
                throw new IllegalArgumentException("Range with delta 0");
            }
            int n = (int) Math.max(0, Math.ceil(Math.abs((l - s) / d)));
            if ((l - s) / d < 0) {
                n = 0;
            }
            double[] z = new double[n];
            for (int i = 0; i < n; i++) {
                z[i] = s + i * d;
            }
            return fromDoubles(t, Shape.of(n), z);
        }
        long s = start.asLongs()[0];
        long l = limit.asLongs()[0];
        long d = delta.asLongs()[0];
        if (d == 0) {
            throw new IllegalArgumentException("Range with delta 0");
        }
        long n = d > 0 ? Math.max(0, (l - s + d - 1) / d) : Math.max(0, (s - l - d - 1) / -d);
        long[] z = new long[(int) n];
        for (int i = 0; i < n; i++) {
            z[i] = s + i * d;
        }
        return fromLongs(t, Shape.of(n), z);
    }

    private static Tensor slice(Tensor a, Tensor beginT, Tensor sizeT) {
        long[] d = a.shape().dims();
        long[] b = beginT.asLongs();
        long[] s = sizeT.asLongs();
        long[] begin = new long[d.length];
        long[] stride = new long[d.length];
        long[] out = new long[d.length];
        for (int i = 0; i < d.length; i++) {
            begin[i] = b[i];
            stride[i] = 1;
            out[i] = s[i] == -1 ? d[i] - b[i] : s[i];
            if (b[i] < 0 || out[i] < 0 || b[i] + out[i] > d[i]) {
                throw new IllegalArgumentException("slice out of range");
            }
        }
        return strided(a, begin, stride, out, out);
    }

    private static Tensor stridedSlice(Node node, Tensor a, Tensor beginT, Tensor endT, Tensor stridesT) {
        long ellipsis = node.attrInt("ellipsis_mask", 0);
        long newAxis = node.attrInt("new_axis_mask", 0);
        if (ellipsis != 0 || newAxis != 0) {
            return null;
        }
        long beginMask = node.attrInt("begin_mask", 0);
        long endMask = node.attrInt("end_mask", 0);
        long shrink = node.attrInt("shrink_axis_mask", 0);
        long[] d = a.shape().dims();
        long[] b = beginT.asLongs();
        long[] e = endT.asLongs();
        long[] st = stridesT.asLongs();
        if (b.length > d.length) {
            return null;
        }
        long[] begin = new long[d.length];
        long[] stride = new long[d.length];
        long[] counts = new long[d.length];
        List<Long> outDims = new ArrayList<>();
        for (int i = 0; i < d.length; i++) {
            long dim = d[i];
            if (i >= b.length) {
                begin[i] = 0;
                stride[i] = 1;
                counts[i] = dim;
                outDims.add(dim);
                continue;
            }
            long s = st[i];
            if (s == 0) {
                throw new IllegalArgumentException("StridedSlice stride 0");
            }
            if ((shrink >> i & 1) != 0) {
                long x = b[i] < 0 ? b[i] + dim : b[i];
                if (x < 0 || x >= dim) {
                    throw new IllegalArgumentException("StridedSlice index out of range");
                }
                begin[i] = x;
                stride[i] = 1;
                counts[i] = 1;
                continue;
            }
            long lo = s > 0 ? 0 : -1;
            long hi = s > 0 ? dim : dim - 1;
            long bb;
            if ((beginMask >> i & 1) != 0) {
                bb = s > 0 ? 0 : dim - 1;
            } else {
                bb = b[i] < 0 ? b[i] + dim : b[i];
                bb = Math.max(lo, Math.min(hi, bb));
            }
            long ee;
            if ((endMask >> i & 1) != 0) {
                ee = s > 0 ? dim : -1;
            } else {
                ee = e[i] < 0 ? e[i] + dim : e[i];
                ee = Math.max(lo, Math.min(hi, ee));
            }
            long c = s > 0 ? Math.max(0, (ee - bb + s - 1) / s) : Math.max(0, (bb - ee - s - 1) / -s);
            begin[i] = bb;
            stride[i] = s;
            counts[i] = c;
            outDims.add(c);
        }
        long[] out = outDims.stream().mapToLong(Long::longValue).toArray();
        return strided(a, begin, stride, counts, out);
    }

    /** Elements begin + k*stride for k < counts in every dimension, laid out with shape {@code outDims}. */
    private static Tensor strided(Tensor a, long[] begin, long[] stride, long[] counts, long[] outDims) {
        long[] inStrides = strides(a.shape().dims());
        int n = (int) count(counts);
        int[] idx = new int[n];
        int[] pos = new int[counts.length];
        for (int i = 0; i < n; i++) {
            long s = 0;
            for (int k = 0; k < counts.length; k++) {
                s += (begin[k] + pos[k] * stride[k]) * inStrides[k];
            }
            idx[i] = (int) s;
            increment(pos, counts);
        }
        return select(a, outDims, idx);
    }

    private static Tensor gather(Tensor params, Tensor indices, int axis) {
        long[] p = params.shape().dims();
        int ax = axis < 0 ? axis + p.length : axis;
        long[] ind = indices.asLongs();
        long[] id = indices.shape().dims();
        long outer = 1;
        for (int i = 0; i < ax; i++) {
            outer *= p[i];
        }
        long inner = 1;
        for (int i = ax + 1; i < p.length; i++) {
            inner *= p[i];
        }
        long[] out = new long[p.length - 1 + id.length];
        int k = 0;
        for (int i = 0; i < ax; i++) {
            out[k++] = p[i];
        }
        for (long x : id) {
            out[k++] = x;
        }
        for (int i = ax + 1; i < p.length; i++) {
            out[k++] = p[i];
        }
        int n = (int) count(out);
        int[] idx = new int[n];
        int w = 0;
        for (long o = 0; o < outer; o++) {
            for (long j : ind) {
                if (j < 0 || j >= p[ax]) {
                    throw new IllegalArgumentException("gather index " + j + " out of range " + p[ax]);
                }
                for (long q = 0; q < inner; q++) {
                    idx[w++] = (int) ((o * p[ax] + j) * inner + q);
                }
            }
        }
        return select(params, out, idx);
    }

    private static Tensor reduce(String op, Tensor a, Tensor axesT, boolean keepDims) {
        if (!arithmetic(a.dtype())) {
            return null;
        }
        long[] d = a.shape().dims();
        boolean[] red = new boolean[d.length];
        for (long ax : axesT.asLongs()) {
            red[(int) (ax < 0 ? ax + d.length : ax)] = true;
        }
        long[] keep = new long[d.length];
        List<Long> out = new ArrayList<>();
        for (int i = 0; i < d.length; i++) {
            keep[i] = red[i] ? 1 : d[i];
            if (!red[i]) {
                out.add(d[i]);
            } else if (keepDims) {
                out.add(1L);
            }
        }
        int n = (int) count(keep);
        long[] kStrides = strides(keep);
        double[] acc = new double[n];
        long[] lacc = new long[n];
        int[] cnt = new int[n];
        boolean fl = isFloat(a.dtype());
        double[] x = fl ? a.asDoubles() : null;
        long[] lx = fl ? null : a.asLongs();
        int[] pos = new int[d.length];
        for (int i = 0; i < (int) a.numElements(); i++) {
            int o = 0;
            for (int k = 0; k < d.length; k++) {
                if (!red[k]) {
                    o += (int) (pos[k] * kStrides[k]);
                }
            }
            if (fl) {
                double v = x[i];
                acc[o] = cnt[o] == 0 ? v : switch (op) {
                    case "Sum", "Mean" -> acc[o] + v;
                    case "Prod" -> acc[o] * v;
                    case "Max" -> Math.max(acc[o], v);
                    default -> Math.min(acc[o], v);
                };
            } else {
                long v = lx[i];
                lacc[o] = cnt[o] == 0 ? v : switch (op) {
                    case "Sum", "Mean" -> lacc[o] + v;
                    case "Prod" -> lacc[o] * v;
                    case "Max" -> Math.max(lacc[o], v);
                    default -> Math.min(lacc[o], v);
                };
            }
            cnt[o]++;
            increment(pos, d);
        }
        Shape outShape = Shape.of(out.stream().mapToLong(Long::longValue).toArray());
        for (int o = 0; o < n; o++) {
            if (cnt[o] == 0) {
                if (op.equals("Max") || op.equals("Min") || op.equals("Mean")) {
                    return null;
                }
                acc[o] = op.equals("Prod") ? 1 : 0;
                lacc[o] = op.equals("Prod") ? 1 : 0;
            } else if (op.equals("Mean")) {
                acc[o] /= cnt[o];
                lacc[o] /= cnt[o];
            }
        }
        return fl ? fromDoubles(a.dtype(), outShape, acc) : fromLongs(a.dtype(), outShape, lacc);
    }

    // ---------------------------------------------------------------- helpers

    /** A tensor of shape {@code outDims} whose element i is element {@code idx[i]} of {@code a}. */
    private static Tensor select(Tensor a, long[] outDims, int[] idx) {
        int es = a.dtype().byteSize();
        ByteBuffer src = a.bytes();
        byte[] dst = new byte[Math.multiplyExact(idx.length, es)];
        for (int i = 0; i < idx.length; i++) {
            src.position(idx[i] * es);
            src.get(dst, i * es, es);
        }
        return Tensor.wrap(a.dtype(), Shape.of(outDims), ByteBuffer.wrap(dst).order(ByteOrder.LITTLE_ENDIAN));
    }

    private static void increment(int[] pos, long[] dims) {
        for (int d = dims.length - 1; d >= 0; d--) {
            if (++pos[d] < dims[d]) {
                return;
            }
            pos[d] = 0;
        }
    }

    static long[] strides(long[] dims) {
        long[] s = new long[dims.length];
        long acc = 1;
        for (int i = dims.length - 1; i >= 0; i--) {
            s[i] = acc;
            acc *= dims[i];
        }
        return s;
    }

    static long count(long[] dims) {
        long n = 1;
        for (long x : dims) {
            n = Math.multiplyExact(n, x);
        }
        if (n > Integer.MAX_VALUE / 8) {
            throw new IllegalArgumentException("tensor of " + n + " elements is too large to fold");
        }
        return n;
    }

    private static int[] toInts(Tensor t) {
        return Arrays.stream(t.asLongs()).mapToInt(Math::toIntExact).toArray();
    }

    private static long scalarLong(Tensor t) {
        long[] v = t.asLongs();
        if (v.length != 1) {
            throw new IllegalArgumentException("expected a scalar, got " + t.shape());
        }
        return v[0];
    }

    private static double[] longsToDoubles(long[] x) {
        double[] z = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            z[i] = x[i];
        }
        return z;
    }

    /** A FLOAT or DOUBLE tensor from double values (rounded to float32 for FLOAT). */
    static Tensor fromDoubles(DType t, Shape shape, double[] z) {
        if (t == DType.FLOAT) {
            float[] f = new float[z.length];
            for (int i = 0; i < z.length; i++) {
                f[i] = (float) z[i];
            }
            return Tensor.ofFloats(shape, f);
        }
        if (t == DType.DOUBLE) {
            return Tensor.ofDoubles(shape, z);
        }
        throw new IllegalArgumentException("not a float type: " + t);
    }

    /** An INT32 (wrapping) or INT64 tensor from long values. */
    static Tensor fromLongs(DType t, Shape shape, long[] z) {
        if (t == DType.INT64) {
            return Tensor.ofLongs(shape, z);
        }
        if (t == DType.INT32) {
            int[] v = new int[z.length];
            for (int i = 0; i < z.length; i++) {
                v[i] = (int) z[i];
            }
            return Tensor.ofInts(shape, v);
        }
        throw new IllegalArgumentException("not an integer type: " + t);
    }
}
