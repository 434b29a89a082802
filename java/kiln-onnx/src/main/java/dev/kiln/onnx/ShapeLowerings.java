package dev.kiln.onnx;

import dev.kiln.graph.AttrValue;
import dev.kiln.graph.DType;
import dev.kiln.graph.Node;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import dev.kiln.onnx.OnnxEmitter.Layout;
import dev.kiln.onnx.OnnxEmitter.Val;

import java.util.List;

import static dev.kiln.onnx.OnnxEmitter.F16;
import static dev.kiln.onnx.OnnxEmitter.I64;
import static dev.kiln.onnx.OnnxEmitter.attr;
import static dev.kiln.onnx.OnnxEmitter.scalarOf;

/** Shapes, reshaping, casts, and tensors made from a shape (Fill, ZerosLike, Range, Tile, BroadcastTo, random). */
final class ShapeLowerings {
    private ShapeLowerings() {
    }

    static void register(OnnxLowerings.Table t) {
        t.add("Reshape", "Reshape (int64 shape)", 5, ShapeLowerings::reshape);
        t.add("Squeeze", "Squeeze", 13, ShapeLowerings::squeeze);
        t.add("ExpandDims", "Unsqueeze", 13, ShapeLowerings::expandDims);
        t.add("Shape", "Shape (+Cast to int32)", 1, (e, n) -> shape(e, n, 0));
        t.add("ShapeN", "Shape per input (+Cast to int32)", 1, (e, n) -> {
            for (int i = 0; i < n.numDataInputs(); i++) {
                shape(e, n, i);
            }
        });
        t.add("Size", "Size (+Cast to int32)", 1, ShapeLowerings::size);
        t.add("Rank", "constant, or Size(Shape) when the rank is unknown", 1, ShapeLowerings::rank);
        t.add("Cast", "Cast", 1, ShapeLowerings::castOp);
        t.add("Fill", "Expand(value, dims)", 8, (e, n) -> expand(e, n, 1, 0));
        t.add("BroadcastTo", "Expand", 8, (e, n) -> expand(e, n, 0, 1));
        t.add("Tile", "Tile (int64 multiples)", 6, ShapeLowerings::tile);
        t.add("ZerosLike", "ConstantOfShape(Shape(x), 0)", 9, (e, n) -> constantLike(e, n, 0));
        t.add("OnesLike", "ConstantOfShape(Shape(x), 1)", 9, (e, n) -> constantLike(e, n, 1));
        t.add("Range", "Range", 11, ShapeLowerings::range);
        t.add("InvertPermutation", "ScatterElements(x, x, Range(0, Size(x)))", 11, ShapeLowerings::invertPermutation);
        t.add("RandomUniform", "ConstantOfShape + RandomUniformLike", 9, ShapeLowerings::randomUniform);
    }

    /** {@code v} as int64 (ONNX wants int64 shapes, axes, multiples). */
    static String int64(OnnxEmitter e, Val v) {
        return e.castTo(v, I64).name();
    }

    private static DType outType(Node n) {
        return n.attr("out_type") instanceof AttrValue.Type t ? t.value() : DType.INT32;
    }

    private static void reshape(OnnxEmitter e, Node n) {
        Val x = e.get(n.input(0), Layout.NATIVE, -1);
        Tensor s = e.constOf(n.input(1));
        String sn;
        int rank = -1;
        if (s != null) {
            sn = e.initLongs(n.input(1).node(), s.asLongs());
            rank = (int) s.numElements();
        } else {
            sn = int64(e, e.get(n.input(1), Layout.NATIVE, -1));
        }
        e.put(n, 0, new Val(e.add("Reshape", n.name(), List.of(x.name(), sn)), Layout.NATIVE, x.type(), rank));
    }

    private static void squeeze(OnnxEmitter e, Node n) {
        Val x = e.get(n.input(0), Layout.NATIVE, -1);
        long[] axes = n.attrInts("squeeze_dims", n.attrInts("axis", new long[0]));
        String out = axes.length == 0 ? e.add("Squeeze", n.name(), List.of(x.name()))
                : e.add("Squeeze", n.name(), List.of(x.name(), e.initLongs(n.name() + "/axes", axes)));
        e.put(n, 0, new Val(out, Layout.NATIVE, x.type(), x.rank() < 0 || axes.length == 0 ? -1
                : x.rank() - axes.length));
    }

    private static void expandDims(OnnxEmitter e, Node n) {
        Val x = e.get(n.input(0), Layout.NATIVE, -1);
        long dim = e.requireConst(n, 1, "dim").asLongs()[0];
        String out = e.add("Unsqueeze", n.name(), List.of(x.name(), e.initLongs(n.name() + "/axes", dim)));
        e.put(n, 0, new Val(out, Layout.NATIVE, x.type(), x.rank() < 0 ? -1 : x.rank() + 1));
    }

    private static void shape(OnnxEmitter e, Node n, int i) {
        Val x = e.get(n.input(i), Layout.NATIVE, -1);
        String hint = n.numDataInputs() == 1 ? n.name() : n.name() + ":" + i;
        String out = e.add("Shape", hint, List.of(x.name()));
        DType ot = outType(n);
        int type = I64;
        if (ot != DType.INT64) {
            type = OnnxTensors.onnxType(ot);
            out = e.add("Cast", hint + "/cast", List.of(out), attr("to", type));
        }
        e.put(n, i, new Val(out, Layout.NATIVE, type, 1));
    }

