package dev.kiln.onnx;

import dev.kiln.graph.Tensor;
import dev.kiln.onnx.proto.Onnx.AttributeProto;
import dev.kiln.onnx.proto.Onnx.GraphProto;
import dev.kiln.onnx.proto.Onnx.ModelProto;
import dev.kiln.onnx.proto.Onnx.NodeProto;
import dev.kiln.onnx.proto.Onnx.TensorProto;

import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The fake-quant simulation of a QDQ model: every QuantizeLinear becomes {@code Clip(Round(x / s) + zp, qmin, qmax)}
 * and every DequantizeLinear {@code (q - zp) * s}, all in float32 (ONNX Round is round-half-to-even, as
 * QuantizeLinear). The result runs on float kernels only, so comparing it with the QDQ model run by ONNX Runtime
 * (which may execute Q/DQ groups with integer kernels) checks that the written Q/DQ means what Kiln's scales say.
 */
public final class QdqSimulation {
    private QdqSimulation() {
    }

    public static ModelProto simulate(ModelProto m) {
        GraphProto g = m.getGraph();
        Map<String, TensorProto> inits = new HashMap<>();
        for (TensorProto t : g.getInitializerList()) {
            inits.put(t.getName(), t);
        }
        Map<String, Integer> ranks = new HashMap<>(); // rank of Q inputs that are initializers (weights)
        GraphProto.Builder gb = g.toBuilder().clearNode();
        int k = 0;
        for (NodeProto n : g.getNodeList()) {
            String op = n.getOpType();
            if (!op.equals("QuantizeLinear") && !op.equals("DequantizeLinear")) {
                gb.addNode(n);
                continue;
            }
            String p = "kiln_sim" + (k++) + "/";
            String x = n.getInput(0);
            TensorProto scaleT = inits.get(n.getInput(1));
            TensorProto zpT = n.getInputCount() > 2 ? inits.get(n.getInput(2)) : null;
            if (scaleT == null) {
                throw new IllegalArgumentException("QDQ node " + n.getName() + ": scale is not an initializer");
            }
            long axis = 1;
            for (AttributeProto a : n.getAttributeList()) {
                if (a.getName().equals("axis")) {
                    axis = a.getI();
                }
            }
            Tensor scale = OnnxTensors.fromProto(scaleT);
            boolean signed = zpT == null || zpT.getDataType() == TensorProto.DataType.INT8_VALUE;
            float[] zp = zpT == null ? new float[(int) scale.numElements()] : OnnxTensors.floats(OnnxTensors.fromProto(zpT));
            int rank = ranks.getOrDefault(x, inits.containsKey(x) ? inits.get(x).getDimsCount() : -1);
            long[] bshape;
            if (scale.numElements() == 1 && scale.shape().rank() <= 1) {
                bshape = new long[0];
            } else {
                if (rank < 0) {
                    throw new IllegalArgumentException("per-axis QDQ on a tensor of unknown rank: " + n.getName());
                }
                int a = (int) (axis < 0 ? axis + rank : axis);
                bshape = new long[rank - a];
                bshape[0] = scale.numElements();
                for (int i = 1; i < bshape.length; i++) {
                    bshape[i] = 1;
                }
            }
            String s = p + "scale";
            String z = p + "zero_point";
            gb.addInitializer(OnnxTensors.toProto(s, Tensor.ofFloats(dev.kiln.graph.Shape.of(bshape),
                    OnnxTensors.floats(scale))));
            gb.addInitializer(OnnxTensors.toProto(z, Tensor.ofFloats(dev.kiln.graph.Shape.of(bshape), zp)));
            String out = n.getOutput(0);
            if (op.equals("QuantizeLinear")) {
                String lo = p + "qmin";
                String hi = p + "qmax";
                gb.addInitializer(OnnxTensors.toProto(lo, Tensor.scalar(signed ? -128f : 0f)));
                gb.addInitializer(OnnxTensors.toProto(hi, Tensor.scalar(signed ? 127f : 255f)));
                gb.addNode(node("Div", p + "div", List.of(x, s)));
                gb.addNode(node("Round", p + "round", List.of(p + "div")));
                gb.addNode(node("Add", p + "add", List.of(p + "round", z)));
                gb.addNode(node("Clip", out, List.of(p + "add", lo, hi)));
            } else {
                String xf = x;
                if (inits.containsKey(x) && inits.get(x).getDataType() != TensorProto.DataType.FLOAT_VALUE) {
                    xf = p + "x";
                    gb.addInitializer(OnnxTensors.toProto(xf, Tensor.ofFloats(
                            OnnxTensors.fromProto(inits.get(x)).shape(), OnnxTensors.floats(OnnxTensors.fromProto(inits.get(x))))));
                }
                gb.addNode(node("Sub", p + "sub", List.of(xf, z)));
                gb.addNode(node("Mul", out, List.of(p + "sub", s)));
            }
            ranks.put(out, rank);
        }
        return m.toBuilder().setGraph(gb).build();
    }

    private static NodeProto node(String op, String out, List<String> ins) {
        return NodeProto.newBuilder().setOpType(op).setName(out).addAllInput(ins).addOutput(out).build();
    }
}
