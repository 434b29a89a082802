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
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.SavedModel;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.proto.TensorInfo;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;

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
        GraphDef gd = checkedGraphDef(g);
        SavedModel sm = SavedModel.newBuilder().addMetaGraphs(MetaGraphDef.newBuilder()
                .setMetaInfoDef(MetaGraphDef.MetaInfoDef.newBuilder().addTags("serve")
                        .setTensorflowVersion(TensorFlow.version()))
                .setGraphDef(gd)
                .putSignatureDef(g.metadata().getOrDefault("signature", Signature.DEFAULT_KEY), signatureDef(g)))
                .build();
        AtomicFiles.writeDirectory(dir, staged -> {
            Files.createDirectories(staged.resolve("variables"));
            try (OutputStream out = Files.newOutputStream(staged.resolve("saved_model.pb"))) {
                write(sm, out);
            }
        });
    }

    private static SignatureDef signatureDef(Graph g) {
        SignatureDef.Builder b = SignatureDef.newBuilder()
                .setMethodName(g.metadata().getOrDefault("method_name", "tensorflow/serving/predict"));
        for (SignatureTensor in : g.inputs()) {
            b.putInputs(in.name(), tensorInfo(in));
        }
        for (SignatureTensor out : g.outputs()) {
            b.putOutputs(out.name(), tensorInfo(out));
        }
        return b.build();
    }

    private static TensorInfo tensorInfo(SignatureTensor t) {
        return TensorInfo.newBuilder().setName(TfImporter.tensorName(t.tensor()))
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
