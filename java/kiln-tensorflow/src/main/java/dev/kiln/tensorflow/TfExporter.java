package dev.kiln.tensorflow;

import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.MessageLite;
import dev.kiln.AtomicFiles;
import dev.kiln.KilnException;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.TensorRef;
import org.tensorflow.Signature;
import org.tensorflow.TensorFlow;
import org.tensorflow.exceptions.TensorFlowException;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.SavedModel;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.proto.TensorInfo;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Writes an IR graph back as TensorFlow: a frozen GraphDef {@code .pb} or a SavedModel directory (tag {@code serve},
 * the graph's signature under its key, default {@code serving_default}). Both are written to a temporary file or
 * directory beside the target and renamed into place, so a failure leaves nothing partial behind. The graph must be
 * frozen (no variable ops) and use only ops in TensorFlow's registry ({@link TfOpSupport}).
 */
public final class TfExporter {
    private TfExporter() {
    }

    /** Writes {@code g} as a frozen GraphDef to {@code pbFile} (replacing it). */
    public static void writeFrozenGraph(Graph g, Path pbFile) {
        GraphDef gd = checkedGraphDef(g);
        AtomicFiles.write(pbFile, out -> write(gd, out));
    }

    /**
     * Writes {@code g} as a SavedModel directory {@code dir} (replacing it): {@code saved_model.pb} with one meta graph
     * (tag {@code serve}, the graph's signature) and an empty {@code variables/} directory, as TensorFlow's exporter
     * writes a graph without variables. The proto is written here rather than by TF Java's exporter, which would
     * hold the weights three more times (its graph, the GraphDef it reads back, and that GraphDef's bytes).
     */
    public static void writeSavedModel(Graph g, Path dir) {
        writeSavedModel(List.of(g), dir);
    }

    /**
     * Writes several graphs of one model, each under its own signature key (its metadata {@code signature}), as one
     * SavedModel {@code dir}: nodes the graphs share (same name, same definition, same inputs: the weights and the
     * trunk two signatures have in common) are written once; a node of the same name that differs is renamed
     * {@code <signature>/<name>} in that signature's graph.
     */
    public static void writeSavedModel(List<Graph> graphs, Path dir) {
        SavedModel sm = savedModel(graphs);
        AtomicFiles.writeDirectory(dir, staged -> {
            Files.createDirectories(staged.resolve("variables"));
            try (OutputStream out = Files.newOutputStream(staged.resolve("saved_model.pb"))) {
                write(sm, out);
            }
        });
    }

    private static SavedModel savedModel(List<Graph> graphs) {
        if (graphs.isEmpty()) {
            throw KilnException.invalidModel("no graph to write as a SavedModel");
        }
        GraphDef.Builder merged = GraphDef.newBuilder();
        Map<String, NodeDef> written = new HashMap<>();
        MetaGraphDef.Builder mg = MetaGraphDef.newBuilder().setMetaInfoDef(MetaGraphDef.MetaInfoDef.newBuilder()
                .addTags("serve").setTensorflowVersion(TensorFlow.version()));
        for (Graph g : graphs) {
            String key = g.metadata().getOrDefault("signature", Signature.DEFAULT_KEY);
            if (mg.containsSignatureDef(key)) {
                throw KilnException.invalidModel("two graphs for signature '" + key + "'");
            }
            GraphDef.Builder gd = checkedGraphDef(g).toBuilder();
            SignatureDef sig = signatureDef(g, gd);
            if (merged.getNodeCount() == 0) {
                merged.setVersions(gd.getVersions());
            }
            for (org.tensorflow.proto.FunctionDef fd : gd.getLibrary().getFunctionList()) {
                if (merged.getLibrary().getFunctionList().stream().noneMatch(m -> m.getSignature().getName()
                        .equals(fd.getSignature().getName()))) {
                    merged.getLibraryBuilder().addFunction(fd);
                }
            }
            // nodes come in topological order, so every input is renamed before its reader is looked at
            Map<String, String> renamed = new HashMap<>();
            for (NodeDef nd : gd.getNodeList()) {
                NodeDef n = withInputsRenamed(nd, renamed);
                NodeDef same = written.get(n.getName());
                if (same != null && same.equals(n)) {
                    continue;
                }
                if (same != null) {
                    String name = key.replaceAll("[^A-Za-z0-9_.\\-]", "_") + "/" + n.getName();
                    for (int i = 1; written.containsKey(name); i++) {
                        name = key.replaceAll("[^A-Za-z0-9_.\\-]", "_") + "_" + i + "/" + n.getName();
                    }
                    renamed.put(n.getName(), name);
                    n = n.toBuilder().setName(name).build();
                }
                written.put(n.getName(), n);
                merged.addNode(n);
            }
            SignatureDef.Builder sb = sig.toBuilder();
            sig.getInputsMap().forEach((k, v) -> sb.putInputs(k, v.toBuilder().setName(renamedTensor(v.getName(),
                    renamed)).build()));
            sig.getOutputsMap().forEach((k, v) -> sb.putOutputs(k, v.toBuilder().setName(renamedTensor(v.getName(),
                    renamed)).build()));
            mg.putSignatureDef(key, sb.build());
        }
        return SavedModel.newBuilder().addMetaGraphs(mg.setGraphDef(merged)).build();
    }

    private static NodeDef withInputsRenamed(NodeDef nd, Map<String, String> renamed) {
        if (renamed.isEmpty()) {
            return nd;
        }
        NodeDef.Builder b = nd.toBuilder().clearInput();
        for (String in : nd.getInputList()) {
            boolean control = in.startsWith("^");
            String ref = control ? in.substring(1) : in;
            b.addInput((control ? "^" : "") + renamedTensor(ref, renamed));
        }
        return b.build();
    }

    /** {@code node} or {@code node:i} with the node renamed where it was. */
    private static String renamedTensor(String tensor, Map<String, String> renamed) {
        int colon = tensor.lastIndexOf(':');
        String node = colon < 0 ? tensor : tensor.substring(0, colon);
        String to = renamed.get(node);
        return to == null ? tensor : to + (colon < 0 ? "" : tensor.substring(colon));
    }

    /**
     * The signature, with a tensor of its own for every output: where outputs share a tensor (a tf.Module returning
     * one value under three names), the second and later get an Identity added to {@code gd}, because TensorFlow's
     * signature API refuses two results with one tensor name.
     */
    private static SignatureDef signatureDef(Graph g, GraphDef.Builder gd) {
        SignatureDef.Builder b = SignatureDef.newBuilder()
                .setMethodName(g.metadata().getOrDefault("method_name", "tensorflow/serving/predict"));
        for (SignatureTensor in : g.inputs()) {
            b.putInputs(in.name(), tensorInfo(in, TfImporter.tensorName(in.tensor())));
        }
        Set<String> nodeNames = new HashSet<>();
        gd.getNodeList().forEach(n -> nodeNames.add(n.getName()));
        Set<String> taken = new HashSet<>();
        for (SignatureTensor out : g.outputs()) {
            String tensor = TfImporter.tensorName(out.tensor());
            if (!taken.add(tensor)) {
                String name = out.name() + "/kiln_output";
                for (int i = 1; nodeNames.contains(name); i++) {
                    name = out.name() + "/kiln_output_" + i;
                }
                nodeNames.add(name);
                gd.addNode(NodeDef.newBuilder().setName(name).setOp("Identity").addInput(tensor)
                        .putAttr("T", AttrValue.newBuilder().setTypeValue(out.type().dtype().tfCode()).build()));
                tensor = name + ":0";
            }
            b.putOutputs(out.name(), tensorInfo(out, tensor));
        }
        return b.build();
    }

    private static TensorInfo tensorInfo(SignatureTensor t, String tensorName) {
        return TensorInfo.newBuilder().setName(tensorName)
                .setDtypeValue(t.type().dtype().tfCode()).setTensorShape(GraphDefs.toProto(t.type().shape())).build();
    }

    /** Streams {@code m} out: the weights go from the IR's buffers to the file with no whole-file array. */
    private static void write(MessageLite m, OutputStream out) throws IOException {
        CodedOutputStream c = CodedOutputStream.newInstance(out, 1 << 20);
        m.writeTo(c);
        c.flush();
    }

    private static org.tensorflow.Output<?> output(org.tensorflow.Graph tfg, TensorRef r) {
        org.tensorflow.GraphOperation op = tfg.operation(r.node());
        if (op == null) {
            throw KilnException.invalidModel("signature tensor '" + r + "' names no node of the graph");
        }
        return op.output(r.index());
    }

    private static GraphDef checkedGraphDef(Graph g) {
        if (g.outputs().isEmpty()) {
            throw KilnException.invalidModel("the graph has no signature outputs; nothing to export");
        }
        for (Node n : g.nodes()) {
            if (n.op().equals("VarHandleOp") || n.op().startsWith("Variable")) {
                throw KilnException.unsupported("node '" + n.name() + "' is a variable (" + n.op() + "): export "
                        + "needs a frozen graph (import with loadWeights=true)");
            }
            if (!TfOpSupport.canExportToSavedModel(n.op())) {
                throw KilnException.unsupported("node '" + n.name() + "': op " + n.op()
                        + " is not a TensorFlow op, so the graph cannot be written as a SavedModel or frozen graph");
            }
        }
        GraphDef gd = GraphDefs.toGraphDef(g);
        // TensorFlow must accept it; checking needs no weight values
        try (org.tensorflow.Graph tfg = new org.tensorflow.Graph()) {
            importInto(tfg, GraphDefs.withoutLargeConstantValues(gd));
            for (SignatureTensor t : g.inputs()) {
                output(tfg, t.tensor());
            }
            for (SignatureTensor t : g.outputs()) {
                output(tfg, t.tensor());
            }
        }
        return gd;
    }

    private static void importInto(org.tensorflow.Graph tfg, GraphDef gd) {
        try {
            tfg.importGraphDef(gd);
        } catch (IllegalArgumentException | TensorFlowException e) {
            throw KilnException.invalidModel("TensorFlow rejects the graph: " + TfImporter.firstLine(e.getMessage()));
        }
    }
}
