package dev.kiln.onnx;

import dev.kiln.KilnException;
import dev.kiln.graph.AttrValue;
import dev.kiln.graph.DType;
import dev.kiln.graph.Node;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import dev.kiln.onnx.OnnxEmitter.Layout;
import dev.kiln.onnx.OnnxEmitter.Val;

import java.util.List;

import static dev.kiln.onnx.OnnxEmitter.I64;
import static dev.kiln.onnx.OnnxEmitter.attr;
import static dev.kiln.onnx.OnnxEmitter.scalarOf;
import static dev.kiln.onnx.ShapeLowerings.int64;

/** Indexing: gathers, scatter, one-hot, top-k. */
final class GatherLowerings {
    private GatherLowerings() {
    }

    static void register(OnnxLowerings.Table t) {
        t.add("GatherV2", "Gather (batch_dims 0)", 1, (e, n) -> gather(e, n, true));
        t.add("Gather", "Gather (axis 0)", 1, (e, n) -> gather(e, n, false));
        t.add("GatherNd", "GatherND (int64 indices)", 12, GatherLowerings::gatherNd);
        t.add("ScatterNd", "ConstantOfShape + ScatterND (reduction add from opset 16)", 13, GatherLowerings::scatterNd);
        t.add("OneHot", "Equal(Unsqueeze(indices), Range(depth)) + Where", 11, GatherLowerings::oneHot);
        t.add("TopKV2", "TopK (+Cast of the indices to int32)", 11, GatherLowerings::topK);
        t.add("TensorScatterUpdate", "ScatterND", 13, (e, n) -> tensorScatter(e, n, null));
        t.add("TensorScatterAdd", "ScatterND reduction add", 16, (e, n) -> tensorScatter(e, n, "add"));
        t.add("TensorScatterMax", "ScatterND reduction max", 18, (e, n) -> tensorScatter(e, n, "max"));
        t.add("TensorScatterMin", "ScatterND reduction min", 18, (e, n) -> tensorScatter(e, n, "min"));
        t.add("Unique", "Unique (sorted=0: first-occurrence order) + Cast of the inverse indices", 11,
                GatherLowerings::unique);
    }

    private static void gather(OnnxEmitter e, Node n, boolean v2) {
        if (n.attrInt("batch_dims", 0) != 0) {
            throw KilnException.unsupported("node '" + n.name() + "' (" + n.op() + "): batch_dims "
                    + n.attrInt("batch_dims", 0) + " is not exported to ONNX (only 0)");
        }
        long axis = v2 ? e.requireConst(n, 2, "axis").asLongs()[0] : 0;
        Val p = e.get(n.input(0), Layout.NATIVE, e.computeType(n.toBuilder().attr("T", dtypeOf(n)).build()));
        Val i = e.get(n.input(1), Layout.NATIVE, -1);
        int rank = p.rank() < 0 || i.rank() < 0 ? -1 : p.rank() + i.rank() - 1;
        e.put(n, 0, new Val(e.add("Gather", n.name(), List.of(p.name(), i.name()), attr("axis", axis)),
                Layout.NATIVE, p.type(), rank));
    }

    /** The element type of a gather's params (attr Tparams, or dtype for ResourceGather). */
    private static DType dtypeOf(Node n) {
        for (String k : new String[] {"Tparams", "dtype", "T"}) {
            if (n.attr(k) instanceof AttrValue.Type t) {
                return t.value();
            }
        }
        return DType.FLOAT;
    }

    private static void gatherNd(OnnxEmitter e, Node n) {
        Val p = e.get(n.input(0), Layout.NATIVE, e.computeType(n.toBuilder().attr("T", dtypeOf(n)).build()));
        String idx = int64(e, e.get(n.input(1), Layout.NATIVE, -1));
        e.put(n, 0, new Val(e.add("GatherND", n.name(), List.of(p.name(), idx)), Layout.NATIVE, p.type(), -1));
    }

    /** The compute type of a scatter with a reduction: float32 under FP16 (ONNX Runtime's CPU provider has none). */
    private static int reducingType(OnnxEmitter e, Node n, boolean reduces) {
        int ct = e.computeType(n);
        return reduces && ct == OnnxEmitter.F16 ? OnnxEmitter.F32 : ct;
    }

    private static void scatterNd(OnnxEmitter e, Node n) {
        String idx = int64(e, e.get(n.input(0), Layout.NATIVE, -1));
        Val u = e.get(n.input(1), Layout.NATIVE, reducingType(e, n, e.opset() >= 16));
        Tensor s = e.constOf(n.input(2));
        String shape = s != null ? e.initLongs(n.name() + "/shape", s.asLongs())
                : int64(e, e.get(n.input(2), Layout.NATIVE, -1));
        String zeros = e.add("ConstantOfShape", n.name() + "/zeros", List.of(shape),
                attr("value", scalarOf(u.type(), 0).reshape(Shape.of(1))));
        // TF adds the updates of repeated indices; ONNX only can from opset 16 on
        String out = e.opset() >= 16
                ? e.add("ScatterND", n.name(), List.of(zeros, idx, u.name()), attr("reduction", "add"))
                : e.add("ScatterND", n.name(), List.of(zeros, idx, u.name()));
        e.put(n, 0, new Val(out, Layout.NATIVE, u.type(), s != null ? (int) s.numElements() : -1));
    }

