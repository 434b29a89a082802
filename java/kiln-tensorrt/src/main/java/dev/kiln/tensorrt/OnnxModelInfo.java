package dev.kiln.tensorrt;

import dev.kiln.KilnException;
import dev.kiln.onnx.OnnxReader;
import dev.kiln.onnx.proto.Onnx.GraphProto;
import dev.kiln.onnx.proto.Onnx.ModelProto;
import dev.kiln.onnx.proto.Onnx.NodeProto;
import dev.kiln.onnx.proto.Onnx.TensorProto;
import dev.kiln.onnx.proto.Onnx.TensorShapeProto;
import dev.kiln.onnx.proto.Onnx.ValueInfoProto;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * What the engine options are checked against before TensorRT sees an ONNX model: its inputs (name, element type,
 * dimensions, -1 where dynamic), its outputs, and whether it carries explicit Q/DQ or float16 tensors.
 */
public record OnnxModelInfo(List<Input> inputs, List<String> outputs, int qdqNodes, boolean hasFloat16) {

    /** One graph input that is not an initializer. {@code dims[i] == -1}: dynamic (dim_param or unknown). */
    public record Input(String name, String elementType, long[] dims) {
        public boolean isDynamic() {
            for (long d : dims) {
                if (d < 0) {
                    return true;
                }
            }
            return false;
        }

        /** {@code 1x3x?x?}: dynamic dimensions as '?'. */
        public String shapeText() {
            StringBuilder b = new StringBuilder();
            for (int i = 0; i < dims.length; i++) {
                b.append(i == 0 ? "" : "x").append(dims[i] < 0 ? "?" : Long.toString(dims[i]));
            }
            return dims.length == 0 ? "scalar" : b.toString();
        }
    }

    public OnnxModelInfo {
        inputs = List.copyOf(inputs);
        outputs = List.copyOf(outputs);
    }

    /** Reads an .onnx file; errors name the file. */
    public static OnnxModelInfo read(Path onnx) {
        return of(OnnxReader.read(onnx), onnx);
    }

    static OnnxModelInfo of(ModelProto m, Object source) {
        GraphProto g = m.getGraph();
        Set<String> inits = new HashSet<>();
        boolean half = false;
        for (TensorProto t : g.getInitializerList()) {
            inits.add(t.getName());
            half |= t.getDataType() == TensorProto.DataType.FLOAT16_VALUE;
        }
        List<Input> inputs = new ArrayList<>();
        for (ValueInfoProto v : g.getInputList()) {
            if (inits.contains(v.getName())) {
                continue;
            }
            if (!v.getType().hasTensorType()) {
                throw KilnException.unsupported(source + ": input '" + v.getName() + "' is not a tensor; TensorRT "
                        + "takes tensor inputs only");
            }
            var tt = v.getType().getTensorType();
            half |= tt.getElemType() == TensorProto.DataType.FLOAT16_VALUE;
            if (!tt.hasShape()) {
                throw KilnException.unsupported(source + ": input '" + v.getName() + "' has no rank; TensorRT needs "
                        + "the rank of every input");
            }
            List<TensorShapeProto.Dimension> ds = tt.getShape().getDimList();
            long[] dims = new long[ds.size()];
            for (int i = 0; i < dims.length; i++) {
                dims[i] = ds.get(i).hasDimValue() && ds.get(i).getDimValue() >= 0 ? ds.get(i).getDimValue() : -1;
            }
            inputs.add(new Input(v.getName(), elementTypeName(tt.getElemType()), dims));
        }
        List<String> outputs = new ArrayList<>();
        for (ValueInfoProto v : g.getOutputList()) {
            outputs.add(v.getName());
            half |= v.getType().hasTensorType()
                    && v.getType().getTensorType().getElemType() == TensorProto.DataType.FLOAT16_VALUE;
        }
        int qdq = 0;
        for (NodeProto n : g.getNodeList()) {
            if (n.getOpType().equals("QuantizeLinear") || n.getOpType().equals("DequantizeLinear")) {
                qdq++;
            }
            if (n.getOpType().equals("Cast")) {
                for (var a : n.getAttributeList()) {
                    half |= a.getName().equals("to") && a.getI() == TensorProto.DataType.FLOAT16_VALUE;
                }
            }
        }
        return new OnnxModelInfo(inputs, outputs, qdq, half);
    }

    /** The input called {@code name}, or null. */
    public Input input(String name) {
        return inputs.stream().filter(i -> i.name().equals(name)).findFirst().orElse(null);
    }

    public boolean hasQdq() {
        return qdqNodes > 0;
    }

    private static String elementTypeName(int t) {
        TensorProto.DataType d = TensorProto.DataType.forNumber(t);
        return d == null ? "type " + t : d.name().toLowerCase(java.util.Locale.ROOT);
    }
}
