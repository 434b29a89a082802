package dev.kiln.onnx;

import dev.kiln.KilnException;
import dev.kiln.graph.Node;
import dev.kiln.graph.TensorType;
import dev.kiln.onnx.OnnxEmitter.Layout;
import dev.kiln.onnx.OnnxEmitter.Val;

import java.util.ArrayList;
import java.util.List;

import static dev.kiln.onnx.OnnxEmitter.attr;

/** Parts of a tensor: slices, splits and unstacking, reversal, roll. */
final class SliceLowerings {
    private SliceLowerings() {
    }

    static void register(OnnxLowerings.Table t) {
        t.add("Slice", "Slice", 10, SliceLowerings::slice);
        t.add("StridedSlice", "Slice (+Squeeze for shrink_axis_mask, Unsqueeze for new_axis_mask)", 13,
                SliceLowerings::stridedSlice);
        t.add("Split", "Split (equal parts)", 13, SliceLowerings::split);
        t.add("SplitV", "Split (int64 sizes)", 13, SliceLowerings::splitV);
        t.add("Unpack", "Split + Squeeze per output", 13, SliceLowerings::unpack);
        t.add("ReverseV2", "Slice with step -1 per axis", 10, SliceLowerings::reverse);
        t.add("ReverseSequence", "ReverseSequence (batch and sequence axes 0 and 1)", 10,
                SliceLowerings::reverseSequence);
        t.add("Roll", "Slice + Concat per axis (constant shift)", 13, SliceLowerings::roll);
    }

    private static void slice(OnnxEmitter e, Node n) {
        Val x = e.get(n.input(0), Layout.NATIVE, -1);
        long[] begin = e.requireConst(n, 1, "begin").asLongs();
        long[] size = e.requireConst(n, 2, "size").asLongs();
        long[] ends = new long[begin.length];
        long[] axes = new long[begin.length];
        for (int i = 0; i < begin.length; i++) {
            ends[i] = size[i] < 0 ? Long.MAX_VALUE : begin[i] + size[i];
            axes[i] = i;
        }
        String out = e.add("Slice", n.name(), List.of(x.name(), e.initLongs(n.name() + "/starts", begin),
                e.initLongs(n.name() + "/ends", ends), e.initLongs(n.name() + "/axes", axes)));
        e.put(n, 0, new Val(out, Layout.NATIVE, x.type(), x.rank()));
    }

    /**
     * TF's slice spec walks the input dims: an ellipsis covers the dims no other entry names, a new axis adds a
     * dim of 1 without reading one, a shrink removes the dim it slices. ONNX: Slice, then Squeeze the shrunk input
     * dims, then Unsqueeze the new axes at their output positions.
     */
    private static void stridedSlice(OnnxEmitter e, Node n) {
        Val x = e.get(n.input(0), Layout.NATIVE, -1);
        long[] b = e.requireConst(n, 1, "begin").asLongs();
        long[] en = e.requireConst(n, 2, "end").asLongs();
        long[] s = e.requireConst(n, 3, "strides").asLongs();
        long bm = n.attrInt("begin_mask", 0);
        long em = n.attrInt("end_mask", 0);
        long sm = n.attrInt("shrink_axis_mask", 0);
        long nm = n.attrInt("new_axis_mask", 0);
        long elm = n.attrInt("ellipsis_mask", 0);
        int consuming = 0;
        for (int i = 0; i < b.length; i++) {
            consuming += (nm >> i & 1) == 0 && (elm >> i & 1) == 0 ? 1 : 0;
        }
        if (elm != 0 && x.rank() < 0) {
            throw KilnException.unsupported("node '" + n.name() + "' (StridedSlice): ellipsis_mask needs the rank of "
                    + n.input(0) + ", which is unknown");
        }
        List<Long> axes = new ArrayList<>();
        List<Long> starts = new ArrayList<>();
        List<Long> ends = new ArrayList<>();
        List<Long> steps = new ArrayList<>();
        List<Long> squeeze = new ArrayList<>();
        List<Long> unsqueeze = new ArrayList<>();
        int dim = 0;
        int out = 0;
        boolean ellipsisSeen = false;
        for (int i = 0; i < b.length; i++) {
            if ((elm >> i & 1) != 0) {
                if (!ellipsisSeen) { // TF honours the first ellipsis only
                    int cover = x.rank() - consuming;
                    dim += cover;
                    out += cover;
                    ellipsisSeen = true;
                }
                continue;
            }
            if ((nm >> i & 1) != 0) {
                unsqueeze.add((long) out++);
                continue;
            }
            boolean pos = s[i] > 0;
            long start = (bm >> i & 1) != 0 ? (pos ? 0 : Long.MAX_VALUE) : b[i];
            long end = (em >> i & 1) != 0 ? (pos ? Long.MAX_VALUE : Long.MIN_VALUE) : en[i];
            long step = s[i];
            if ((sm >> i & 1) != 0) {
                start = b[i];
                end = b[i] == -1 ? Long.MAX_VALUE : b[i] + 1;
                step = 1;
                squeeze.add((long) dim);
            } else {
                out++;
            }
            axes.add((long) dim++);
            starts.add(start);
            ends.add(end);
            steps.add(step);
        }
        String y = x.name();
        String base = n.name();
        boolean more = !squeeze.isEmpty() || !unsqueeze.isEmpty();
        if (!axes.isEmpty()) {
            y = e.add("Slice", base + (more ? "/slice" : ""), List.of(y, e.initLongs(base + "/starts", longs(starts)),
                    e.initLongs(base + "/ends", longs(ends)), e.initLongs(base + "/axes", longs(axes)),
                    e.initLongs(base + "/steps", longs(steps))));
        }
        if (!squeeze.isEmpty()) {
            y = e.add("Squeeze", base + (unsqueeze.isEmpty() ? "" : "/squeeze"), List.of(y,
                    e.initLongs(base + "/squeeze_axes", longs(squeeze))));
        }
        if (!unsqueeze.isEmpty()) {
            y = e.add("Unsqueeze", base, List.of(y, e.initLongs(base + "/new_axes", longs(unsqueeze))));
        }
        if (y.equals(x.name())) {
            y = e.add("Identity", base, List.of(y));
        }
        int rank = x.rank() < 0 ? -1 : x.rank() - squeeze.size() + unsqueeze.size();
        e.put(n, 0, new Val(y, Layout.NATIVE, x.type(), rank));
    }

