package dev.kiln.tensorrt;

import dev.kiln.onnx.proto.Onnx.AttributeProto;
import dev.kiln.onnx.proto.Onnx.GraphProto;
import dev.kiln.onnx.proto.Onnx.NodeProto;
import dev.kiln.onnx.proto.Onnx.TensorProto;
import dev.kiln.onnx.proto.Onnx.ValueInfoProto;

import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * The element type of each tensor of an ONNX graph, as far as the file tells it: graph inputs, initializers and
 * value_info, then forward through the nodes by each op's typing rule (most ops keep their first input's type). A
 * tensor whose type cannot be derived is simply absent. Names follow TensorRT's support table (FP32, INT64 …).
 */
final class OnnxElementTypes {
    /** Ops whose outputs are BOOL whatever their inputs. */
    private static final Set<String> BOOLEAN_OPS = Set.of("Equal", "Greater", "GreaterOrEqual", "Less", "LessOrEqual",
            "IsNaN", "IsInf", "Not", "And", "Or", "Xor");
    /** Ops whose (first) output is INT64 whatever their inputs. */
    private static final Set<String> INT64_OPS = Set.of("Shape", "Size", "ArgMax", "ArgMin", "NonZero",
            "NonMaxSuppression");

    private final Map<String, Integer> types = new HashMap<>();

    private OnnxElementTypes() {
    }

    static OnnxElementTypes of(GraphProto g) {
        OnnxElementTypes t = new OnnxElementTypes();
        for (ValueInfoProto v : g.getInputList()) {
            t.putValueInfo(v);
        }
        for (ValueInfoProto v : g.getValueInfoList()) {
            t.putValueInfo(v);
        }
        for (TensorProto i : g.getInitializerList()) {
            t.types.put(i.getName(), i.getDataType());
        }
        for (NodeProto n : g.getNodeList()) {
            t.propagate(n);
        }
        return t;
    }

    /**
     * The type TensorRT's table is about for this node: its data input's (the second for Where, the output's for
     * ops that make a tensor from attributes), or "" where unknown.
     */
    String dataTypeOf(NodeProto n) {
        Integer t = switch (n.getOpType()) {
            case "Where" -> n.getInputCount() > 1 ? types.get(n.getInput(1)) : null;
            case "Constant", "ConstantOfShape", "RandomNormal", "RandomUniform", "EyeLike", "Range" ->
                    n.getOutputCount() > 0 ? types.get(n.getOutput(0)) : null;
            default -> n.getInputCount() > 0 ? types.get(n.getInput(0)) : null;
        };
        return t == null ? "" : name(t);
    }

    private void putValueInfo(ValueInfoProto v) {
        if (v.getType().hasTensorType() && v.getType().getTensorType().getElemType() != 0) {
            types.put(v.getName(), v.getType().getTensorType().getElemType());
        }
    }

    private void propagate(NodeProto n) {
        if (n.getOutputCount() == 0 || types.containsKey(n.getOutput(0))) {
            return;
        }
        String op = n.getOpType();
        Integer out;
        if (BOOLEAN_OPS.contains(op)) {
            out = TensorProto.DataType.BOOL_VALUE;
        } else if (INT64_OPS.contains(op)) {
            out = TensorProto.DataType.INT64_VALUE;
        } else {
            out = switch (op) {
                case "Cast", "RandomNormal", "RandomUniform", "EyeLike" -> attrInt(n, op.equals("Cast") ? "to" : "dtype",
                        TensorProto.DataType.FLOAT_VALUE);
                case "CastLike" -> input(n, 1);
                case "Constant" -> constantType(n);
                case "ConstantOfShape" -> constantType(n) == null ? TensorProto.DataType.FLOAT_VALUE : constantType(n);
                case "DequantizeLinear" -> TensorProto.DataType.FLOAT_VALUE;
                case "QuantizeLinear" -> n.getInputCount() > 2 && !n.getInput(2).isEmpty() ? input(n, 2)
                        : TensorProto.DataType.UINT8_VALUE;
                case "Where" -> input(n, 1);
                case "OneHot" -> input(n, 2);
                case "MatMulInteger", "ConvInteger" -> TensorProto.DataType.INT32_VALUE;
                case "If", "Loop", "Scan" -> null;
                default -> input(n, 0);
            };
        }
        if (out == null) {
            return;
        }
        types.put(n.getOutput(0), out);
        // secondary outputs: TopK's indices are INT64, the others (Split, LSTM states …) share the first's type
        for (int i = 1; i < n.getOutputCount(); i++) {
            if (!n.getOutput(i).isEmpty() && !types.containsKey(n.getOutput(i))) {
                types.put(n.getOutput(i), op.equals("TopK") || op.equals("MaxPool") ? TensorProto.DataType.INT64_VALUE
                        : out);
            }
        }
    }

    private Integer input(NodeProto n, int i) {
        return n.getInputCount() > i ? types.get(n.getInput(i)) : null;
    }

    private static Integer constantType(NodeProto n) {
        for (AttributeProto a : n.getAttributeList()) {
            if (a.getName().equals("value")) {
                return a.getT().getDataType();
            }
            if (a.getName().equals("value_float") || a.getName().equals("value_floats")) {
                return TensorProto.DataType.FLOAT_VALUE;
            }
            if (a.getName().equals("value_int") || a.getName().equals("value_ints")) {
                return TensorProto.DataType.INT64_VALUE;
            }
        }
        return null;
    }

    private static int attrInt(NodeProto n, String attr, int dflt) {
        for (AttributeProto a : n.getAttributeList()) {
            if (a.getName().equals(attr)) {
                return (int) a.getI();
            }
        }
        return dflt;
    }

    /** TensorRT's table's name for an ONNX element type. */
    static String name(int onnxType) {
        return switch (onnxType) {
            case TensorProto.DataType.FLOAT_VALUE -> "FP32";
            case TensorProto.DataType.FLOAT16_VALUE -> "FP16";
            case TensorProto.DataType.BFLOAT16_VALUE -> "BF16";
            case TensorProto.DataType.DOUBLE_VALUE -> "DOUBLE";
            case TensorProto.DataType.INT8_VALUE -> "INT8";
            case TensorProto.DataType.UINT8_VALUE -> "UINT8";
            case TensorProto.DataType.INT16_VALUE -> "INT16";
            case TensorProto.DataType.UINT16_VALUE -> "UINT16";
            case TensorProto.DataType.INT32_VALUE -> "INT32";
            case TensorProto.DataType.UINT32_VALUE -> "UINT32";
            case TensorProto.DataType.INT64_VALUE -> "INT64";
            case TensorProto.DataType.UINT64_VALUE -> "UINT64";
            case TensorProto.DataType.BOOL_VALUE -> "BOOL";
            case TensorProto.DataType.STRING_VALUE -> "STRING";
            default -> "type " + onnxType;
        };
    }
}
