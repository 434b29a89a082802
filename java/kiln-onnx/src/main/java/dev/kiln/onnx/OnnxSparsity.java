package dev.kiln.onnx;

import dev.kiln.graph.DType;
import dev.kiln.graph.Tensor;
import dev.kiln.kernels.KernelBackends;
import dev.kiln.onnx.proto.Onnx.AttributeProto;
import dev.kiln.onnx.proto.Onnx.ModelProto;
import dev.kiln.onnx.proto.Onnx.NodeProto;
import dev.kiln.sparse.SparsityCheck;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * {@link SparsityCheck} on an ONNX model: every Conv, MatMul and Gemm whose weight (input 1) is a float initializer,
 * with 2:4 checked along ONNX's input-channel axis (I of Conv {@code [O, I / group, kH, kW]}, C of a depthwise Conv
 * {@code [C, 1, kH, kW]}, K of MatMul {@code [K, N]}, of Gemm {@code [K, N]} or {@code [N, K]} with transB).
 */
public final class OnnxSparsity {
    private OnnxSparsity() {
    }

    /** One row per such layer, in node order. */
    public static List<SparsityCheck.Row> of(ModelProto m) {
        Map<String, Tensor> inits = OnnxReader.initializers(m);
        List<SparsityCheck.Row> rows = new ArrayList<>();
        for (NodeProto n : m.getGraph().getNodeList()) {
            if (!List.of("Conv", "MatMul", "Gemm").contains(n.getOpType()) || n.getInputCount() < 2) {
                continue;
            }
            Tensor w = inits.get(n.getInput(1));
            if (w == null || w.dtype() != DType.FLOAT || w.shape().dims().length < 2) {
                continue;
            }
            long[] dims = w.shape().dims();
            int axis = switch (n.getOpType()) {
                // depthwise (group = C, weight [C, 1, kH, kW]): TF's input-channel axis C is ONNX's axis 0
                case "Conv" -> intAttr(n, "group", 1) > 1 && dims[0] == intAttr(n, "group", 1) ? 0 : 1;
                case "Gemm" -> intAttr(n, "transB", 0) != 0 ? 1 : 0;
                default -> 0;
            };
            String name = n.getName().isEmpty() ? n.getOutput(0) : n.getName();
            rows.add(SparsityCheck.row(name, n.getOpType(), dims, w.floats(), axis, 2, 4,
                    KernelBackends.get()));
        }
        return rows;
    }

    private static long intAttr(NodeProto n, String name, long orElse) {
        for (AttributeProto a : n.getAttributeList()) {
            if (a.getName().equals(name)) {
                return a.getI();
            }
        }
        return orElse;
    }
}
