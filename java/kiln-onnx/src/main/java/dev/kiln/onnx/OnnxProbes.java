package dev.kiln.onnx;

import dev.kiln.onnx.proto.Onnx.GraphProto;
import dev.kiln.onnx.proto.Onnx.ModelProto;
import dev.kiln.onnx.proto.Onnx.NodeProto;
import dev.kiln.onnx.proto.Onnx.ValueInfoProto;

import java.nio.file.Path;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * Intermediate tensors of an ONNX model made visible: the values its nodes produce, and a copy of the model that
 * also returns chosen values as graph outputs (what per-layer comparison runs in ONNX Runtime).
 */
public final class OnnxProbes {
    private OnnxProbes() {
    }

    /**
     * Every value a node produces, in graph order (ONNX keeps nodes topologically sorted), mapped to the node that
     * produces it; graph inputs, initializers, outputs and Constant nodes' values are left out.
     */
    public static Map<String, NodeProto> intermediateValues(ModelProto m) {
        GraphProto g = m.getGraph();
        Set<String> skip = new HashSet<>();
        g.getInputList().forEach(v -> skip.add(v.getName()));
        g.getOutputList().forEach(v -> skip.add(v.getName()));
        g.getInitializerList().forEach(t -> skip.add(t.getName()));
        Map<String, NodeProto> out = new LinkedHashMap<>();
        for (NodeProto n : g.getNodeList()) {
            if (n.getOpType().equals("Constant")) {
                continue;
            }
            for (String o : n.getOutputList()) {
                if (!o.isEmpty() && !skip.contains(o)) {
                    out.putIfAbsent(o, n);
                }
            }
        }
        return out;
    }

    /**
     * Writes {@code m} with {@code values} appended as graph outputs (untyped: ONNX Runtime infers their types) to
     * {@code out}. The copy carries its weights (a model read with external data has them resolved, see {@link
     * OnnxReader#read}), in one file, or beside it as external data where they would not fit one protobuf file.
     */
    public static Path withOutputs(ModelProto m, Collection<String> values, Path out) {
        GraphProto.Builder g = m.getGraph().toBuilder();
        for (String v : values) {
            g.addOutput(ValueInfoProto.newBuilder().setName(v).build());
        }
        ModelProto probe = m.toBuilder().setGraph(g).build();
        if (OnnxFileWriter.exceedsOneFile(probe, OnnxFileWriter.PROTOBUF_LIMIT)) {
            OnnxFileWriter.writeExternal(probe, out);
        } else {
            OnnxFileWriter.writeWhole(probe, out);
        }
        return out;
    }
}
