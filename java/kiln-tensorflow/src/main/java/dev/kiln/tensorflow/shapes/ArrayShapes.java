package dev.kiln.tensorflow.shapes;

import dev.kiln.graph.Shape;
import dev.kiln.tensorflow.GraphDefs;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.TensorShapeProto;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Sources (Placeholder, Const) and the ops that move, cut, join or reshape tensors. */
final class ArrayShapes {
    private ArrayShapes() {
    }

    static void register(Map<String, ShapeRule> rules) {
        rules.put("Placeholder", n -> NodeShapes.one(attrShape(n, "shape")));
        rules.put("PlaceholderWithDefault", n -> NodeShapes.one(attrShape(n, "shape")));
        rules.put("Const", n -> NodeShapes.one(checked(n, n.attr("value").getTensor().getTensorShape(), 0)));
        rules.put("NoOp", n -> List.of());
        rules.put("Shape", n -> NodeShapes.one(n.shape(0).hasRank() ? n.rank(0) : -1));
        rules.put("Size", n -> NodeShapes.one(Shape.scalar()));
        rules.put("Rank", n -> NodeShapes.one(Shape.scalar()));
        rules.put("Reshape", ArrayShapes::reshape);
        rules.put("Squeeze", ArrayShapes::squeeze);
        rules.put("ExpandDims", ArrayShapes::expandDims);
        rules.put("ConcatV2", ArrayShapes::concat);
        rules.put("Pack", ArrayShapes::pack);
        rules.put("Transpose", ArrayShapes::transpose);
        rules.put("StridedSlice", ArrayShapes::stridedSlice);
        rules.put("Slice", ArrayShapes::slice);
        rules.put("Pad", ArrayShapes::pad);
        rules.put("PadV2", ArrayShapes::pad);
        rules.put("MirrorPad", ArrayShapes::pad);
        rules.put("Fill", n -> NodeShapes.one(n.valueAsShape(0)));
        rules.put("RandomUniform", n -> NodeShapes.one(n.valueAsShape(0)));
        rules.put("GatherV2", ArrayShapes::gather);
        rules.put("Tile", ArrayShapes::tile);
        rules.put("ResizeBilinear", ArrayShapes::resize);
        rules.put("ResizeNearestNeighbor", ArrayShapes::resize);
        rules.put("ResizeBicubic", ArrayShapes::resize);
        rules.put("ConjugateTranspose", ArrayShapes::transpose);
        rules.put("Concat", ArrayShapes::concatV1);
        rules.put("Unpack", ArrayShapes::unpack);
        rules.put("Split", ArrayShapes::split);
        rules.put("SplitV", ArrayShapes::splitV);
        rules.put("Gather", ArrayShapes::gatherV1);
        rules.put("OneHot", ArrayShapes::oneHot);
        rules.put("TopKV2", ArrayShapes::topK);
        rules.put("ShapeN", n -> {
            List<Shape> l = new ArrayList<>();
            for (int i = 0; i < n.inputCount(); i++) {
                l.add(Shape.of(n.shape(i).hasRank() ? n.rank(i) : -1));
            }
            return l;
        });
        rules.put("ScatterNd", n -> NodeShapes.one(n.valueAsShape(2)));
        for (String op : List.of("TensorScatterUpdate", "TensorScatterAdd", "TensorScatterMax", "TensorScatterMin")) {
            rules.put(op, n -> NodeShapes.one(n.shape(0)));
        }
        rules.put("Range", ArrayShapes::range);
        rules.put("BroadcastTo", ArrayShapes::broadcastTo);
        rules.put("Where", n -> NodeShapes.one(-1, n.rank(0)));
        rules.put("Unique", n -> List.of(Shape.of(-1), Shape.of(n.dimsOfRank(0, 1))));
        rules.put("GatherNd", ArrayShapes::gatherNd);
        rules.put("SpaceToBatchND", n -> spaceBatch(n, true));
        rules.put("BatchToSpaceND", n -> spaceBatch(n, false));
        rules.put("EnsureShape", n -> {
            Shape want = attrShape(n, "shape");
            return NodeShapes.one(!n.shape(0).hasRank() ? want : !want.hasRank() ? n.shape(0)
                    : Shape.of(n.mergeShapes(n.shape(0), want)));
        });
    }

