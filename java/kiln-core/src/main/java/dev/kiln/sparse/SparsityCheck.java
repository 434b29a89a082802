package dev.kiln.sparse;

import dev.kiln.KilnArgumentException;
import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.Tensor;
import dev.kiln.kernels.AxisView;
import dev.kiln.kernels.KernelBackends;
import dev.kiln.kernels.Kernels;

import java.util.ArrayList;
import java.util.List;

/**
 * The sparsity of every prunable layer of a graph and whether it satisfies N:M along its input-channel axis (what
 * TFMOT's {@code check_sparsity_m_by_n} tells), for {@code kiln inspect --sparsity}.
 */
public final class SparsityCheck {
    private SparsityCheck() {
    }

    /**
     * One layer: node, op, weight shape, the number of weights and zeros, their ratio, and whether it satisfies
     * the N:M asked ({@code null} where the input-channel axis is not a multiple of M).
     */
    public record Row(String layer, String op, long[] shape, long weights, long zeros, double sparsity, int n, int m,
                      Boolean satisfiesNM) { }

    /** Every Conv2D, DepthwiseConv2dNative and MatMul with float32 Const weights, checked for 2:4. */
    public static List<Row> of(Graph g) {
        return of(g, 2, 4, KernelBackends.get());
    }

    /** The same for N:M on the given kernels. */
    public static List<Row> of(Graph g, int n, int m, Kernels k) {
        KilnArgumentException.check(g != null && k != null, "graph and kernels must not be null");
        List<Row> rows = new ArrayList<>();
        for (Node node : g.topologicalOrder()) {
            if (!PruningPlan.PRUNABLE_OPS.contains(node.op()) || node.numDataInputs() < 2) {
                continue;
            }
            Tensor w = g.constantValue(node.input(1));
            if (w == null || w.dtype() != DType.FLOAT || w.shape().dims().length < 2) {
                continue;
            }
            rows.add(row(node.name(), node.op(), w.shape().dims(), w.floats(), inputAxis(node), n, m, k));
        }
        return rows;
    }

    /** One weight checked along {@code axis} (for other graph formats, such as ONNX, whose layouts differ). */
    public static Row row(String layer, String op, long[] dims, float[] w, int axis, int n, int m, Kernels k) {
        KilnArgumentException.check(w != null && w.length > 0, "weights of '" + layer + "' must not be empty");
        long zeros = 0;
        for (float x : w) {
            if (x == 0f) {
                zeros++;
            }
        }
        AxisView view = AxisView.of(dims, axis);
        Boolean ok = view.channels() % m != 0 ? null : k.checkNM(w, view, n, m, 0).nbBad() == 0;
        return new Row(layer, op, dims, w.length, zeros, (double) zeros / w.length, n, m, ok);
    }

    /**
     * The input-channel axis of a prunable layer's weight: I of Conv2D HWIO, C of DepthwiseConv2dNative
     * {@code [H, W, C, M]}, K of MatMul {@code [K, N]} (axis 1 of {@code [N, K]} with transpose_b).
     */
    public static int inputAxis(Node n) {
        return switch (n.op()) {
            case "Conv2D", "DepthwiseConv2dNative" -> 2;
            default -> n.attrBool("transpose_b", false) ? 1 : 0;
        };
    }
}
