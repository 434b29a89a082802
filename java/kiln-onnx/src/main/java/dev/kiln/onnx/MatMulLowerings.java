package dev.kiln.onnx;

import dev.kiln.KilnException;
import dev.kiln.graph.Node;
import dev.kiln.graph.Tensor;
import dev.kiln.onnx.OnnxEmitter.Layout;
import dev.kiln.onnx.OnnxEmitter.Val;
import dev.kiln.quant.QuantParams;

import java.util.ArrayList;
import java.util.List;

import static dev.kiln.onnx.OnnxEmitter.attr;
import static dev.kiln.onnx.OnnxEmitter.attrs;
import static dev.kiln.onnx.OnnxEmitter.permute;

/** Matrix products: MatMul with constant weights (quantized per output column under INT8), batched, Einsum. */
final class MatMulLowerings {
    private MatMulLowerings() {
    }

    static void register(OnnxLowerings.Table t) {
        t.add("MatMul", "MatMul", 1, MatMulLowerings::matmul);
        for (String op : new String[] {"BatchMatMul", "BatchMatMulV2", "BatchMatMulV3"}) {
            t.add(op, "MatMul (+Transpose for adj)", 1, MatMulLowerings::batchMatmul);
        }
        t.add("Einsum", "Einsum", 12, MatMulLowerings::einsum);
        t.add("MatrixBandPart", "Where(band mask from Range of the last two dims, x, 0)", 11,
                MatMulLowerings::bandPart);
    }

    private static void matmul(OnnxEmitter e, Node n) {
        int ct = e.computeType(n);
        boolean ta = n.attrBool("transpose_a", false);
        boolean tb = n.attrBool("transpose_b", false);
        Val a = e.get(n.input(0), Layout.NATIVE, ct);
        QuantParams q = e.quant(n, n.input(0));
        if (q != null) {
            a = e.qdq(a, q);
        }
        String an = ta ? e.add("Transpose", a.name() + "/T", List.of(a.name()), attrs("perm", 1, 0)) : a.name();
        Tensor w = e.constOf(n.input(1));
        String bn;
        if (w != null && w.dtype().isFloatingPoint() && w.shape().rank() == 2) {
            Tensor wt = tb ? permute(w, new int[] {1, 0}) : w;
            bn = e.weight(n, n.input(1).node(), wt, 1, ct);
        } else {
            Val b = e.get(n.input(1), Layout.NATIVE, ct);
            QuantParams qb = e.quant(n, n.input(1));
            if (qb != null) {
                b = e.qdq(b, qb);
            }
            bn = tb ? e.add("Transpose", b.name() + "/T", List.of(b.name()), attrs("perm", 1, 0)) : b.name();
        }
        e.put(n, 0, new Val(e.add("MatMul", n.name(), List.of(an, bn)), Layout.NATIVE, ct, 2));
    }

    private static void batchMatmul(OnnxEmitter e, Node n) {
        int ct = e.computeType(n);
        String[] names = new String[2];
        int rank = -1;
        for (int i = 0; i < 2; i++) {
            Val v = e.get(n.input(i), Layout.NATIVE, ct);
            QuantParams q = e.quant(n, n.input(i));
            if (q != null) {
                v = e.qdq(v, q);
            }
            boolean adj = n.attrBool(i == 0 ? "adj_x" : "adj_y", false);
            names[i] = v.name();
            rank = Math.max(rank, v.rank());
            if (adj) {
                if (v.rank() < 2) {
                    throw KilnException.unsupported("node '" + n.name() + "' (" + n.op()
                            + "): adj_x/adj_y needs a known rank of input " + i);
                }
                long[] perm = new long[v.rank()];
                for (int k = 0; k < perm.length; k++) {
                    perm[k] = k;
                }
                perm[v.rank() - 1] = v.rank() - 2;
                perm[v.rank() - 2] = v.rank() - 1;
                names[i] = e.add("Transpose", v.name() + "/adj", List.of(v.name()), attrs("perm", perm));
            }
        }
        e.put(n, 0, new Val(e.add("MatMul", n.name(), List.of(names[0], names[1])), Layout.NATIVE, ct, rank));
    }

    private static void einsum(OnnxEmitter e, Node n) {
        int ct = e.computeType(n);
        List<String> ins = new ArrayList<>();
        for (int i = 0; i < n.numDataInputs(); i++) {
            ins.add(e.get(n.input(i), Layout.NATIVE, ct).name());
        }
        String eq = n.attrString("equation", "");
        String out = e.add("Einsum", n.name(), ins, attr("equation", eq));
        int rank = eq.contains("->") && !eq.contains(".") ? eq.substring(eq.indexOf("->") + 2).length() : -1;
        e.put(n, 0, new Val(out, Layout.NATIVE, ct, rank));
    }

    /** Keeps x[.., m, n] where (lower < 0 or m - n <= lower) and (upper < 0 or n - m <= upper); 0 elsewhere. */
    private static void bandPart(OnnxEmitter e, Node n) {
        long lower = e.requireConst(n, 1, "num_lower").asLongs()[0];
        long upper = e.requireConst(n, 2, "num_upper").asLongs()[0];
        int ct = e.computeType(n);
        Val x = e.get(n.input(0), Layout.NATIVE, ct);
        String shape = e.add("Shape", n.name() + "/shape", List.of(x.name()));
        String zero = e.scalar(n.name() + "/i0", OnnxEmitter.I64, 0);
        String one = e.scalar(n.name() + "/i1", OnnxEmitter.I64, 1);
        String rows = e.add("Gather", n.name() + "/rows", List.of(shape, e.scalar(n.name() + "/m", OnnxEmitter.I64,
                -2)), attr("axis", 0L));
        String cols = e.add("Gather", n.name() + "/cols", List.of(shape, e.scalar(n.name() + "/n", OnnxEmitter.I64,
                -1)), attr("axis", 0L));
        String r = e.add("Unsqueeze", n.name() + "/row_index", List.of(e.add("Range", n.name() + "/row_range",
                List.of(zero, rows, one)), e.initLongs(n.name() + "/axes", 1)));
        String c = e.add("Range", n.name() + "/col_range", List.of(zero, cols, one));
        String below = e.add("Sub", n.name() + "/below", List.of(r, c)); // m - n
        String mask = null;
        if (lower >= 0) {
            mask = e.add("LessOrEqual", n.name() + "/in_lower", List.of(below, e.scalar(n.name() + "/lower",
                    OnnxEmitter.I64, lower)));
        }
        if (upper >= 0) {
            String up = e.add("LessOrEqual", n.name() + "/in_upper", List.of(e.add("Neg", n.name() + "/above",
                    List.of(below)), e.scalar(n.name() + "/upper", OnnxEmitter.I64, upper)));
            mask = mask == null ? up : e.add("And", n.name() + "/in_band", List.of(mask, up));
        }
        String y = mask == null ? e.add("Identity", n.name(), List.of(x.name()))
                : e.add("Where", n.name(), List.of(mask, x.name(), e.scalar(n.name() + "/zero", x.type(), 0)));
        e.put(n, 0, new Val(y, Layout.NATIVE, x.type(), x.rank()));
    }
}
