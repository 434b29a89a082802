package dev.kiln.tensorflow;

import dev.kiln.KilnException;
import org.tensorflow.Session;
import org.tensorflow.exceptions.TensorFlowException;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.types.TString;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A SavedModel meta graph loaded into a TF Java graph and session the way TensorFlow's own loader does it: import
 * the GraphDef, run the saver's restore op on {@code variables/variables}, run the init op. Unlike
 * {@link org.tensorflow.SavedModelBundle} it does not validate every signature, so a model with one inconsistent
 * signature (e.g. half_plus_three's regress signature) still loads for the others.
 */
final class SavedModelSession implements AutoCloseable {
    final org.tensorflow.Graph graph;
    final Session session;

    private SavedModelSession(org.tensorflow.Graph graph, Session session) {
        this.graph = graph;
        this.session = session;
    }

    static SavedModelSession open(Path dir, MetaGraphDef mg) {
        org.tensorflow.Graph g = new org.tensorflow.Graph();
        Session s = null;
        try {
            try {
                g.importGraphDef(GraphDefs.withoutDevices(mg.getGraphDef()));
            } catch (IllegalArgumentException | TensorFlowException e) {
                throw KilnException.invalidModel("TensorFlow cannot load the graph of " + dir + ": "
                        + TfImporter.firstLine(e.getMessage()));
            }
            s = new Session(g);
            Path index = dir.resolve("variables").resolve("variables.index");
            if (mg.hasSaverDef() && Files.isRegularFile(index)) {
                String prefix = dir.resolve("variables").resolve("variables").toString();
                try (TString file = TString.scalarOf(prefix)) {
                    String restore = mg.getSaverDef().getRestoreOpName();
                    s.runner().feed(mg.getSaverDef().getFilenameTensorName(), file)
                            .addTarget(restore.contains(":") ? restore.substring(0, restore.indexOf(':')) : restore)
                            .run();
                } catch (TensorFlowException | IllegalArgumentException e) {
                    throw restoreFailure(dir, e);
                }
            }
            SignatureDef init = mg.getSignatureDefMap().get("__saved_model_init_op");
            if (init != null && init.containsOutputs("__saved_model_init_op")) {
                String op = init.getOutputsOrThrow("__saved_model_init_op").getName();
                op = op.contains(":") ? op.substring(0, op.indexOf(':')) : op;
                if (g.operation(op) != null) {
                    java.util.List<TString> feeds = new java.util.ArrayList<>();
                    try {
                        Session.Runner r = s.runner();
                        // like TF's loader: asset placeholders get the assets' paths
                        for (org.tensorflow.proto.AssetFileDef a : mg.getAssetFileDefList()) {
                            TString path = TString.scalarOf(dir.resolve("assets").resolve(a.getFilename()).toString());
                            feeds.add(path);
                            r.feed(a.getTensorInfo().getName(), path);
                        }
                        r.addTarget(op).run();
                    } catch (TensorFlowException | IllegalArgumentException e) {
                        throw KilnException.invalidModel("the init op '" + op + "' of " + dir + " failed: "
                                + TfImporter.firstLine(e.getMessage()));
                    } finally {
                        feeds.forEach(TString::close);
                    }
                }
            }
            return new SavedModelSession(g, s);
        } catch (RuntimeException e) {
            if (s != null) {
                s.close();
            }
            g.close();
            throw e;
        }
    }

    /** The restore op failed: blame the checkpoint only when TensorFlow's message is about the checkpoint. */
    private static KilnException restoreFailure(Path dir, Exception e) {
        String msg = TfImporter.firstLine(e.getMessage());
        if (msg.contains("assign a device") || msg.contains("device")) {
            return KilnException.invalidModel("TensorFlow cannot place the restore ops of " + dir + " on this "
                    + "machine's devices (the checkpoint itself was not read): " + msg);
        }
        return KilnException.invalidModel("cannot read the variables of " + dir + " from " + dir.resolve("variables")
                + " (missing, truncated or corrupt checkpoint): " + msg);
    }

    @Override
    public void close() {
        session.close();
        graph.close();
    }
}