    private static Shape attrShape(NodeShapes n, String name) {
        AttrValue a;
        try {
            a = n.attr(name);
        } catch (CannotInfer noShape) {
            return Shape.unknown();
        }
        return checked(n, a.getShape(), -1);
    }

    /** A shape from the graph, whose dimensions must be at least {@code min} (TensorFlow refuses the graph else). */
    private static Shape checked(NodeShapes n, TensorShapeProto p, long min) {
        for (TensorShapeProto.Dim d : p.getDimList()) {
            if (d.getSize() < min) {
                throw n.giveUp("dimension " + d.getSize() + " in " + p);
            }
        }
        return GraphDefs.fromProto(p);
    }

    /** TensorFlow's SetOutputShapeForReshape: the target's one unknown dimension is inferred from the element count. */
    private static List<Shape> reshape(NodeShapes n) {
        Shape target = n.valueAsShape(1);
        Shape in = n.shape(0);
        if (!in.hasRank()) {
            return NodeShapes.one(target);
        }
        long[] out = target.dims();
        int outUnknown = -1;
        int inUnknown = -1;
        boolean tooMany = false;
        long outElems = 1;
        for (int i = 0; i < out.length && !tooMany; i++) {
            if (out[i] < 0) {
                tooMany = outUnknown >= 0;
                outUnknown = i;
            } else {
                outElems *= out[i];
            }
        }
        long inElems = 1;
        for (int i = 0; i < in.rank() && !tooMany; i++) {
            if (in.dim(i) < 0) {
                tooMany = inUnknown >= 0;
                inUnknown = i;
            } else {
                inElems *= in.dim(i);
            }
        }
        if (!tooMany) {
            if (inUnknown < 0 && outUnknown < 0) {
                if (inElems != outElems) {
                    throw n.giveUp("cannot reshape " + inElems + " elements to " + target);
                }
            } else if (inUnknown < 0 && outUnknown >= 0 && outElems > 0) {
                if (inElems % outElems != 0) {
                    throw n.giveUp(inElems + " elements do not divide by " + outElems);
                }
                out[outUnknown] = inElems / outElems;
            } else if (inUnknown >= 0 && outUnknown >= 0 && inElems == outElems) {
                out[outUnknown] = in.dim(inUnknown); // the same unknown dimension
            }
        }
        return NodeShapes.one(out);
    }

    private static List<Shape> squeeze(NodeShapes n) {
        int r = n.rank(0);
        long[] x = n.shape(0).dims();
        long[] axes = n.intsAttr("squeeze_dims");
        boolean[] drop = new boolean[r];
        if (axes.length == 0) {
            for (int i = 0; i < r; i++) {
                if (x[i] < 0) {
                    throw n.giveUp("squeezing an unknown dimension");
                }
                drop[i] = x[i] == 1;
            }
        }
        for (long a : axes) {
            int i = n.axis(a, r);
            if (x[i] > 1 || x[i] == 0) {
                throw n.giveUp("squeezing dimension " + i + " of size " + x[i]);
            }
            drop[i] = true;
        }
        List<Long> out = new ArrayList<>();
        for (int i = 0; i < r; i++) {
            if (!drop[i]) {
                out.add(x[i]);
            }
        }
        return NodeShapes.one(out.stream().mapToLong(Long::longValue).toArray());
    }

    private static List<Shape> expandDims(NodeShapes n) {
        int r = n.rank(0);
        long[] axis = n.exactValue(1);
        if (axis.length != 1) {
            throw n.giveUp("axis of " + axis.length + " elements");
        }
        int a = n.axis(axis[0], r + 1);
        long[] x = n.shape(0).dims();
        long[] out = new long[r + 1];
        for (int i = 0, k = 0; i <= r; i++) {
            out[i] = i == a ? 1 : x[k++];
        }
        return NodeShapes.one(out);
    }

