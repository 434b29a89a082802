package dev.kiln.onnx;

import dev.kiln.graph.Tensor;
import dev.kiln.onnx.proto.Onnx.AttributeProto;
import dev.kiln.onnx.proto.Onnx.GraphProto;
import dev.kiln.onnx.proto.Onnx.ModelProto;
import dev.kiln.onnx.proto.Onnx.NodeProto;
import dev.kiln.onnx.proto.Onnx.TensorProto;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Whether an INT8 ONNX model gives exact answers on ONNX Runtime's stock U8S8 kernels on x86-64 CPUs without VNNI.
 * Those kernels multiply uint8 activations by int8 weights with VPMADDUBSW, which adds each pair of products
 * {@code a1*w1 + a2*w2} into a saturating int16: with activation codes up to 255 the sum overflows when
 * {@code |w1| + |w2| > 128}. Which weights ORT pairs depends on its packing, so the check is conservative: a layer is at
 * risk when some output channel's two largest |weight codes| add up to more than 128. 7-bit weights (|w| <= 64, what
 * {@link Int8WeightRange#REDUCED} writes) are always safe.
 *
 * <p>It reads any QDQ or operator-form model, not only Kiln's: integer layers are Conv, MatMul and Gemm between a
 * DequantizeLinear of an activation and a DequantizeLinear of constant int8 weights (directly, or through
 * QuantizeLinear of a float initializer), and QLinearConv, QLinearMatMul, ConvInteger, MatMulInteger, QGemm,
 * MatMulIntegerToFloat and DynamicQuantizeMatMul. A layer whose weights are not constant cannot be judged and is listed
 * with the reason.
 *
 * @param safe          no layer at risk and none undetermined
 * @param integerLayers how many layers ORT would run on integer kernels
 * @param atRisk        the layers at risk, with their worst channel
 * @param undetermined  layers that cannot be judged, each with the reason
 * @param summary       one line for reports: "saturation-safe on non-VNNI x86: yes (0 of 5 integer layers at risk)"
 */
public record Int8Saturation(boolean safe, int integerLayers, List<Layer> atRisk, List<String> undetermined,
                             String summary) {

    /** The pair-sum bound: 255 * (|w1| + |w2|) fits in int16 (32767) exactly when |w1| + |w2| <= 128. */
    public static final int MAX_SAFE_PAIR_SUM = 128;

    /**
     * A layer at risk.
     *
     * @param node           the node's name
     * @param op             its op type
     * @param weight         the weight tensor's name
     * @param channelsAtRisk how many output channels have a pair of |codes| above the bound
     * @param channels       output channels in all
     * @param worstPairSum   the largest sum of a channel's two largest |codes|
     */
    public record Layer(String node, String op, String weight, int channelsAtRisk, int channels, int worstPairSum) {
    }

    /** Checks the model. Never throws on a well-formed ModelProto: what it cannot judge is listed as undetermined. */
    public static Int8Saturation check(ModelProto m) {
        GraphProto g = m.getGraph();
        Map<String, TensorProto> inits = new HashMap<>();
        for (TensorProto t : g.getInitializerList()) {
            inits.put(t.getName(), t);
        }
        Map<String, NodeProto> producer = new HashMap<>();
        for (NodeProto n : g.getNodeList()) {
            for (String o : n.getOutputList()) {
                producer.put(o, n);
            }
        }
        Checker c = new Checker(inits, producer);
        for (NodeProto n : g.getNodeList()) {
            c.visit(n);
        }
        return of(c.layers, c.atRisk, c.undetermined);
    }

    static Int8Saturation of(int layers, List<Layer> atRisk, List<String> undetermined) {
        boolean safe = atRisk.isEmpty() && undetermined.isEmpty();
        String s;
        if (layers == 0) {
            s = "saturation-safe on non-VNNI x86: yes (no integer layers)";
        } else if (!atRisk.isEmpty()) {
            s = "saturation-safe on non-VNNI x86: no (" + atRisk.size() + " of " + layers + " integer layers at risk)";
        } else if (!undetermined.isEmpty()) {
            s = "saturation-safe on non-VNNI x86: cannot tell (" + undetermined.size() + " of " + layers
                    + " integer layers undetermined: " + undetermined.get(0) + ")";
        } else {
            s = "saturation-safe on non-VNNI x86: yes (0 of " + layers + " integer layers at risk)";
        }
        return new Int8Saturation(safe, layers, List.copyOf(atRisk), List.copyOf(undetermined), s);
    }

    /** How a weight's output channels lie: along {@code channelAxis} (negative: from the end). */
    private enum WeightLayout {
        CONV(0), MATMUL(-1), GEMM(1), GEMM_TRANSPOSED(0);

        final int channelAxis;

        WeightLayout(int channelAxis) {
            this.channelAxis = channelAxis;
        }
    }

    /** Operator-form integer ops: the index of their weight input. */
    private static final Map<String, Integer> OPERATOR_FORM = Map.of("QLinearConv", 3, "QLinearMatMul", 3,
            "ConvInteger", 1, "MatMulInteger", 1, "QGemm", 3, "MatMulIntegerToFloat", 1, "DynamicQuantizeMatMul", 1);
    private static final Set<String> QDQ_FORM = Set.of("Conv", "MatMul", "Gemm");

    private static final class Checker {
        final Map<String, TensorProto> inits;
        final Map<String, NodeProto> producer;
        int layers;
        final List<Layer> atRisk = new ArrayList<>();
        final List<String> undetermined = new ArrayList<>();

        Checker(Map<String, TensorProto> inits, Map<String, NodeProto> producer) {
            this.inits = inits;
            this.producer = producer;
        }

        void visit(NodeProto n) {
            String op = n.getOpType();
            String name = n.getName().isEmpty() ? op + " -> " + n.getOutput(0) : n.getName();
            if (OPERATOR_FORM.containsKey(op)) {
                int wi = OPERATOR_FORM.get(op);
                if (n.getInputCount() <= wi) {
                    return;
                }
                layers++;
                TensorProto w = inits.get(n.getInput(wi));
                if (w == null) {
                    undetermined.add(name + ": weights '" + n.getInput(wi) + "' are not a constant initializer");
                    return;
                }
                judge(name, op, w.getName(), codes(w), layout(n), w.getDataType());
            } else if (QDQ_FORM.contains(op) && n.getInputCount() >= 2) {
                NodeProto a = dq(n.getInput(0));
                NodeProto b = dq(n.getInput(1));
                if (a == null || b == null) {
                    return; // a float input: ORT runs this layer in float (weights-only or unquantized)
                }
                boolean aConst = constantCodes(a) != null;
                boolean bConst = constantCodes(b) != null;
                if (aConst && bConst || !aConst && !bConst && op.equals("Conv")) {
                    return; // both constant would be folded; Conv weights must be input 1
                }
                layers++;
                NodeProto wdq = bConst ? b : op.equals("MatMul") && aConst ? a : null;
                if (wdq == null && activationType(b) == TensorProto.DataType.UINT8_VALUE) {
                    return; // uint8 x uint8: ORT's U8U8 kernels accumulate exactly
                }
                if (wdq == null) {
                    undetermined.add(name + ": weights are computed at run time (both inputs are activations)");
                    return;
                }
                if (wdq == a) {
                    // constant A of a MatMul: the integer GEMM's weight side is then A transposed; judge it as rows
                    Weights w = constantCodes(a);
                    judge(name, op, w.name, w.codes, WeightLayout.CONV, w.type);
                    return;
                }
                Weights w = constantCodes(b);
                judge(name, op, w.name, w.codes, layout(n), w.type);
            }
        }

        WeightLayout layout(NodeProto n) {
            String op = n.getOpType();
            if (op.contains("Conv")) {
                return WeightLayout.CONV;
            }
            if (op.equals("Gemm") || op.equals("QGemm")) {
                for (AttributeProto a : n.getAttributeList()) {
                    if (a.getName().equals("transB") && a.getI() != 0) {
                        return WeightLayout.GEMM_TRANSPOSED;
                    }
                }
                return WeightLayout.GEMM;
            }
            return WeightLayout.MATMUL;
        }

        /** The DequantizeLinear producing {@code value}, or null. */
        NodeProto dq(String value) {
            NodeProto p = producer.get(value);
            return p != null && p.getOpType().equals("DequantizeLinear") ? p : null;
        }

        /** The integer type a DequantizeLinear reads: its zero point's type, uint8 when there is none. */
        int activationType(NodeProto dq) {
            TensorProto zp = dq.getInputCount() > 2 ? inits.get(dq.getInput(2)) : null;
            return zp == null ? TensorProto.DataType.UINT8_VALUE : zp.getDataType();
        }

        record Weights(String name, Tensor codes, int type) {
        }

        /**
         * The integer codes a DequantizeLinear reads when they are constant: an integer initializer, or QuantizeLinear
         * of a float initializer evaluated with ONNX's formula; null when they come from an activation.
         */
        Weights constantCodes(NodeProto dq) {
            String x = dq.getInput(0);
            TensorProto t = inits.get(x);
            if (t != null) {
                return new Weights(x, OnnxTensors.fromProto(t), t.getDataType());
            }
            NodeProto q = producer.get(x);
            if (q == null || !q.getOpType().equals("QuantizeLinear") || !inits.containsKey(q.getInput(0))
                    || !inits.containsKey(q.getInput(1))) {
                return null;
            }
            TensorProto wf = inits.get(q.getInput(0));
            TensorProto zpT = q.getInputCount() > 2 ? inits.get(q.getInput(2)) : null;
            int type = zpT == null ? TensorProto.DataType.UINT8_VALUE : zpT.getDataType();
            boolean signed = type == TensorProto.DataType.INT8_VALUE;
            float[] w = OnnxTensors.floats(OnnxTensors.fromProto(wf));
            float[] scale = OnnxTensors.floats(OnnxTensors.fromProto(inits.get(q.getInput(1))));
            float[] zp = zpT == null ? new float[scale.length] : OnnxTensors.floats(OnnxTensors.fromProto(zpT));
            long[] dims = OnnxTensors.fromProto(wf).shape().dims();
            long axis = 1;
            for (AttributeProto a : q.getAttributeList()) {
                if (a.getName().equals("axis")) {
                    axis = a.getI();
                }
            }
            int ax = dims.length == 0 ? 0 : (int) (axis < 0 ? axis + dims.length : axis);
            long inner = 1;
            for (int i = ax + 1; i < dims.length; i++) {
                inner *= dims[i];
            }
            float[] codes = new float[w.length];
            for (int i = 0; i < w.length; i++) {
                int c = scale.length == 1 ? 0 : (int) ((i / inner) % scale.length);
                codes[i] = QuantMath.quantize(w[i], scale[c], (int) zp[c], signed ? -128 : 0, signed ? 127 : 255);
            }
            return new Weights(wf.getName(), Tensor.ofFloats(dev.kiln.graph.Shape.of(dims), codes), type);
        }

        Tensor codes(TensorProto t) {
            return OnnxTensors.fromProto(t);
        }

        void judge(String node, String op, String weightName, Tensor w, WeightLayout layout, int type) {
            if (type == TensorProto.DataType.UINT8_VALUE) {
                return; // uint8 weights run on ORT's U8U8 kernels, which accumulate exactly
            }
            if (type != TensorProto.DataType.INT8_VALUE) {
                undetermined.add(node + ": weights '" + weightName + "' have type "
                        + OnnxTensors.typeName(type) + ", not int8");
                return;
            }
            float[] codes = OnnxTensors.floats(w);
            long[] dims = w.shape().dims();
            int rank = dims.length;
            int axis = rank == 0 ? 0 : (layout.channelAxis < 0 ? layout.channelAxis + rank : layout.channelAxis);
            if (rank < 2 || axis >= rank) {
                axis = -1; // a vector: one channel
            }
            long channels = axis < 0 ? 1 : dims[axis];
            long inner = 1;
            for (int i = axis + 1; axis >= 0 && i < rank; i++) {
                inner *= dims[i];
            }
            // batched MatMul weights [..., K, N]: each batch slice has its own channels
            long outer = 1;
            if (layout == WeightLayout.MATMUL && rank > 2) {
                for (int i = 0; i < rank - 2; i++) {
                    outer *= dims[i];
                }
            }
            int nbChannels = (int) (channels * outer);
            int[] top1 = new int[nbChannels];
            int[] top2 = new int[nbChannels];
            long sliceSize = rank > 2 && layout == WeightLayout.MATMUL ? dims[rank - 2] * dims[rank - 1] : codes.length;
            for (int i = 0; i < codes.length; i++) {
                int c = axis < 0 ? 0 : (int) ((i / inner) % channels);
                if (outer > 1) {
                    c += (int) (i / sliceSize) * channels;
                }
                int v = Math.abs((int) codes[i]);
                if (v > top1[c]) {
                    top2[c] = top1[c];
                    top1[c] = v;
                } else if (v > top2[c]) {
                    top2[c] = v;
                }
            }
            int risky = 0;
            int worst = 0;
            for (int c = 0; c < nbChannels; c++) {
                int s = top1[c] + top2[c];
                worst = Math.max(worst, s);
                if (s > MAX_SAFE_PAIR_SUM) {
                    risky++;
                }
            }
            if (risky > 0) {
                atRisk.add(new Layer(node, op, weightName, risky, nbChannels, worst));
            }
        }
    }
}
