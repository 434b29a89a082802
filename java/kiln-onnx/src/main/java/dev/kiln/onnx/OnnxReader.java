package dev.kiln.onnx;

import com.google.protobuf.CodedInputStream;
import com.google.protobuf.UnsafeByteOperations;
import dev.kiln.KilnException;
import dev.kiln.Limits;
import dev.kiln.graph.Tensor;
import dev.kiln.onnx.proto.Onnx.GraphProto;
import dev.kiln.onnx.proto.Onnx.ModelProto;
import dev.kiln.onnx.proto.Onnx.NodeProto;
import dev.kiln.onnx.proto.Onnx.OperatorSetIdProto;
import dev.kiln.onnx.proto.Onnx.TensorProto;
import dev.kiln.onnx.proto.Onnx.TensorShapeProto;
import dev.kiln.onnx.proto.Onnx.ValueInfoProto;

import java.io.IOException;
import java.io.InputStream;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** Reads ONNX files: the model proto, a summary of it, its initializers, and single TensorProto (.pb) files. */
public final class OnnxReader {
    private OnnxReader() {
    }

    /**
     * Parses an .onnx file; throws naming the file when it is missing or not an ONNX model. Tensors kept as ONNX
     * external data are resolved beside the file ({@link OnnxExternalData}: mapped, not copied), so the model's
     * initializers read like inline ones; a missing or short data file is an error naming the file and the tensor.
     */
    public static ModelProto read(Path onnx) {
        return OnnxExternalData.resolve(parse(onnx), onnx);
    }

    /**
     * The ONNX external data files {@code onnx} refers to (none for a model held in one file), checked to be regular
     * files inside its directory: what must travel and be fingerprinted with it.
     */
    public static java.util.List<Path> externalDataFiles(Path onnx) {
        return OnnxExternalData.dataFiles(parse(onnx), onnx);
    }

    /**
     * The file memory-mapped and parsed with aliasing, so that each initializer's raw_data wraps its bytes in the
     * mapping instead of copying the weights onto the heap (the mapping lives as long as the tensors that wrap it).
     */
    private static ModelProto parse(Path onnx) {
        try (FileChannel ch = FileChannel.open(onnx, StandardOpenOption.READ)) {
            long size = ch.size();
            if (size > Integer.MAX_VALUE) {
                throw KilnException.invalidModel(onnx + " is " + size + " bytes: one ONNX protobuf holds at most 2 GB "
                        + "(larger models keep their weights as external data)");
            }
            // wrapped as an immutable ByteString: protobuf aliases only a buffer it knows nobody writes
            CodedInputStream in = UnsafeByteOperations.unsafeWrap(ch.map(FileChannel.MapMode.READ_ONLY, 0, size))
                    .newCodedInput();
            in.enableAliasing(true);
            ModelProto m = ModelProto.parseFrom(in);
            if (!m.hasGraph() || m.getOpsetImportCount() == 0) {
                throw KilnException.invalidModel(onnx + " is not an ONNX model (no graph or no opset_import)");
            }
            Limits.checkNodes(onnx.toString(), m.getGraph().getNodeCount());
            return m;
        } catch (java.nio.file.NoSuchFileException e) {
            throw KilnException.invalidModel("ONNX model " + onnx + " does not exist", e);
        } catch (IOException e) {
            throw KilnException.invalidModel("cannot read ONNX model " + onnx + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            throw corrupt(onnx, e);
        }
    }

    /**
     * protobuf-java's stream parser throws unchecked exceptions (e.g. ArrayIndexOutOfBoundsException in a packed
     * varint) on some corrupt input instead of InvalidProtocolBufferException: the same clear error for both.
     */
    private static KilnException corrupt(Path file, RuntimeException e) {
        if (e instanceof KilnException k) {
            return k;
        }
        return KilnException.invalidModel(file + " is not a valid ONNX protobuf (truncated or corrupt): " + e, e);
    }

    public static OnnxModelSummary summarize(Path onnx) {
        return summarize(read(onnx));
    }

    public static OnnxModelSummary summarize(ModelProto m) {
        Map<String, Long> opsets = new LinkedHashMap<>();
        for (OperatorSetIdProto o : m.getOpsetImportList()) {
            opsets.put(o.getDomain(), o.getVersion());
        }
        GraphProto g = m.getGraph();
        List<String> inits = new ArrayList<>();
        for (TensorProto t : g.getInitializerList()) {
            inits.add(t.getName());
        }
        List<String> ins = new ArrayList<>();
        for (ValueInfoProto v : g.getInputList()) {
            if (!inits.contains(v.getName())) {
                ins.add(describe(v));
            }
        }
        List<String> outs = new ArrayList<>();
        for (ValueInfoProto v : g.getOutputList()) {
            outs.add(describe(v));
        }
        Map<String, Integer> ops = new TreeMap<>();
        for (NodeProto n : g.getNodeList()) {
            ops.merge(n.getDomain().isEmpty() ? n.getOpType() : n.getDomain() + "." + n.getOpType(), 1, Integer::sum);
        }
        return new OnnxModelSummary(m.getIrVersion(), opsets, m.getProducerName() + " " + m.getProducerVersion(),
                ins, outs, inits, ops);
    }

    /** Every initializer as a Kiln tensor; throws naming the first one without data (e.g. a weightless model). */
    public static Map<String, Tensor> initializers(ModelProto m) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (TensorProto t : m.getGraph().getInitializerList()) {
            out.put(t.getName(), OnnxTensors.fromProto(t));
        }
        return out;
    }