    private static List<Shape> concat(NodeShapes n) {
        return concat(n, 0, n.inputCount() - 1, n.inputCount() - 1);
    }

    /** Concat (v1): the axis first. */
    private static List<Shape> concatV1(NodeShapes n) {
        return concat(n, 1, n.inputCount(), 0);
    }

    private static List<Shape> concat(NodeShapes n, int first, int end, int axisInput) {
        long[] axisValue = n.exactValue(axisInput);
        int r = n.rank(first);
        int axis = n.axis(axisValue[0], r);
        long[] out = n.shape(first).dims();
        for (int i = first + 1; i < end; i++) {
            if (n.rank(i) != r) {
                throw n.giveUp("inputs of ranks " + r + " and " + n.rank(i));
            }
            long[] d = n.shape(i).dims();
            for (int k = 0; k < r; k++) {
                out[k] = k == axis ? NodeShapes.plus(out[k], d[k]) : n.merge(out[k], d[k]);
            }
        }
        return NodeShapes.one(out);
    }

    private static List<Shape> pack(NodeShapes n) {
        long[] merged = n.shape(0).dims();
        for (int i = 1; i < n.inputCount(); i++) {
            merged = n.mergeShapes(Shape.of(merged), n.shape(i));
        }
        int r = n.rank(0);
        int axis = n.axis(n.intAttr("axis"), r + 1);
        long[] out = new long[r + 1];
        for (int i = 0, k = 0; i <= r; i++) {
            out[i] = i == axis ? n.inputCount() : merged[k++];
        }
        return NodeShapes.one(out);
    }

    private static List<Shape> unpack(NodeShapes n) {
        int r = n.rank(0);
        int axis = n.axis(n.intAttr("axis"), r);
        long[] x = n.shape(0).dims();
        long num = n.intAttr("num");
        if (x[axis] >= 0 && x[axis] != num) {
            throw n.giveUp("unpacking dimension " + x[axis] + " into " + num);
        }
        return NodeShapes.repeat(Shape.of(without(x, axis)), (int) num);
    }

    private static List<Shape> split(NodeShapes n) {
        int r = n.rank(1);
        long[] axisValue = n.exactValue(0);
        int axis = n.axis(axisValue[0], r);
        long parts = n.intAttr("num_split");
        long[] x = n.shape(1).dims();
        if (x[axis] >= 0 && x[axis] % parts != 0) {
            throw n.giveUp("dimension " + x[axis] + " does not split into " + parts);
        }
        x[axis] = x[axis] < 0 ? -1 : x[axis] / parts;
        return NodeShapes.repeat(Shape.of(x), (int) parts);
    }

    private static List<Shape> splitV(NodeShapes n) {
        int r = n.rank(0);
        long[] sizes = n.exactValue(1);
        int axis = n.axis(n.exactValue(2)[0], r);
        long[] x = n.shape(0).dims();
        int inferred = -1;
        long known = 0;
        for (int i = 0; i < sizes.length; i++) {
            if (sizes[i] == -1 && inferred < 0) {
                inferred = i;
            } else if (sizes[i] < 0) {
                throw n.giveUp("split size " + sizes[i]);
            } else {
                known += sizes[i];
            }
        }
        if (inferred >= 0) {
            if (x[axis] < 0) {
                throw n.giveUp("a split size to infer from an unknown dimension");
            }
            sizes[inferred] = x[axis] - known;
        }
        List<Shape> out = new ArrayList<>();
        for (long size : sizes) {
            long[] d = x.clone();
            d[axis] = size;
            out.add(Shape.of(d));
        }
        return out;
    }

    private static List<Shape> gatherV1(NodeShapes n) {
        int r = n.rank(0);
        if (r < 1 || !n.shape(1).hasRank()) {
            throw n.giveUp("params of rank " + r + " or indices of unknown rank");
        }
        long[] params = n.shape(0).dims();
        long[] indices = n.shape(1).dims();
        long[] out = new long[indices.length + r - 1];
        System.arraycopy(indices, 0, out, 0, indices.length);
        System.arraycopy(params, 1, out, indices.length, r - 1);
        return NodeShapes.one(out);
    }