    /**
     * One-hot as a comparison with 0..depth-1 laid along the new axis: exactly TF's semantics, where an index outside
     * [0, depth) gives a row of off_value (ONNX OneHot would wrap negative indices).
     */
    private static void oneHot(OnnxEmitter e, Node n) {
        Val idx = e.get(n.input(0), Layout.NATIVE, -1);
        if (idx.rank() < 0) {
            throw KilnException.unsupported("node '" + n.name() + "' (OneHot): the rank of the indices "
                    + n.input(0) + " must be known");
        }
        int outRank = idx.rank() + 1;
        long axis = n.attrInt("axis", -1);
        int a = (int) (axis < 0 ? outRank - 1 : axis);
        String i64 = int64(e, idx);
        String depth = int64(e, e.get(n.input(1), Layout.NATIVE, -1));
        String range = e.add("Range", n.name() + "/range", List.of(e.scalar(n.name() + "/start", I64, 0), depth,
                e.scalar(n.name() + "/delta", I64, 1)));
        if (a < outRank - 1) {
            long[] shape = new long[outRank - a];
            java.util.Arrays.fill(shape, 1);
            shape[0] = -1;
            range = e.add("Reshape", n.name() + "/range_along_axis", List.of(range,
                    e.initLongs(n.name() + "/range_shape", shape)));
        }
        String u = e.add("Unsqueeze", n.name() + "/indices", List.of(i64, e.initLongs(n.name() + "/axes", a)));
        String hit = e.add("Equal", n.name() + "/hit", List.of(u, range));
        int ct = e.computeType(n);
        Val on = e.get(n.input(2), Layout.NATIVE, ct);
        Val off = e.get(n.input(3), Layout.NATIVE, ct);
        e.put(n, 0, new Val(e.add("Where", n.name(), List.of(hit, on.name(), off.name())), Layout.NATIVE, on.type(),
                outRank));
    }

    private static void topK(OnnxEmitter e, Node n) {
        Val x = e.get(n.input(0), Layout.NATIVE, e.computeType(n));
        Tensor kc = e.constOf(n.input(1));
        String k = kc != null ? e.initLongs(n.name() + "/k", kc.asLongs()[0])
                : e.add("Reshape", n.name() + "/k", List.of(int64(e, e.get(n.input(1), Layout.NATIVE, -1)),
                e.initLongs(n.name() + "/k_shape", 1)));
        List<String> outs = e.addMulti("TopK", n.name(), List.of(x.name(), k), 2, attr("axis", -1L),
                attr("largest", 1L), attr("sorted", n.attrBool("sorted", true) ? 1L : 0L));
        e.put(n, 0, new Val(outs.get(0), Layout.NATIVE, x.type(), x.rank()));
        DType it = n.attr("index_type") instanceof AttrValue.Type t ? t.value() : DType.INT32;
        e.put(n, 1, e.castTo(new Val(outs.get(1), Layout.NATIVE, I64, x.rank()), OnnxTensors.onnxType(it)));
    }

    private static void tensorScatter(OnnxEmitter e, Node n, String reduction) {
        int ct = reducingType(e, n, reduction != null);
        Val data = e.get(n.input(0), Layout.NATIVE, ct);
        String idx = int64(e, e.get(n.input(1), Layout.NATIVE, -1));
        Val u = e.get(n.input(2), Layout.NATIVE, ct);
        List<String> ins = List.of(data.name(), idx, u.name());
        String out = reduction == null ? e.add("ScatterND", n.name(), ins)
                : e.add("ScatterND", n.name(), ins, attr("reduction", reduction));
        e.put(n, 0, new Val(out, Layout.NATIVE, data.type(), data.rank()));
    }

    private static void unique(OnnxEmitter e, Node n) {
        Val x = e.get(n.input(0), Layout.NATIVE, e.computeType(n));
        // ONNX Runtime runs Unique on float, int64, int8 and strings: other integers go through int64 (exactly)
        boolean widen = !OnnxEmitter.isFloat(x.type()) && x.type() != I64 && x.type() != OnnxEmitter.I8;
        Val in = widen ? e.castTo(x, I64) : x;
        List<String> outs = e.addMulti("Unique", n.name() + (widen ? "/int64" : ""), List.of(in.name()), 4,
                attr("sorted", 0L));
        e.put(n, 0, e.castTo(new Val(outs.get(0), Layout.NATIVE, in.type(), 1), x.type()));
        DType it = n.attr("out_idx") instanceof AttrValue.Type t ? t.value() : DType.INT32;
        e.put(n, 1, e.castTo(new Val(outs.get(2), Layout.NATIVE, I64, 1), OnnxTensors.onnxType(it)));
    }
}