    /** Every initializer of the model in {@code onnx} as a Kiln tensor; errors name the file and the tensor. */
    public static Map<String, Tensor> initializers(Path onnx) {
        ModelProto m = read(onnx);
        try {
            return initializers(m);
        } catch (KilnException e) {
            throw new KilnException(e.code(), onnx + ": " + e.getMessage(), e);
        }
    }

    /** A single serialized TensorProto, as in ONNX's test_data_set_N/input_K.pb files (external data beside it). */
    public static Tensor readTensor(Path pb) {
        TensorProto p;
        try (InputStream in = Files.newInputStream(pb)) {
            p = TensorProto.parseFrom(in);
        } catch (IOException e) {
            throw KilnException.invalidModel("cannot read tensor " + pb + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            throw corrupt(pb, e);
        }
        p = OnnxExternalData.resolve(p, pb);
        try {
            return OnnxTensors.fromProto(p);
        } catch (KilnException e) {
            throw new KilnException(e.code(), pb + ": " + e.getMessage(), e);
        }
    }

    /** The name stored in a serialized TensorProto. */
    public static String tensorName(Path pb) {
        try (InputStream in = Files.newInputStream(pb)) {
            return TensorProto.parseFrom(in).getName();
        } catch (IOException e) {
            throw KilnException.invalidModel("cannot read tensor " + pb + ": " + e.getMessage(), e);
        } catch (RuntimeException e) {
            throw corrupt(pb, e);
        }
    }

    private static String describe(ValueInfoProto v) {
        StringBuilder b = new StringBuilder(v.getName()).append(": ");
        if (!v.getType().hasTensorType()) {
            return b.append("non-tensor").toString();
        }
        b.append(OnnxTensors.typeName(v.getType().getTensorType().getElemType()));
        if (v.getType().getTensorType().hasShape()) {
            b.append('[');
            List<TensorShapeProto.Dimension> dims = v.getType().getTensorType().getShape().getDimList();
            for (int i = 0; i < dims.size(); i++) {
                TensorShapeProto.Dimension d = dims.get(i);
                b.append(i == 0 ? "" : ",").append(d.hasDimValue() ? Long.toString(d.getDimValue())
                        : d.hasDimParam() ? d.getDimParam() : "?");
            }
            b.append(']');
        }
        return b.toString();
    }
}
