package dev.kiln.tensorflow;

import dev.kiln.KilnException;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.TensorRef;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Session;
import org.tensorflow.Signature;
import org.tensorflow.exceptions.TensorFlowException;
import org.tensorflow.proto.GraphDef;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.stream.Stream;

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
        // TensorFlow must accept it
        try (org.tensorflow.Graph tfg = new org.tensorflow.Graph()) {
            importInto(tfg, gd);
        }
        Path target = pbFile.toAbsolutePath();
        Path tmp = null;
        try {
            Files.createDirectories(target.getParent());
            tmp = Files.createTempFile(target.getParent(), "." + target.getFileName(), ".tmp");
            try (OutputStream out = Files.newOutputStream(tmp)) {
                gd.writeTo(out);
            }
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            tmp = null;
        } catch (IOException e) {
            throw KilnException.io("cannot write " + target + ": " + e.getMessage(), e);
        } finally {
            deleteQuietly(tmp);
        }
    }

    /** Writes {@code g} as a SavedModel directory {@code dir} (replacing it). */
    public static void writeSavedModel(Graph g, Path dir) {
        GraphDef gd = checkedGraphDef(g);
        Path target = dir.toAbsolutePath();
        Path tmp = null;
        Path old = null;
        try {
            Files.createDirectories(target.getParent());
            tmp = Files.createTempDirectory(target.getParent(), "." + target.getFileName() + ".tmp");
            Path staged = tmp.resolve("model");
            try (org.tensorflow.Graph tfg = new org.tensorflow.Graph()) {
                importInto(tfg, gd);
                String key = g.metadata().getOrDefault("signature", Signature.DEFAULT_KEY);
                Signature.Builder sig = Signature.builder(key).methodName(
                        g.metadata().getOrDefault("method_name", "tensorflow/serving/predict"));
                for (SignatureTensor in : g.inputs()) {
                    sig.input(in.name(), output(tfg, in.tensor()));
                }
                for (SignatureTensor out : g.outputs()) {
                    sig.output(out.name(), output(tfg, out.tensor()));
                }
                try (Session s = new Session(tfg)) {
                    SavedModelBundle.exporter(staged.toString()).withTags("serve").withSession(s)
                            .withSignature(sig.build()).export();
                }
            } catch (TensorFlowException | IllegalArgumentException e) {
                throw KilnException.invalidModel("TensorFlow cannot export the graph as a SavedModel to " + target
                        + ": " + TfImporter.firstLine(e.getMessage()));
            }
            if (Files.exists(target)) {
                old = target.resolveSibling("." + target.getFileName() + ".old" + System.nanoTime());
                Files.move(target, old, StandardCopyOption.ATOMIC_MOVE);
            }
            Files.move(staged, target, StandardCopyOption.ATOMIC_MOVE);
            deleteQuietly(old);
        } catch (IOException e) {
            if (old != null && !Files.exists(target)) {
                try {
                    Files.move(old, target, StandardCopyOption.ATOMIC_MOVE);
                } catch (IOException ignored) {
                    // keep the backup where it is
                }
            }
            throw KilnException.io("cannot write SavedModel " + target + ": " + e.getMessage(), e);
        } finally {
            deleteQuietly(tmp);
        }
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
        return GraphDefs.toGraphDef(g);
    }

    private static void importInto(org.tensorflow.Graph tfg, GraphDef gd) {
        try {
            tfg.importGraphDef(gd);
        } catch (IllegalArgumentException | TensorFlowException e) {
            throw KilnException.invalidModel("TensorFlow rejects the graph: " + TfImporter.firstLine(e.getMessage()));
        }
    }

    private static void deleteQuietly(Path p) {
        if (p == null || !Files.exists(p)) {
            return;
        }
        try (Stream<Path> s = Files.walk(p)) {
            s.sorted(Comparator.reverseOrder()).forEach(x -> {
                try {
                    Files.deleteIfExists(x);
                } catch (IOException ignored) {
                    // best effort
                }
            });
        } catch (IOException ignored) {
            // best effort
        }
    }
}
