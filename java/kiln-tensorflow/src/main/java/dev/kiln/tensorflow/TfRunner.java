package dev.kiln.tensorflow;

import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;
import dev.kiln.eval.ModelRunner;
import dev.kiln.graph.Graph;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.Tensor;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.exceptions.TensorFlowException;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.SavedModel;
import org.tensorflow.proto.SignatureDef;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Runs a model through TensorFlow: the oracle that Kiln's results are compared against. Inputs and outputs are keyed
 * by signature name and are Kiln {@link Tensor}s. Owns a TF session (and graph): close it.
 *
 * <pre>{@code
 * try (TfRunner tf = TfRunner.open(dir, ImportOptions.defaults())) {
 *     Map<String, Tensor> out = tf.run(RandomInputs.forSignature(tf.inputs(), 1, 2));
 * }
 * }</pre>
 */
public final class TfRunner implements ModelRunner {
    private final AutoCloseable owner;
    private final Session session;
    private final org.tensorflow.Graph ownedGraph;
    private final Map<String, String> inputTensors;   // signature name -> "node:k"
    private final Map<String, String> outputTensors;
    private final List<SignatureTensor> inputs;
    private final List<SignatureTensor> outputs;
    private boolean closed;

    private TfRunner(AutoCloseable owner, Session session, org.tensorflow.Graph ownedGraph, List<SignatureTensor> inputs,
                     List<SignatureTensor> outputs, Map<String, String> inputTensors, Map<String, String> outputTensors) {
        this.owner = owner;
        this.session = session;
        this.ownedGraph = ownedGraph;
        this.inputs = List.copyOf(inputs);
        this.outputs = List.copyOf(outputs);
        this.inputTensors = inputTensors;
        this.outputTensors = outputTensors;
    }

    /** Opens a SavedModel directory (with the options' tags and signature) or a frozen GraphDef .pb. */
    public static TfRunner open(Path model, ImportOptions opts) {
        if (!TfImporter.isSavedModel(model)) {
            return of(TfImporter.load(model, opts));
        }
        Path dir = TfImporter.savedModelDir(model);
        SavedModel sm = TfImporter.readSavedModel(dir);
        MetaGraphDef mg = TfImporter.pickMetaGraph(sm, opts.tags(), dir);
        SignatureDef sig = TfImporter.pickSignature(mg, TfImporter.resolveSignature(mg, opts.signature(), dir), dir);
        // the signature's public types, checked the way import checks them
        Graph typed = TfImporter.load(dir, opts.toBuilder().loadWeights(false).build());
        if (hasVariables(typed)) {
            TfImporter.checkVariableFiles(dir);
        }
        SavedModelSession sms = SavedModelSession.open(dir, mg);
        Map<String, String> ins = new LinkedHashMap<>();
        new TreeMap<>(sig.getInputsMap()).forEach((k, v) -> ins.put(k, v.getName()));
        Map<String, String> outs = new LinkedHashMap<>();
        new TreeMap<>(sig.getOutputsMap()).forEach((k, v) -> outs.put(k, v.getName()));
        return new TfRunner(sms, sms.session, null, typed.inputs(), typed.outputs(), ins, outs);
    }

    private static boolean hasVariables(Graph g) {
        return g.nodes().stream().anyMatch(n -> n.op().equals("VarHandleOp") || n.op().startsWith("Variable"));
    }

    /** Runs an IR graph: converts it to a GraphDef and loads that into a fresh TF graph and session. */
    public static TfRunner of(Graph g) {
        org.tensorflow.Graph tfg = new org.tensorflow.Graph();
        try {
            tfg.importGraphDef(GraphDefs.toGraphDef(g));
        } catch (IllegalArgumentException | TensorFlowException e) {
            tfg.close();
            throw KilnException.invalidModel("TensorFlow rejects the graph: " + TfImporter.firstLine(e.getMessage()));
        } catch (RuntimeException e) {
            tfg.close();
            throw e;
        }
        Session s = new Session(tfg);
        Map<String, String> ins = new LinkedHashMap<>();
        g.inputs().forEach(i -> ins.put(i.name(), TfImporter.tensorName(i.tensor())));
        Map<String, String> outs = new LinkedHashMap<>();
        g.outputs().forEach(o -> outs.put(o.name(), TfImporter.tensorName(o.tensor())));
        return new TfRunner(null, s, tfg, g.inputs(), g.outputs(), ins, outs);
    }

    /** The signature inputs (names, types; unknown dims as -1). */
    public List<SignatureTensor> inputs() {
        return inputs;
    }

    public List<SignatureTensor> outputs() {
        return outputs;
    }

    /** Runs the model on {@code feeds} (one per signature input) and returns every signature output by name. */
    public Map<String, Tensor> run(Map<String, Tensor> feeds) {
        if (closed) {
            throw new IllegalStateException("TfRunner is closed");
        }
        Set<String> missing = new TreeSet<>(inputTensors.keySet());
        missing.removeAll(feeds.keySet());
        Set<String> extra = new TreeSet<>(feeds.keySet());
        extra.removeAll(inputTensors.keySet());
        KilnArgumentException.check(missing.isEmpty() && extra.isEmpty(), "inputs must be exactly "
                + inputTensors.keySet() + (missing.isEmpty() ? "" : "; missing " + missing)
                + (extra.isEmpty() ? "" : "; unknown " + extra));
        List<org.tensorflow.Tensor> owned = new ArrayList<>();
        try {
            Session.Runner r = session.runner();
            for (Map.Entry<String, Tensor> e : feeds.entrySet()) {
                org.tensorflow.Tensor t = TfTensors.toTf(e.getValue());
                owned.add(t);
                r.feed(inputTensors.get(e.getKey()), t);
            }
            // each tensor fetched once: TensorFlow refuses two fetches of one name, and outputs may share a tensor
            List<String> fetched = new ArrayList<>(new java.util.LinkedHashSet<>(outputTensors.values()));
            fetched.forEach(r::fetch);
            Map<String, Tensor> out = new LinkedHashMap<>();
            try (Result res = r.run()) {
                for (Map.Entry<String, String> o : outputTensors.entrySet()) {
                    out.put(o.getKey(), TfTensors.fromTf(res.get(fetched.indexOf(o.getValue()))));
                }
            }
            return out;
        } catch (TensorFlowException | IllegalArgumentException e) {
            throw KilnException.invalidModel("TensorFlow failed to run the model: "
                    + TfImporter.firstLine(e.getMessage()));
        } finally {
            owned.forEach(org.tensorflow.Tensor::close);
        }
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            if (owner != null) {
                owner.close();
            } else {
                session.close();
                ownedGraph.close();
            }
        } catch (Exception e) {
            throw KilnException.internal("closing TensorFlow session failed", e);
        }
    }
}