    private static List<Shape> oneHot(NodeShapes n) {
        int r = n.rank(0);
        IntValue depth = n.value(1);
        if (!depth.scalar() || !depth.isExact()) {
            throw n.giveUp("depth is not a known scalar");
        }
        long a = n.intAttr("axis");
        int axis = a == -1 ? r : n.axis(a, r + 1);
        long[] x = n.shape(0).dims();
        long[] out = new long[r + 1];
        for (int i = 0, k = 0; i <= r; i++) {
            out[i] = i == axis ? depth.get(0) : x[k++];
        }
        return NodeShapes.one(out);
    }

    private static List<Shape> topK(NodeShapes n) {
        int r = n.rank(0);
        IntValue k = n.value(1);
        if (r < 1 || !k.scalar() || !k.isExact()) {
            throw n.giveUp("k is not a known scalar");
        }
        long[] x = n.shape(0).dims();
        if (x[r - 1] >= 0 && x[r - 1] < k.get(0)) {
            throw n.giveUp("k " + k.get(0) + " larger than the last dimension " + x[r - 1]);
        }
        x[r - 1] = k.get(0);
        return NodeShapes.repeat(Shape.of(x), 2);
    }

    /** Range: its length where start, limit and delta are known integers; unknown where they depend on inputs. */
    private static List<Shape> range(NodeShapes n) {
        IntValue start = n.value(0);
        IntValue limit = n.value(1);
        IntValue delta = n.value(2);
        if (start.dependsOnInputs() || limit.dependsOnInputs() || delta.dependsOnInputs()) {
            return NodeShapes.one(-1);
        }
        long size = ShapeValues.rangeSize(start.get(0), limit.get(0), delta.get(0));
        if (size < 0) {
            throw n.giveUp("an empty or infinite range");
        }
        return NodeShapes.one(size);
    }

    /** BroadcastTo a fully known shape (TensorFlow checks the input broadcasts to it). */
    private static List<Shape> broadcastTo(NodeShapes n) {
        Shape to = Shape.of(n.exactValue(1));
        Shape b = ElementwiseShapes.broadcast(n, n.shape(0), to);
        if (!b.equals(to)) {
            throw n.giveUp(n.shape(0) + " does not broadcast to " + to);
        }
        return NodeShapes.one(to);
    }

    private static List<Shape> gatherNd(NodeShapes n) {
        int r = n.rank(0);
        long[] indices = n.shape(1).hasRank() ? n.shape(1).dims() : null;
        if (indices == null || indices.length == 0 || indices[indices.length - 1] < 0
                || indices[indices.length - 1] > r) {
            throw n.giveUp("indices of shape " + n.shape(1));
        }
        int k = (int) indices[indices.length - 1];
        long[] params = n.shape(0).dims();
        long[] out = new long[indices.length - 1 + r - k];
        System.arraycopy(indices, 0, out, 0, indices.length - 1);
        System.arraycopy(params, k, out, indices.length - 1, r - k);
        return NodeShapes.one(out);
    }

    /** SpaceToBatchND (pad, then move blocks into the batch) and BatchToSpaceND (back, then crop). */
    private static List<Shape> spaceBatch(NodeShapes n, boolean toBatch) {
        long[] x = n.shape(0).hasRank() ? n.shape(0).dims() : null;
        long[] block = n.exactValue(1);
        long[] pads = n.exactValue(2);
        int m = block.length;
        if (x == null || x.length < m + 1 || pads.length != 2 * m) {
            throw n.giveUp("input " + n.shape(0) + " for " + m + " block dimensions");
        }
        long prod = 1;
        for (long b : block) {
            if (b < 1) {
                throw n.giveUp("block size " + b);
            }
            prod *= b;
        }
        long[] out = x.clone();
        if (toBatch) {
            out[0] = NodeShapes.times(x[0], prod);
        } else {
            if (x[0] >= 0 && x[0] % prod != 0) {
                throw n.giveUp("batch " + x[0] + " not divisible by " + prod);
            }
            out[0] = x[0] < 0 ? -1 : x[0] / prod;
        }
        for (int i = 0; i < m; i++) {
            long d = x[i + 1];
            if (d < 0) {
                out[i + 1] = -1;
            } else if (toBatch) {
                long padded = d + pads[2 * i] + pads[2 * i + 1];
                if (padded % block[i] != 0) {
                    throw n.giveUp("padded dimension " + padded + " not divisible by " + block[i]);
                }
                out[i + 1] = padded / block[i];
            } else {
                out[i + 1] = d * block[i] - pads[2 * i] - pads[2 * i + 1];
                if (out[i + 1] < 0) {
                    throw n.giveUp("crops larger than the dimension");
                }
            }
        }
        return NodeShapes.one(out);
    }