    private static void size(OnnxEmitter e, Node n) {
        Val x = e.get(n.input(0), Layout.ANY, -1);
        String out = e.add("Size", n.name(), List.of(x.name()));
        int type = OnnxTensors.onnxType(outType(n));
        e.put(n, 0, e.castTo(new Val(out, Layout.NATIVE, I64, 0), type));
    }

    private static void rank(OnnxEmitter e, Node n) {
        int r = e.rankOf(n.input(0));
        if (r >= 0) {
            e.put(n, 0, new Val(e.init(n.name(), Tensor.scalar(r)), Layout.NATIVE, OnnxEmitter.I32, 0));
            return;
        }
        Val x = e.get(n.input(0), Layout.ANY, -1);
        String s = e.add("Size", n.name() + "/size", List.of(e.add("Shape", n.name() + "/shape", List.of(x.name()))));
        e.put(n, 0, e.castTo(new Val(s, Layout.NATIVE, I64, 0), OnnxEmitter.I32));
    }

    private static void castOp(OnnxEmitter e, Node n) {
        DType to = n.attrType("DstT");
        Val x = e.get(n.input(0), Layout.ANY, -1);
        int t = OnnxTensors.onnxType(to);
        if (to == DType.FLOAT && e.cfg().precision() == Precision.FP16 && !e.cfg().keepFloat32().contains(n.name())
                && !e.cfg().keepFloat32().contains("Cast")) {
            t = F16;
        }
        if (t == x.type()) {
            e.put(n, 0, x);
            return;
        }
        e.put(n, 0, new Val(e.add("Cast", n.name(), List.of(x.name()), attr("to", t)), x.layout(), t, x.rank()));
    }

    /** Expand of input {@code value} to the shape in input {@code shape} (Fill: dims first; BroadcastTo: x first). */
    private static void expand(OnnxEmitter e, Node n, int value, int shape) {
        Val v = e.get(n.input(value), Layout.NATIVE, e.computeType(n));
        Tensor s = e.constOf(n.input(shape));
        String sn = s != null ? e.initLongs(n.name() + "/shape", s.asLongs())
                : int64(e, e.get(n.input(shape), Layout.NATIVE, -1));
        int rank = s != null ? (int) s.numElements() : -1;
        e.put(n, 0, new Val(e.add("Expand", n.name(), List.of(v.name(), sn)), Layout.NATIVE, v.type(), rank));
    }

    private static void tile(OnnxEmitter e, Node n) {
        Val x = e.get(n.input(0), Layout.NATIVE, e.computeType(n));
        String m = int64(e, e.get(n.input(1), Layout.NATIVE, -1));
        e.put(n, 0, new Val(e.add("Tile", n.name(), List.of(x.name(), m)), Layout.NATIVE, x.type(), x.rank()));
    }

    /** A tensor of {@code x}'s shape, type and layout filled with {@code value}. */
    private static void constantLike(OnnxEmitter e, Node n, double value) {
        Val x = e.get(n.input(0), Layout.ANY, e.computeType(n));
        int type = x.type() != 0 ? x.type() : e.computeType(n);
        String shape = e.add("Shape", n.name() + "/shape", List.of(x.name()));
        Tensor v = scalarOf(type, value).reshape(Shape.of(1));
        e.put(n, 0, new Val(e.add("ConstantOfShape", n.name(), List.of(shape), attr("value", v)), x.layout(), type,
                x.rank()));
    }

    private static void range(OnnxEmitter e, Node n) {
        DType dt = n.attr("Tidx") instanceof AttrValue.Type t ? t.value() : DType.INT32;
        int type = OnnxTensors.onnxType(dt);
        String[] ins = new String[3];
        for (int i = 0; i < 3; i++) {
            ins[i] = e.castTo(e.get(n.input(i), Layout.NATIVE, -1), type).name();
        }
        e.put(n, 0, new Val(e.add("Range", n.name(), List.of(ins)), Layout.NATIVE, type, 1));
    }

    private static void randomUniform(OnnxEmitter e, Node n) {
        String s64 = int64(e, e.get(n.input(0), Layout.NATIVE, -1));
        int dt = e.computeType(n.toBuilder().attr("T", n.attrType("dtype")).build());
        if (dt == F16) { // ONNX Runtime's CPU provider has no float16 RandomUniformLike; consumers cast
            dt = OnnxEmitter.F32;
        }
        String zeros = e.add("ConstantOfShape", n.name() + "/zeros", List.of(s64));
        String out = e.add("RandomUniformLike", n.name(), List.of(zeros), attr("dtype", (long) dt),
                attr("low", 0f), attr("high", 1f));
        e.put(n, 0, new Val(out, Layout.NATIVE, dt, -1));
    }

    /** y[x[i]] = i: scatter 0..n-1 to the positions x names (x itself is the base, every element is overwritten). */
    private static void invertPermutation(OnnxEmitter e, Node n) {
        Val x = e.get(n.input(0), Layout.NATIVE, -1);
        Val size = e.castTo(new Val(e.add("Size", n.name() + "/size", List.of(x.name())), Layout.NATIVE, I64, 0),
                x.type());
        String range = e.add("Range", n.name() + "/range", List.of(e.scalar(n.name() + "/start", x.type(), 0),
                size.name(), e.scalar(n.name() + "/delta", x.type(), 1)));
        e.put(n, 0, new Val(e.add("ScatterElements", n.name(), List.of(x.name(), x.name(), range), attr("axis", 0L)),
                Layout.NATIVE, x.type(), 1));
    }
}