    static long[] longs(List<Long> v) {
        return v.stream().mapToLong(Long::longValue).toArray();
    }

    /** Split into {@code count} equal parts: opset 18 wants num_outputs, earlier opsets split equally by default. */
    private static List<String> equalSplit(OnnxEmitter e, Node n, Val x, long axis, int count) {
        return e.opset() >= 18
                ? e.addMulti("Split", n.name(), List.of(x.name()), count, attr("axis", axis),
                attr("num_outputs", (long) count))
                : e.addMulti("Split", n.name(), List.of(x.name()), count, attr("axis", axis));
    }

    private static void split(OnnxEmitter e, Node n) {
        long axis = e.requireConst(n, 0, "split_dim").asLongs()[0];
        int count = (int) n.attrInt("num_split");
        Val x = e.get(n.input(1), Layout.NATIVE, e.computeType(n));
        List<String> outs = equalSplit(e, n, x, axis, count);
        for (int i = 0; i < count; i++) {
            e.put(n, i, new Val(outs.get(i), Layout.NATIVE, x.type(), x.rank()));
        }
    }

    private static void splitV(OnnxEmitter e, Node n) {
        long[] sizes = e.requireConst(n, 1, "size_splits").asLongs();
        long axis = e.requireConst(n, 2, "split_dim").asLongs()[0];
        Val x = e.get(n.input(0), Layout.NATIVE, e.computeType(n));
        int unknown = -1;
        long known = 0;
        for (int i = 0; i < sizes.length; i++) {
            if (sizes[i] < 0) {
                unknown = i;
            } else {
                known += sizes[i];
            }
        }
        if (unknown >= 0) { // one size is "the rest": needs the dimension
            TensorType t = e.typeOf(n.input(0));
            int a = (int) (axis < 0 && t != null ? axis + t.shape().rank() : axis);
            long dim = t == null || !t.shape().hasRank() ? -1 : t.shape().dim(a);
            if (dim < 0) {
                throw KilnException.unsupported("node '" + n.name() + "' (SplitV): size -1 needs the size of axis "
                        + axis + " of " + n.input(0) + ", which is unknown");
            }
            sizes = sizes.clone();
            sizes[unknown] = dim - known;
        }
        List<String> outs = e.addMulti("Split", n.name(), List.of(x.name(), e.initLongs(n.name() + "/sizes", sizes)),
                sizes.length, attr("axis", axis));
        for (int i = 0; i < sizes.length; i++) {
            e.put(n, i, new Val(outs.get(i), Layout.NATIVE, x.type(), x.rank()));
        }
    }