    private static long[] without(long[] x, int axis) {
        long[] out = new long[x.length - 1];
        for (int i = 0, k = 0; i < x.length; i++) {
            if (i != axis) {
                out[k++] = x[i];
            }
        }
        return out;
    }

    private static List<Shape> transpose(NodeShapes n) {
        int r = n.rank(0);
        long[] perm = n.exactValue(1);
        if (perm.length != r) {
            throw n.giveUp("perm of " + perm.length + " elements for rank " + r);
        }
        long[] x = n.shape(0).dims();
        long[] out = new long[r];
        for (int i = 0; i < r; i++) {
            out[i] = x[n.axis(perm[i], r)];
        }
        return NodeShapes.one(out);
    }

    /**
     * StridedSlice as TensorFlow reads its masks: an ellipsis stands for the dimensions the other entries leave out
     * (an implicit one at the end), a new axis adds a dimension of 1, a shrunk dimension goes, and every other entry
     * slices its dimension as Python slicing counts it.
     */
    private static List<Shape> stridedSlice(NodeShapes n) {
        int r = n.rank(0);
        long[] begin = n.exactValue(1);
        long[] end = n.exactValue(2);
        long[] strides = n.exactValue(3);
        int k = begin.length;
        if (end.length != k || strides.length != k) {
            throw n.giveUp("begin, end and strides of lengths " + k + ", " + end.length + ", " + strides.length);
        }
        long ellipsisMask = n.intAttr("ellipsis_mask");
        long newAxisMask = n.intAttr("new_axis_mask");
        long beginMask = n.intAttr("begin_mask");
        long endMask = n.intAttr("end_mask");
        long shrinkMask = n.intAttr("shrink_axis_mask");
        if (Long.bitCount(ellipsisMask) > 1) {
            throw n.giveUp("more than one ellipsis");
        }
        int ellipsisAt = ellipsisMask == 0 ? -1 : Long.numberOfTrailingZeros(ellipsisMask);
        int newAxesAfterEllipsis = 0;
        for (int i = ellipsisAt + 1; ellipsisAt >= 0 && i < k; i++) {
            newAxesAfterEllipsis += (int) (newAxisMask >> i & 1);
        }
        long[] x = n.shape(0).dims();
        List<Long> out = new ArrayList<>();
        int dim = 0;
        for (int i = 0; i < k; i++) {
            if (i == ellipsisAt) {
                int next = Math.min(r - (k - i) + 1 + newAxesAfterEllipsis, r);
                for (; dim < next; dim++) {
                    out.add(x[dim]);
                }
                continue;
            }
            if ((newAxisMask >> i & 1) != 0) {
                out.add(1L);
                continue;
            }
            if (dim >= r) {
                throw n.giveUp("more slice entries than dimensions");
            }
            long d = x[dim++];
            long s = strides[i];
            if (s == 0) {
                throw n.giveUp("stride 0");
            }
            if ((shrinkMask >> i & 1) != 0) {
                if (d >= 0 && (begin[i] >= d || begin[i] < -d)) {
                    throw n.giveUp("index " + begin[i] + " out of range for dimension " + d);
                }
                continue;
            }
            if (d < 0) {
                out.add(-1L);
                continue;
            }
            long lo = s > 0 ? 0 : -1;
            long hi = s > 0 ? d : d - 1;
            long b = (beginMask >> i & 1) != 0 ? (s > 0 ? lo : hi) : clamp(begin[i] < 0 ? begin[i] + d : begin[i], lo, hi);
            long e = (endMask >> i & 1) != 0 ? (s > 0 ? hi : lo) : clamp(end[i] < 0 ? end[i] + d : end[i], lo, hi);
            long len = s > 0 ? (e - b + s - 1) / s : (b - e + (-s) - 1) / (-s);
            out.add(Math.max(0, len));
        }
        for (; dim < r; dim++) {
            out.add(x[dim]);
        }
        return NodeShapes.one(out.stream().mapToLong(Long::longValue).toArray());
    }