    private static void unpack(OnnxEmitter e, Node n) {
        int count = (int) n.attrInt("num");
        long axis = n.attrInt("axis", 0);
        Val x = e.get(n.input(0), Layout.NATIVE, e.computeType(n));
        long[] ones = new long[count];
        java.util.Arrays.fill(ones, 1);
        List<String> parts = e.addMulti("Split", n.name() + "/split", List.of(x.name(),
                e.initLongs(n.name() + "/sizes", ones)), count, attr("axis", axis));
        String axes = e.initLongs(n.name() + "/axes", axis);
        for (int i = 0; i < count; i++) {
            String out = e.add("Squeeze", n.name() + ":" + i, List.of(parts.get(i), axes));
            e.put(n, i, new Val(out, Layout.NATIVE, x.type(), x.rank() < 0 ? -1 : x.rank() - 1));
        }
    }

    private static void reverse(OnnxEmitter e, Node n) {
        long[] axes = e.requireConst(n, 1, "axis").asLongs();
        Val x = e.get(n.input(0), Layout.NATIVE, -1);
        if (axes.length == 0) {
            e.put(n, 0, x);
            return;
        }
        long[] starts = new long[axes.length];
        long[] ends = new long[axes.length];
        long[] steps = new long[axes.length];
        java.util.Arrays.fill(starts, -1);
        java.util.Arrays.fill(ends, Long.MIN_VALUE);
        java.util.Arrays.fill(steps, -1);
        String out = e.add("Slice", n.name(), List.of(x.name(), e.initLongs(n.name() + "/starts", starts),
                e.initLongs(n.name() + "/ends", ends), e.initLongs(n.name() + "/axes", axes),
                e.initLongs(n.name() + "/steps", steps)));
        e.put(n, 0, new Val(out, Layout.NATIVE, x.type(), x.rank()));
    }

    private static void reverseSequence(OnnxEmitter e, Node n) {
        long seq = n.attrInt("seq_dim");
        long batch = n.attrInt("batch_dim", 0);
        if (!(seq == 0 && batch == 1 || seq == 1 && batch == 0)) {
            throw KilnException.unsupported("node '" + n.name() + "' (ReverseSequence): seq_dim " + seq + " and "
                    + "batch_dim " + batch + "; ONNX's ReverseSequence takes axes 0 and 1 only");
        }
        Val x = e.get(n.input(0), Layout.NATIVE, e.computeType(n));
        // a length of 0 reverses nothing in TF, like 1; ONNX wants lengths >= 1
        String lens = e.add("Max", n.name() + "/lengths", List.of(ShapeLowerings.int64(e, e.get(n.input(1),
                Layout.NATIVE, -1)), e.scalar(n.name() + "/one", OnnxEmitter.I64, 1)));
        String out = e.add("ReverseSequence", n.name(), List.of(x.name(), lens), attr("time_axis", seq),
                attr("batch_axis", batch));
        e.put(n, 0, new Val(out, Layout.NATIVE, x.type(), x.rank()));
    }

    /** Roll by a constant shift: the last k elements of the axis move to its front. */
    private static void roll(OnnxEmitter e, Node n) {
        long[] shift = e.requireConst(n, 1, "shift").asLongs();
        long[] axis = e.requireConst(n, 2, "axis").asLongs();
        Val x = e.get(n.input(0), Layout.NATIVE, e.computeType(n));
        TensorType t = e.typeOf(n.input(0));
        String y = x.name();
        for (int i = 0; i < axis.length; i++) {
            int rank = t == null || !t.shape().hasRank() ? -1 : t.shape().rank();
            long a = axis[i] < 0 && rank >= 0 ? axis[i] + rank : axis[i];
            long dim = rank < 0 || a < 0 ? -1 : t.shape().dim((int) a);
            if (dim < 0) {
                throw KilnException.unsupported("node '" + n.name() + "' (Roll): the size of axis " + axis[i] + " of "
                        + n.input(0) + " must be known");
            }
            long k = Math.floorMod(shift[i], dim);
            if (k == 0) {
                continue;
            }
            String p = n.name() + "/axis" + a;
            String head = e.add("Slice", p + "/tail", List.of(y, e.initLongs(p + "/s0", dim - k),
                    e.initLongs(p + "/e0", dim), e.initLongs(p + "/a", a)));
            String rest = e.add("Slice", p + "/head", List.of(y, e.initLongs(p + "/s1", 0),
                    e.initLongs(p + "/e1", dim - k), e.initLongs(p + "/a1", a)));
            y = e.add("Concat", i == axis.length - 1 ? n.name() : p, List.of(head, rest), attr("axis", a));
        }
        if (y.equals(x.name())) {
            y = e.add("Identity", n.name(), List.of(y));
        }
        e.put(n, 0, new Val(y, Layout.NATIVE, x.type(), x.rank()));
    }
}