    private static long clamp(long v, long lo, long hi) {
        return Math.max(lo, Math.min(hi, v));
    }

    private static List<Shape> slice(NodeShapes n) {
        int r = n.rank(0);
        long[] begin = n.exactValue(1);
        long[] size = n.exactValue(2);
        if (begin.length != r || size.length != r) {
            throw n.giveUp("begin and size of lengths " + begin.length + ", " + size.length + " for rank " + r);
        }
        long[] x = n.shape(0).dims();
        long[] out = new long[r];
        for (int i = 0; i < r; i++) {
            if (size[i] == -1) {
                out[i] = x[i] < 0 ? -1 : x[i] - begin[i];
            } else if (size[i] < -1) {
                throw n.giveUp("size " + size[i]);
            } else {
                out[i] = size[i];
            }
            if (out[i] < -1 || begin[i] < 0) {
                throw n.giveUp("begin " + begin[i] + ", size " + size[i] + " for dimension " + x[i]);
            }
        }
        return NodeShapes.one(out);
    }

    private static List<Shape> pad(NodeShapes n) {
        int r = n.rank(0);
        long[] p = n.exactValue(1);
        if (p.length != 2L * r) {
            throw n.giveUp("paddings of " + p.length + " values for rank " + r);
        }
        long[] out = n.shape(0).dims();
        for (int i = 0; i < r; i++) {
            if (p[2 * i] < 0 || p[2 * i + 1] < 0) {
                throw n.giveUp("negative padding");
            }
            out[i] = out[i] < 0 ? -1 : out[i] + p[2 * i] + p[2 * i + 1];
        }
        return NodeShapes.one(out);
    }

    private static List<Shape> gather(NodeShapes n) {
        if (n.hasAttr("batch_dims") && n.intAttr("batch_dims") != 0) {
            throw n.giveUp("batch_dims");
        }
        int r = n.rank(0);
        long[] axis = n.exactValue(2);
        int a = n.axis(axis[0], r);
        long[] params = n.shape(0).dims();
        long[] indices = n.shape(1).hasRank() ? n.shape(1).dims() : null;
        if (indices == null) {
            throw n.giveUp("indices of unknown rank");
        }
        long[] out = new long[r - 1 + indices.length];
        int k = 0;
        for (int i = 0; i < a; i++) {
            out[k++] = params[i];
        }
        for (long d : indices) {
            out[k++] = d;
        }
        for (int i = a + 1; i < r; i++) {
            out[k++] = params[i];
        }
        return NodeShapes.one(out);
    }

    private static List<Shape> tile(NodeShapes n) {
        int r = n.rank(0);
        long[] m = n.exactValue(1);
        if (m.length != r) {
            throw n.giveUp("multiples of " + m.length + " values for rank " + r);
        }
        long[] out = n.shape(0).dims();
        for (int i = 0; i < r; i++) {
            if (m[i] <= 0) {
                throw n.giveUp("multiple " + m[i]);
            }
            out[i] = m[i] == 1 ? out[i] : NodeShapes.times(out[i], m[i]);
        }
        return NodeShapes.one(out);
    }

    private static List<Shape> resize(NodeShapes n) {
        long[] x = n.dimsOfRank(0, 4);
        long[] size = n.exactValue(1);
        if (size.length != 2) {
            throw n.giveUp("size of " + size.length + " values");
        }
        return NodeShapes.one(x[0], size[0], size[1], x[3]);
    }
}
