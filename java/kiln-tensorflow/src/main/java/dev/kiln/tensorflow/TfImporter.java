package dev.kiln.tensorflow;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.kiln.KilnException;
import dev.kiln.Limits;
import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.Shape;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.tensorflow.shapes.TfShapeInference;
import dev.kiln.graph.TensorType;
import org.tensorflow.GraphOperation;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.exceptions.TensorFlowException;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.SavedModel;
import org.tensorflow.proto.SignatureDef;
import org.tensorflow.proto.TensorInfo;
import org.tensorflow.proto.TensorShapeProto;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;

/**
 * Imports a TensorFlow model into Kiln's IR: a SavedModel directory (TF1 or TF2/Keras) or a frozen GraphDef
 * {@code .pb} file.
 *
 * <p>SavedModel: reads {@code saved_model.pb}, picks the meta graph by tags and the signature by key (listing what is
 * available when either is missing), walks back from the signature outputs, inlines (Stateful)PartitionedCall bodies
 * (nested too) into one flat graph, and, with {@code loadWeights}, freezes variables (VarHandleOp + ReadVariableOp,
 * VariableV2) into {@code Const} nodes holding their checkpoint values (read through TF Java's
 * a session restored from the checkpoint the way TF's loader does). Every node gets its output types from TensorFlow's shape inference. Signature inputs and
 * outputs keep their public names. Metadata: {@code source}, {@code format}, {@code tags}, {@code signature},
 * {@code tensorflow_version}, {@code producer}, {@code original_nodes}.
 *
 * <p>Errors are {@link KilnException}s whose message names the file, node or tensor at fault.
 */
public final class TfImporter {
    private static final System.Logger LOG = System.getLogger(TfImporter.class.getName());
    /** Graph metadata: whose shape inference typed the graph, {@value #SHAPES_BY_KILN} or "tensorflow (why)". */
    public static final String SHAPES_METADATA = "shape_inference";
    public static final String SHAPES_BY_KILN = "kiln";
    /** Ops whose control edges are not followed when collecting what the outputs need. */
    private static final Set<String> NO_CONTROL_FOLLOW = Set.of("SaveV2", "Save", "SaveSlices", "RestoreV2",
            "Restore", "RestoreSlice", "MergeV2Checkpoints", "Print", "PrintV2", "VarIsInitializedOp",
            "VarHandleOp", "VariableV2", "Variable", "DestroyResourceOp", "IsVariableInitialized");
    /** Ops that change state: an inference graph that needs them cannot be frozen. */
    private static final Set<String> STATE_CHANGING = Set.of("Assign", "AssignAdd", "AssignSub", "AssignVariableOp",
            "AssignAddVariableOp", "AssignSubVariableOp", "ScatterUpdate", "ScatterAdd", "ResourceScatterUpdate",
            "ResourceScatterAdd", "CountUpTo");
    private static final Set<String> VARIABLE_OPS = Set.of("VarHandleOp", "VariableV2", "Variable");

    private TfImporter() {
    }

    public static Graph load(Path model) {
        return load(model, ImportOptions.defaults());
    }

    public static Graph load(Path model, ImportOptions options) {
        try {
            if (isSavedModel(model)) {
                return loadSavedModel(savedModelDir(model), options);
            }
            return loadFrozen(model, options);
        } catch (KilnException e) {
            // every error names the model: some checks (flattening, inlining) do not know the file
            String m = e.getMessage();
            if (m != null && m.contains(model.toString())) {
                throw e;
            }
            throw e instanceof dev.kiln.KilnArgumentException ? new dev.kiln.KilnArgumentException(model + ": " + m)
                    : new KilnException(e.code(), model + ": " + m, e);
        } catch (TensorFlowException | IllegalArgumentException | IllegalStateException e) {
            throw KilnException.invalidModel(model + ": " + firstLine(e.getMessage()), e);
        }
    }

    /** Tags and signatures of a model, read without loading weights. */
    public static ModelDescription describe(Path model) {
        if (isSavedModel(model)) {
            Path dir = savedModelDir(model);
            SavedModel sm = readSavedModel(dir);
            List<ModelDescription.MetaGraph> mgs = new ArrayList<>();
            for (MetaGraphDef mg : sm.getMetaGraphsList()) {
                List<ModelDescription.SignatureInfo> sigs = new ArrayList<>();
                for (Map.Entry<String, SignatureDef> e : new TreeMap<>(mg.getSignatureDefMap()).entrySet()) {
                    sigs.add(new ModelDescription.SignatureInfo(e.getKey(), e.getValue().getMethodName(),
                            infos(e.getValue().getInputsMap()), infos(e.getValue().getOutputsMap())));
                }
                mgs.add(new ModelDescription.MetaGraph(new TreeSet<>(mg.getMetaInfoDef().getTagsList()),
                        mg.getMetaInfoDef().getTensorflowVersion(), mg.getGraphDef().getNodeCount(),
                        mg.getGraphDef().getLibrary().getFunctionCount(), sigs));
            }
            return new ModelDescription(model, "saved_model", mgs);
        }
        // A frozen graph: its Placeholders in and sinks out, typed by TensorFlow's shape inference where it can; string
        // inputs (an audio or image decoder at the front) are described, not refused.
        GraphDef gd = GraphDefs.withoutDevices(readGraphDef(model));
        Flattener f = flatten(gd);
        Map<String, TensorType> types = inferredTypes(gd);
        List<ModelDescription.TensorInfo> ins = new ArrayList<>();
        f.nodes.values().stream().filter(n -> n.getOp().startsWith("Placeholder")).forEach(n -> ins.add(
                new ModelDescription.TensorInfo(n.getName(), n.getName() + ":0", types.get(n.getName() + ":0"))));
        List<ModelDescription.TensorInfo> outs = new ArrayList<>();
        sinks(f.resolvedNodes()).forEach(n -> outs.add(new ModelDescription.TensorInfo(n, n + ":0",
                types.get(n + ":0"))));
        return new ModelDescription(model, "frozen_graph", List.of(new ModelDescription.MetaGraph(Set.of(), "",
                gd.getNodeCount(), gd.getLibrary().getFunctionCount(),
                List.of(new ModelDescription.SignatureInfo(DEFAULT_SIGNATURE, "", ins, outs)))));
    }

    /** Types of every node output as TensorFlow infers them; empty where TensorFlow cannot load the graph. */
    private static Map<String, TensorType> inferredTypes(GraphDef gd) {
        Map<String, TensorType> out = new HashMap<>();
        TfShapeInference.Result kiln = TfShapeInference.infer(gd);
        if (kiln.inferred()) {
            kiln.types().forEach((node, types) -> {
                for (int i = 0; i < types.size(); i++) {
                    out.put(node + ":" + i, types.get(i));
                }
            });
            return out;
        }
        try {
            TensorFlowInference tf = TensorFlowInference.of(gd);
            tf.shapes().forEach((node, shapes) -> {
                for (int i = 0; i < shapes.size(); i++) {
                    try {
                        out.put(node + ":" + i, new TensorType(DType.fromTfCode(tf.dtypeCodes().get(node).get(i)),
                                shapes.get(i)));
                    } catch (IllegalArgumentException unknownType) {
                        // a dtype Kiln has no name for: left untyped
                    }
                }
            });
        } catch (IllegalArgumentException | TensorFlowException e) {
            return Map.of();
        }
        return out;
    }

    /**
     * How many nodes of each op a model holds, its function bodies included, read from the file without importing:
     * what {@code inspect} shows where no signature's graph can be imported (several signatures and no default, a
     * graph with ops Kiln refuses).
     */
    public static Map<String, Integer> fileOpHistogram(Path model, Set<String> tags) {
        GraphDef gd;
        if (isSavedModel(model)) {
            Path dir = savedModelDir(model);
            gd = pickMetaGraph(readSavedModel(dir), tags, dir).getGraphDef();
        } else {
            gd = readGraphDef(model);
        }
        Map<String, Integer> h = new TreeMap<>();
        gd.getNodeList().forEach(n -> h.merge(n.getOp(), 1, Integer::sum));
        gd.getLibrary().getFunctionList().forEach(fd -> fd.getNodeDefList().forEach(n -> h.merge(n.getOp(), 1,
                Integer::sum)));
        return h;
    }

    private static List<ModelDescription.TensorInfo> infos(Map<String, TensorInfo> m) {
        List<ModelDescription.TensorInfo> out = new ArrayList<>();
        // A TensorInfo without a dtype (DT_INVALID: a composite or sparse tensor) is described, not refused.
        new TreeMap<>(m).forEach((k, v) -> out.add(new ModelDescription.TensorInfo(k, v.getName(),
                v.getDtypeValue() == 0 ? null : new TensorType(dtypeOf(v.getDtypeValue()), v.hasTensorShape()
                        ? GraphDefs.fromProto(v.getTensorShape()) : Shape.unknown()))));
        return out;
    }

    static String tensorName(TensorRef r) {
        return r.node() + ":" + r.index();
    }

    // ---- locating and parsing ----

    static boolean isSavedModel(Path model) {
        return Files.isDirectory(model) || model.getFileName() != null
                && model.getFileName().toString().equals("saved_model.pb");
    }

    static Path savedModelDir(Path model) {
        return Files.isDirectory(model) ? model : model.toAbsolutePath().getParent();
    }

    static SavedModel readSavedModel(Path dir) {
        if (!Files.exists(dir)) {
            throw KilnException.invalidModel("model not found: " + dir + " does not exist");
        }
        Path pb = dir.resolve("saved_model.pb");
        if (!Files.isRegularFile(pb)) {
            if (Files.isRegularFile(dir.resolve("saved_model.pbtxt"))) {
                throw KilnException.unsupported(dir + " holds saved_model.pbtxt (text format); Kiln reads the binary "
                        + "saved_model.pb only");
            }
            throw KilnException.invalidModel("not a SavedModel: " + dir + " has no saved_model.pb (it holds: "
                    + listing(dir) + ")");
        }
        SavedModel sm;
        try (InputStream in = Files.newInputStream(pb)) {
            sm = SavedModel.parseFrom(in);
        } catch (InvalidProtocolBufferException e) {
            throw KilnException.invalidModel(pb + " is not a valid SavedModel protobuf (truncated or corrupt): "
                    + firstLine(e.getMessage()));
        } catch (RuntimeException e) {   // protobuf-java's stream parser throws some of these on corrupt input
            throw KilnException.invalidModel(pb + " is not a valid SavedModel protobuf (truncated or corrupt): " + e,
                    e);
        } catch (IOException e) {
            throw KilnException.io("cannot read " + pb + ": " + e.getMessage(), e);
        }
        if (sm.getMetaGraphsCount() == 0) {
            throw KilnException.invalidModel(pb + " holds no meta graph (truncated, or not a SavedModel)");
        }
        for (MetaGraphDef mg : sm.getMetaGraphsList()) {
            Limits.checkNodes(pb.toString(), nodeCount(mg.getGraphDef()));
            if (mg.getGraphDef().getNodeCount() == 0) {
                throw KilnException.invalidModel(pb + ": meta graph " + mg.getMetaInfoDef().getTagsList()
                        + " has an empty graph (truncated or corrupt file)");
            }
        }
        return sm;
    }

    private static String listing(Path dir) {
        if (!Files.isDirectory(dir)) {
            return "not a directory";
        }
        try (DirectoryStream<Path> s = Files.newDirectoryStream(dir)) {
            List<String> names = new ArrayList<>();
            s.forEach(p -> names.add(p.getFileName().toString()));
            java.util.Collections.sort(names);
            return names.isEmpty() ? "nothing" : String.join(", ", names.subList(0, Math.min(10, names.size())))
                    + (names.size() > 10 ? ", ..." : "");
        } catch (IOException e) {
            return "unreadable";
        }
    }

    static MetaGraphDef pickMetaGraph(SavedModel sm, Set<String> tags, Path dir) {
        MetaGraphDef contains = null;
        int containing = 0;
        for (MetaGraphDef mg : sm.getMetaGraphsList()) {
            Set<String> t = new TreeSet<>(mg.getMetaInfoDef().getTagsList());
            if (t.equals(new TreeSet<>(tags))) {
                return mg;
            }
            if (t.containsAll(tags)) {
                contains = mg;
                containing++;
            }
        }
        if (containing == 1) {
            return contains;
        }
        throw KilnException.invalidModel("SavedModel " + dir + " has no meta graph with tags " + new TreeSet<>(tags)
                + "; available tag sets: " + sm.getMetaGraphsList().stream()
                .map(m -> new TreeSet<>(m.getMetaInfoDef().getTagsList()).toString()).collect(Collectors.joining(", ")));
    }

    /** The signature key TensorFlow's own loader would not have to guess: the first signature of every SavedModel. */
    static final String DEFAULT_SIGNATURE = "serving_default";
    /** The signature that holds a TF2 SavedModel's initializer, not a callable function. */
    static final String INIT_SIGNATURE = "__saved_model_init_op";

    /**
     * The signature key to import: {@code requested} when given; otherwise {@code serving_default}, or, where the
     * model has none, its only callable signature (a tf.Module saved with {@code signatures={"inference": f}}).
     * Anything else is an error listing what there is.
     */
    public static String resolveSignature(MetaGraphDef mg, String requested, Path dir) {
        Set<String> keys = new TreeSet<>(mg.getSignatureDefMap().keySet());
        if (requested != null) {
            if (requested.equals(ImportOptions.ALL_SIGNATURES) && !keys.contains(requested)) {
                throw new dev.kiln.KilnArgumentException("--signature all is for export, which writes every signature; "
                        + "here give one of " + String.join(", ", keys));
            }
            pickSignature(mg, requested, dir);
            return requested;
        }
        if (keys.contains(DEFAULT_SIGNATURE)) {
            return DEFAULT_SIGNATURE;
        }
        keys.remove(INIT_SIGNATURE);
        if (keys.size() == 1) {
            return keys.iterator().next();
        }
        throw KilnException.invalidModel("SavedModel " + dir + " has no signature '" + DEFAULT_SIGNATURE + "' in meta "
                + "graph " + new TreeSet<>(mg.getMetaInfoDef().getTagsList()) + (keys.isEmpty()
                ? " and no other callable signature" : " and " + keys.size() + " others: " + String.join(", ", keys)
                + "; choose one with --signature NAME"));
    }

    /**
     * The callable signatures of a SavedModel's meta graph with these tags (every key but
     * {@code __saved_model_init_op}), sorted; for a frozen graph, the one pseudo signature {@code serving_default}.
     */
    public static List<String> callableSignatures(Path model, Set<String> tags) {
        if (!isSavedModel(model)) {
            return List.of(DEFAULT_SIGNATURE);
        }
        Path dir = savedModelDir(model);
        Set<String> keys = new TreeSet<>(pickMetaGraph(readSavedModel(dir), tags, dir).getSignatureDefMap().keySet());
        keys.remove(INIT_SIGNATURE);
        return List.copyOf(keys);
    }

    static SignatureDef pickSignature(MetaGraphDef mg, String key, Path dir) {
        SignatureDef sig = mg.getSignatureDefMap().get(key);
        if (sig == null) {
            throw KilnException.invalidModel("SavedModel " + dir + " has no signature '" + key
                    + "' in meta graph " + new TreeSet<>(mg.getMetaInfoDef().getTagsList()) + "; available signatures: "
                    + String.join(", ", new TreeSet<>(mg.getSignatureDefMap().keySet())));
        }
        return sig;
    }

    // ---- SavedModel ----

    private static Graph loadSavedModel(Path dir, ImportOptions o) {
        SavedModel sm = readSavedModel(dir);
        MetaGraphDef mg = pickMetaGraph(sm, o.tags(), dir);
        String key = resolveSignature(mg, o.signature(), dir);
        SignatureDef sig = pickSignature(mg, key, dir);
        String where = "signature '" + key + "' of " + dir;
        List<SigEntry> ins = sigEntries(sig.getInputsMap(), where, true);
        List<SigEntry> outs = sigEntries(sig.getOutputsMap(), where, false);
        if (outs.isEmpty()) {
            throw KilnException.invalidModel(where + " has no outputs");
        }
        GraphDef gd = GraphDefs.withoutDevices(mg.getGraphDef());
        Flattener f = flatten(gd, o.recurrentLayers());
        ins = withGivenShapes(ins, o.inputShapes(), f, where);
        Set<String> tags = new TreeSet<>(mg.getMetaInfoDef().getTagsList());
        Freezer freezer = o.loadWeights() ? vars -> readVariables(dir, mg, vars) : null;
        Graph g = build(f, ins, outs, gd, freezer, dir.toString(), o.recurrentLayers());
        g.metadata().put("source", dir.toString());
        g.metadata().put("format", "saved_model");
        g.metadata().put("tags", String.join(",", tags));
        g.metadata().put("signature", key);
        if (o.signature() == null && !key.equals(DEFAULT_SIGNATURE)) {
            g.metadata().put("signature_note", "no signature '" + DEFAULT_SIGNATURE + "': using the only callable "
                    + "signature '" + key + "'");
        }
        g.metadata().put("method_name", sig.getMethodName());
        g.metadata().put("tensorflow_version", mg.getMetaInfoDef().getTensorflowVersion());
        g.metadata().put("frozen", Boolean.toString(o.loadWeights()));
        return g;
    }

    record SigEntry(String name, String tensor, DType dtype, Shape shape) {
    }

    /**
     * Signature inputs with the shapes given by {@code --input-shapes} (by signature key or tensor name): a fixed
     * number of time steps lets a Keras RNN's loop be unrolled. The input's Placeholder takes the shape too, so that
     * TensorFlow's shape inference sees it.
     */
    private static List<SigEntry> withGivenShapes(List<SigEntry> ins, Map<String, Shape> given, Flattener f,
                                                  String where) {
        if (given.isEmpty()) {
            return ins;
        }
        List<SigEntry> out = new ArrayList<>(ins);
        for (Map.Entry<String, Shape> g : given.entrySet()) {
            int i = 0;
            while (i < out.size() && !out.get(i).name().equals(g.getKey()) && !TensorRef.parse(out.get(i).tensor())
                    .equals(TensorRef.parse(g.getKey()))) {
                i++;
            }
            if (i == out.size()) {
                throw new dev.kiln.KilnArgumentException("a shape is given for '" + g.getKey() + "', which is not an "
                        + "input of " + where + "; its inputs: " + ins.stream().map(SigEntry::name)
                        .collect(Collectors.joining(", ")));
            }
            SigEntry e = out.get(i);
            if (e.shape() != null && e.shape().hasRank() && !e.shape().isCompatibleWith(g.getValue())) {
                throw new dev.kiln.KilnArgumentException("the shape given for input '" + e.name() + "' of " + where
                        + ", " + g.getValue() + ", does not fit the signature's " + e.shape());
            }
            out.set(i, new SigEntry(e.name(), e.tensor(), e.dtype(), g.getValue()));
            NodeDef nd = f.nodes.get(TensorRef.parse(f.resolve(e.tensor())).node());
            if (nd != null && nd.getOp().equals("Placeholder")) {
                f.nodes.put(nd.getName(), nd.toBuilder().putAttr("shape", AttrValue.newBuilder()
                        .setShape(GraphDefs.toProto(g.getValue())).build()).build());
            }
        }
        return out;
    }

    private static List<SigEntry> sigEntries(Map<String, TensorInfo> m, String where, boolean input) {
        List<SigEntry> out = new ArrayList<>();
        for (Map.Entry<String, TensorInfo> e : new TreeMap<>(m).entrySet()) {
            TensorInfo ti = e.getValue();
            String kind = input ? "input" : "output";
            if (ti.getEncodingCase() != TensorInfo.EncodingCase.NAME) {
                throw KilnException.unsupported(where + ": " + kind + " '" + e.getKey() + "' is a "
                        + ti.getEncodingCase().name().toLowerCase() + " tensor; Kiln handles dense tensors only");
            }
            int code = ti.getDtypeValue();
            if (code > 100) {
                throw KilnException.unsupported(where + ": " + kind + " '" + e.getKey() + "' (" + ti.getName()
                        + ") is a variable reference (" + DataType.forNumber(code) + "): a stateful signature (it reads "
                        + "or updates variables, like a counter) cannot be frozen into an inference graph");
            }
            DType dt = dtypeOf(code);
            if (dt == DType.STRING || dt == DType.RESOURCE || dt == DType.VARIANT) {
                throw KilnException.unsupported(where + ": " + kind + " '" + e.getKey() + "' (" + ti.getName() + ") is "
                        + dt.name().toLowerCase() + "-typed; Kiln optimizes numeric tensors only (string inputs such "
                        + "as serialized tf.Example for ParseExample cannot be optimized; use a signature with numeric "
                        + "inputs)");
            }
            Shape s = ti.hasTensorShape() ? GraphDefs.fromProto(ti.getTensorShape()) : null;
            out.add(new SigEntry(e.getKey(), ti.getName(), dt, s));
        }
        return out;
    }

    private static DType dtypeOf(int code) {
        try {
            return DType.fromTfCode(code);
        } catch (IllegalArgumentException e) {
            throw KilnException.unsupported("unsupported TensorFlow dtype code " + code);
        }
    }

    private static Flattener flatten(GraphDef gd) {
        return flatten(gd, RecurrentLayers.UNROLL);
    }

    private static Flattener flatten(GraphDef gd, RecurrentLayers recurrent) {
        Map<String, FunctionDef> lib = new HashMap<>();
        for (FunctionDef fd : gd.getLibrary().getFunctionList()) {
            lib.put(fd.getSignature().getName(), fd);
        }
        Flattener f = new Flattener(lib, recurrent);
        f.addGraph(gd.getNodeList());
        return f;
    }

    /** Nodes of the graph and of every function in its library (all of them may be inlined into the IR). */
    private static long nodeCount(GraphDef gd) {
        long n = gd.getNodeCount();
        for (var f : gd.getLibrary().getFunctionList()) {
            n += f.getNodeDefCount();
        }
        return n;
    }

    // ---- frozen GraphDef ----

    /** The GraphDef of a frozen .pb, or a clear error saying why it is not one. */
    private static GraphDef readGraphDef(Path file) {
        if (!Files.exists(file)) {
            throw KilnException.invalidModel("model not found: " + file + " does not exist");
        }
        GraphDef gd;
        try (InputStream in = Files.newInputStream(file)) {
            gd = GraphDef.parseFrom(in);
        } catch (InvalidProtocolBufferException e) {
            throw KilnException.invalidModel(file + " is neither a SavedModel directory nor a valid GraphDef .pb "
                    + "(truncated or corrupt): " + firstLine(e.getMessage()));
        } catch (RuntimeException e) {   // protobuf-java's stream parser throws some of these on corrupt input
            throw KilnException.invalidModel(file + " is neither a SavedModel directory nor a valid GraphDef .pb "
                    + "(truncated or corrupt): " + e, e);
        } catch (IOException e) {
            throw KilnException.io("cannot read " + file + ": " + e.getMessage(), e);
        }
        Limits.checkNodes(file.toString(), nodeCount(gd));
        if (gd.getNodeCount() == 0) {
            throw KilnException.invalidModel(file + " holds no graph nodes: not a frozen GraphDef");
        }
        return gd;
    }

    private static Graph loadFrozen(Path file, ImportOptions o) {
        GraphDef gd = GraphDefs.withoutDevices(readGraphDef(file));
        Flattener f = flatten(gd, o.recurrentLayers());
        Map<String, NodeDef> nodes = f.nodes;
        List<String> inNames = new ArrayList<>(o.inputNames());
        if (inNames.isEmpty()) {
            nodes.values().stream().filter(n -> n.getOp().equals("Placeholder")).forEach(n -> inNames.add(n.getName()));
        }
        List<String> outNames = new ArrayList<>(o.outputNames());
        if (outNames.isEmpty()) {
            outNames.addAll(sinks(f.resolvedNodes()));
        }
        // shapes by tensor ("x" and "x:0" name the same one)
        Map<String, Shape> shapes = new HashMap<>();
        o.inputShapes().forEach((k, v) -> shapes.put(TensorRef.parse(k).toString(), v));
        Set<String> inRefs = inNames.stream().map(n -> TensorRef.parse(n).toString()).collect(Collectors.toSet());
        for (String given : o.inputShapes().keySet()) {
            if (!inRefs.contains(TensorRef.parse(given).toString())) {
                throw new dev.kiln.KilnArgumentException("a shape is given for '" + given + "', which is not one of "
                        + "the inputs " + inNames);
            }
        }
        // an input cut at an inner tensor takes TensorFlow's inferred type unless a shape is given
        Map<String, TensorType> inferred = inNames.stream().allMatch(n -> nodes.containsKey(n)
                && nodes.get(n).getOp().startsWith("Placeholder")) ? Map.of() : inferredTypes(gd);
        List<SigEntry> ins = new ArrayList<>();
        for (String n : inNames) {
            SigEntry e = frozenEntry(n, nodes, file, "input", inferred);
            Shape given = shapes.get(TensorRef.parse(n).toString());
            if (given != null) {
                if (e.shape() != null && e.shape().hasRank() && !e.shape().isCompatibleWith(given)) {
                    throw new dev.kiln.KilnArgumentException(file + ": the shape given for input '" + n + "', "
                            + given + ", does not fit the graph's " + e.shape());
                }
                e = new SigEntry(e.name(), e.tensor(), e.dtype(), given);
                NodeDef nd = nodes.get(TensorRef.parse(n).node());
                if (nd.getOp().startsWith("Placeholder")) {
                    nodes.put(nd.getName(), nd.toBuilder().putAttr("shape", AttrValue.newBuilder()
                            .setShape(GraphDefs.toProto(given)).build()).build());
                }
            } else if (!nodes.get(TensorRef.parse(n).node()).getOp().startsWith("Placeholder")
                    && (e.shape() == null || !e.shape().hasRank())) {
                throw KilnException.invalidModel(file + ": input '" + n + "' is an inner tensor whose rank "
                        + "TensorFlow's shape inference cannot tell; give its shape, for instance --inputs "
                        + TensorRef.parse(n) + "[1,490] (-1 or ? for a dimension of any size)");
            }
            ins.add(e);
        }
        List<SigEntry> outs = new ArrayList<>();
        for (String n : outNames) {
            outs.add(frozenEntry(n, nodes, file, "output", Map.of()));
        }
        if (outs.isEmpty()) {
            throw KilnException.invalidModel(file + ": no outputs given and none could be inferred");
        }
        Graph g = build(f, ins, outs, gd, null, file.toString(), o.recurrentLayers());
        if (o.loadWeights()) {
            for (Node n : g.nodes()) {
                if (VARIABLE_OPS.contains(n.op())) {
                    throw KilnException.unsupported(file + " is not frozen: node '" + n.name() + "' is a variable ("
                            + n.op() + ") and a GraphDef file has no checkpoint to read it from; import the SavedModel "
                            + "instead, or use loadWeights=false for the graph only");
                }
            }
        }
        g.metadata().put("source", file.toString());
        g.metadata().put("format", "frozen_graph");
        g.metadata().put("signature", "serving_default");
        g.metadata().put("frozen", "true");
        return g;
    }

    private static SigEntry frozenEntry(String name, Map<String, NodeDef> nodes, Path file, String kind,
                                        Map<String, TensorType> inferred) {
        TensorRef r = TensorRef.parse(name);
        NodeDef nd = nodes.get(r.node());
        if (nd == null) {
            throw KilnException.invalidModel(file + ": " + kind + " '" + name + "' names no node of the graph; "
                    + "placeholders: " + nodes.values().stream().filter(n -> n.getOp().startsWith("Placeholder"))
                    .map(NodeDef::getName).collect(Collectors.joining(", ")));
        }
        DType dt = null;
        Shape s = null;
        if (nd.getOp().startsWith("Placeholder")) {
            dt = dtypeOf(nd.getAttrOrThrow("dtype").getTypeValue());
            s = nd.containsAttr("shape") ? GraphDefs.fromProto(nd.getAttrOrThrow("shape").getShape()) : null;
            if (dt == DType.STRING || dt == DType.RESOURCE) {
                throw KilnException.unsupported(file + ": input '" + name + "' is " + dt.name().toLowerCase()
                        + "-typed; Kiln optimizes numeric tensors only");
            }
        }
        TensorType t = inferred.get(r.node() + ":" + r.index());
        if (dt == null && t != null) {
            dt = t.dtype();
            s = t.shape();
            if (dt == DType.STRING || dt == DType.RESOURCE || dt == DType.VARIANT) {
                throw KilnException.unsupported(file + ": input '" + name + "' is " + dt.name().toLowerCase()
                        + "-typed; Kiln optimizes numeric tensors only: cut the graph after the string ops");
            }
        }
        String sigName = r.index() == 0 ? r.node() : r.node() + ":" + r.index();
        return new SigEntry(sigName, r.node() + ":" + r.index(), dt, s);
    }

    /** Nodes whose data outputs nobody reads, except constants, placeholders and ops without outputs. */
    private static List<String> sinks(List<NodeDef> nodes) {
        Set<String> consumed = new java.util.HashSet<>();
        for (NodeDef n : nodes) {
            for (String in : n.getInputList()) {
                if (!in.startsWith("^")) {
                    consumed.add(TensorRef.parse(in).node());
                }
            }
        }
        List<String> out = new ArrayList<>();
        for (NodeDef n : nodes) {
            String op = n.getOp();
            if (consumed.contains(n.getName()) || op.equals("Const") || op.startsWith("Placeholder")
                    || op.equals("NoOp") || op.equals("Assert") || NO_CONTROL_FOLLOW.contains(op)
                    || STATE_CHANGING.contains(op)) {
                continue;
            }
            out.add(n.getName());
        }
        return out;
    }

    // ---- the common part: prune, check, freeze, type ----

    interface Freezer {
        /** Values of the named variable nodes (VarHandleOp or VariableV2 in the top-level graph). */
        Map<String, Tensor> read(Map<String, NodeDef> variables);
    }

    private static Graph build(Flattener f, List<SigEntry> ins, List<SigEntry> outs, GraphDef original,
                               Freezer freezer, String source, RecurrentLayers recurrent) {
        if (recurrent == RecurrentLayers.AUTO && !f.keptCalls().isEmpty()) {
            expandKnownLengths(f, original, source);
        }
        Map<String, NodeDef> nodes = new LinkedHashMap<>();
        for (NodeDef nd : f.resolvedNodes()) {
            nodes.put(nd.getName(), nd);
        }
        // signature inputs become plain Placeholders
        List<SignatureTensor> sigIns = new ArrayList<>();
        Map<String, SigEntry> inByRef = new LinkedHashMap<>();
        for (SigEntry e : ins) {
            TensorRef r = TensorRef.parse(f.resolve(e.tensor()));
            NodeDef nd = nodes.get(r.node());
            if (nd == null) {
                throw KilnException.invalidModel(source + ": input '" + e.name() + "' maps to tensor '" + e.tensor()
                        + "', which is not in the graph");
            }
            if (!nd.getOp().equals("Placeholder") || r.index() != 0) {
                TensorRef p = placeholderFor(e, r, nd, nodes);
                r = p;
            }
            inByRef.put(r.toString(), e);
        }
        List<TensorRef> outRefs = new ArrayList<>();
        for (SigEntry e : outs) {
            TensorRef r = TensorRef.parse(f.resolve(e.tensor()));
            if (!nodes.containsKey(r.node())) {
                throw KilnException.invalidModel(source + ": output '" + e.name() + "' maps to tensor '" + e.tensor()
                        + "', which is not in the graph");
            }
            outRefs.add(r);
        }
        Set<String> inputNodes = new LinkedHashSet<>();
        inByRef.keySet().forEach(k -> inputNodes.add(TensorRef.parse(k).node()));
        nodes = prune(nodes, outRefs, inputNodes);
        if (ControlFlowLowering.needed(nodes.values())) {
            List<String> lowered = new ArrayList<>(outRefs.stream().map(TensorRef::toString).toList());
            nodes = ControlFlowLowering.lower(nodes, lowered, f.library(), original.getVersions(),
                    unknownShapeHint(ins), recurrent);
            outRefs = new ArrayList<>(lowered.stream().map(TensorRef::parse).toList());
            nodes = prune(nodes, outRefs, inputNodes);
        }
        check(nodes, f, freezer != null, source);
        if (freezer != null) {
            nodes = freeze(nodes, f, freezer, source);
            nodes = prune(nodes, outRefs, inputNodes);
        }
        // output types from TensorFlow's shape inference
        Graph g = new Graph();
        GraphDef.Builder flatBuilder = GraphDef.newBuilder().addAllNode(nodes.values())
                .setVersions(original.getVersions());
        // the functions that kept calls and control flow run, with every function they call
        for (FunctionDef fd : FunctionGraphs.calledFunctions(nodes.values(), f.library()).values()) {
            g.functions().put(fd.getSignature().getName(), fd.toByteArray());
            flatBuilder.getLibraryBuilder().addFunction(fd);
        }
        try {
            g.metadata().put(SHAPES_METADATA, addTyped(g, flatBuilder.build(), nodes.values()));
        } catch (IllegalArgumentException | TensorFlowException e) {
            throw KilnException.invalidModel("TensorFlow rejects the flattened graph of " + source + ": "
                    + firstLine(e.getMessage()));
        }
        for (Map.Entry<String, SigEntry> e : inByRef.entrySet()) {
            TensorRef r = TensorRef.parse(e.getKey());
            SigEntry s = e.getValue();
            if (!g.contains(r.node())) {
                continue; // an input the outputs do not need (a redundant input): still part of the signature
            }
            TensorType actual = g.typeOf(r);
            if (actual != null && (actual.dtype() == DType.STRING || actual.dtype() == DType.RESOURCE
                    || actual.dtype() == DType.VARIANT)) {
                throw KilnException.unsupported(source + ": input '" + s.name() + "' (" + s.tensor() + ") is "
                        + actual.dtype().name().toLowerCase() + "-typed in the graph"
                        + (s.dtype() != null && s.dtype() != actual.dtype() ? " although the signature declares "
                        + s.dtype().name().toLowerCase() : "") + "; Kiln optimizes numeric tensors only (string "
                        + "inputs such as serialized tf.Example for ParseExample cannot be optimized)");
            }
            if (actual != null && s.dtype() != null && actual.dtype() != s.dtype()) {
                throw KilnException.invalidModel(source + ": input '" + s.name() + "' (" + s.tensor()
                        + ") is declared " + s.dtype().name().toLowerCase() + " but the graph's tensor is "
                        + actual.dtype().name().toLowerCase());
            }
            sigIns.add(new SignatureTensor(s.name(), r, sigType(s, actual)));
        }
        // keep redundant inputs (unused placeholders) so the signature is unchanged
        for (Map.Entry<String, SigEntry> e : inByRef.entrySet()) {
            TensorRef r = TensorRef.parse(e.getKey());
            if (!g.contains(r.node())) {
                SigEntry s = e.getValue();
                DType dt = s.dtype() == null ? DType.FLOAT : s.dtype();
                Shape sh = s.shape() == null ? Shape.unknown() : s.shape();
                g.add(Node.builder(r.node(), "Placeholder").attr("dtype", dt)
                        .attr("shape", dev.kiln.graph.AttrValue.of(sh)).outputType(new TensorType(dt, sh)).build());
                sigIns.add(new SignatureTensor(s.name(), r, new TensorType(dt, sh)));
            }
        }
        g.setInputs(sigIns);
        for (int i = 0; i < outs.size(); i++) {
            TensorRef r = outRefs.get(i);
            g.addOutput(new SignatureTensor(outs.get(i).name(), r, sigType(outs.get(i), g.typeOf(r))));
        }
        FunctionGraphs.attach(g, f.library(), original.getVersions());
        g.metadata().put("producer", Integer.toString(original.getVersions().getProducer()));
        g.metadata().put("original_nodes", Integer.toString(original.getNodeCount() + original.getLibrary()
                .getFunctionList().stream().mapToInt(FunctionDef::getNodeDefCount).sum()));
        return g;
    }

    /**
     * Adds {@code nodes} to {@code g}, each with its output types from TensorFlow's shape inference over {@code gd}
     * (which holds them, and the functions they call). TensorFlow's refusal of {@code gd} is thrown as it comes, for
     * the caller to say which graph it was.
     */
    static String addTyped(Graph g, GraphDef gd, Iterable<NodeDef> nodes) {
        TfShapeInference.Result kiln = TfShapeInference.infer(gd);
        if (kiln.inferred()) {
            for (NodeDef nd : nodes) {
                g.add(GraphDefs.fromNodeDef(nd, kiln.types().get(nd.getName())));
            }
            return SHAPES_BY_KILN;
        }
        LOG.log(System.Logger.Level.DEBUG, () -> "typed by TensorFlow's shape inference: " + kiln.reason());
        TensorFlowInference tf = TensorFlowInference.of(gd);
        for (NodeDef nd : nodes) {
            g.add(GraphDefs.fromNodeDef(nd, tf.types(nd.getName())));
        }
        return "tensorflow (" + kiln.reason() + ")";
    }

    /**
     * Inlines every kept recurrent-layer call whose sequence length TensorFlow's shape inference knows, so that its loop
     * is unrolled like any other; calls over sequences of unknown length stay whole ({@link RecurrentLayers#AUTO}).
     */
    private static void expandKnownLengths(Flattener f, GraphDef original, String source) {
        GraphDef gd = GraphDef.newBuilder().addAllNode(f.resolvedNodes()).setVersions(original.getVersions())
                .setLibrary(original.getLibrary()).build();
        Map<String, Shape> sequences = sequenceShapes(f, gd);
        if (sequences == null) {
            return; // TensorFlow cannot shape the graph yet: the calls stay whole, and the full import reports problems
        }
        sequences.forEach((call, shape) -> {
            int timeAxis = f.keptCalls().get(call).timeMajor() ? 0 : 1;
            if (shape.hasRank() && shape.rank() == 3 && shape.dim(timeAxis) >= 0) {
                f.expand(call);
            }
        });
    }

    /**
     * The shape of each kept call's sequence input: from Kiln's shape inference where it types them all (the sequence
     * comes from plain ops, a signature input), else from TensorFlow's; null when TensorFlow cannot shape the graph.
     */
    private static Map<String, Shape> sequenceShapes(Flattener f, GraphDef gd) {
        Map<String, TensorRef> inputs = new LinkedHashMap<>();
        f.keptCalls().keySet().forEach(call -> inputs.put(call,
                TensorRef.parse(f.resolve(f.nodes.get(call).getInput(0)))));
        Map<String, List<TensorType>> kiln = TfShapeInference.inferWhatItCan(gd);
        if (inputs.values().stream().allMatch(x -> kiln.containsKey(x.node()) && x.index() < kiln.get(x.node()).size())) {
            Map<String, Shape> out = new LinkedHashMap<>();
            inputs.forEach((call, x) -> out.put(call, kiln.get(x.node()).get(x.index()).shape()));
            return out;
        }
        try {
            TensorFlowInference tf = TensorFlowInference.of(gd);
            Map<String, Shape> out = new LinkedHashMap<>();
            inputs.forEach((call, x) -> out.put(call, tf.shape(x.node(), x.index())));
            return out;
        } catch (IllegalArgumentException | TensorFlowException e) {
            return null;
        }
    }


    /**
     * The end of a refusal for control flow that a static shape would fix: which inputs have unknown dimensions
     * besides the batch, and the {@code --input-shapes} flag that gives them; empty when none has.
     */
    static String unknownShapeHint(List<SigEntry> ins) {
        List<String> unknown = new ArrayList<>();
        List<String> flags = new ArrayList<>();
        for (SigEntry e : ins) {
            Shape s = e.shape();
            if (s == null || !s.hasRank()) {
                unknown.add(e.name() + " (rank unknown)");
                flags.add(e.name() + "[d0,d1,...]");
                continue;
            }
            List<String> dims = new ArrayList<>();
            boolean missing = false;
            for (int i = 0; i < s.rank(); i++) {
                missing |= i > 0 && s.dim(i) < 0;
                dims.add(s.dim(i) >= 0 ? Long.toString(s.dim(i)) : i == 0 ? "-1" : "N");
            }
            if (missing) {
                unknown.add(e.name() + " " + s);
                flags.add(e.name() + "[" + String.join(",", dims) + "]");
            }
        }
        if (unknown.isEmpty()) {
            return "";
        }
        return "; inputs with unknown dimensions: " + String.join(", ", unknown) + "; give them with --input-shapes "
                + String.join(" ", flags) + " (N a fixed size, e.g. the number of time steps of an RNN)";
    }

    private static TensorType sigType(SigEntry s, TensorType inferred) {
        DType dt = s.dtype() != null ? s.dtype() : inferred != null ? inferred.dtype() : DType.FLOAT;
        Shape sh = s.shape() != null && s.shape().hasRank() ? s.shape()
                : inferred != null ? inferred.shape() : Shape.unknown();
        return new TensorType(dt, sh);
    }

    /** Makes the input tensor {@code r} a Placeholder (rewiring its readers) and returns the placeholder's ref. */
    private static TensorRef placeholderFor(SigEntry e, TensorRef r, NodeDef nd, Map<String, NodeDef> nodes) {
        if (nd.getOp().equals("PlaceholderWithDefault") && r.index() == 0) {
            NodeDef.Builder b = NodeDef.newBuilder().setName(nd.getName()).setOp("Placeholder")
                    .putAttr("dtype", nd.getAttrOrThrow("dtype"));
            if (nd.containsAttr("shape")) {
                b.putAttr("shape", nd.getAttrOrThrow("shape"));
            }
            nodes.put(nd.getName(), b.build());
            return r;
        }
        String name = e.name();
        for (int i = 1; nodes.containsKey(name); i++) {
            name = e.name() + "_" + i;
        }
        DataType dt = e.dtype() != null ? DataType.forNumber(e.dtype().tfCode()) : DataType.DT_FLOAT;
        NodeDef.Builder b = NodeDef.newBuilder().setName(name).setOp("Placeholder")
                .putAttr("dtype", AttrValue.newBuilder().setType(dt).build());
        if (e.shape() != null) {
            b.putAttr("shape", AttrValue.newBuilder().setShape(GraphDefs.toProto(e.shape())).build());
        }
        String from = r.toString();
        for (Map.Entry<String, NodeDef> ne : nodes.entrySet()) {
            NodeDef n = ne.getValue();
            if (n.getInputList().stream().anyMatch(in -> !in.startsWith("^") && TensorRef.parse(in).toString()
                    .equals(from))) {
                NodeDef.Builder nb = n.toBuilder().clearInput();
                for (String in : n.getInputList()) {
                    nb.addInput(!in.startsWith("^") && TensorRef.parse(in).toString().equals(from) ? name : in);
                }
                ne.setValue(nb.build());
            }
        }
        nodes.put(name, b.build());
        return TensorRef.of(name, 0);
    }

    /** The nodes the outputs need (data edges, and control edges onto side-effect-free ops); inputs stop the walk. */
    static Map<String, NodeDef> prune(Map<String, NodeDef> nodes, List<TensorRef> outs, Set<String> stop) {
        Set<String> keep = new LinkedHashSet<>();
        Deque<String> work = new ArrayDeque<>();
        outs.forEach(r -> work.add(r.node()));
        while (!work.isEmpty()) {
            String n = work.poll();
            if (!keep.add(n)) {
                continue;
            }
            NodeDef nd = nodes.get(n);
            if (nd == null || stop.contains(n)) {
                continue;
            }
            for (String in : nd.getInputList()) {
                TensorRef r = TensorRef.parse(in);
                NodeDef src = nodes.get(r.node());
                if (r.control() && (src == null || NO_CONTROL_FOLLOW.contains(src.getOp())
                        || STATE_CHANGING.contains(src.getOp()))) {
                    continue;
                }
                work.add(r.node());
            }
        }
        Map<String, NodeDef> out = new LinkedHashMap<>();
        for (NodeDef nd : nodes.values()) {
            if (!keep.contains(nd.getName())) {
                continue;
            }
            if (stop.contains(nd.getName())) {
                nd = nd.toBuilder().clearInput().build();
            }
            List<String> ins = nd.getInputList();
            if (ins.stream().anyMatch(in -> in.startsWith("^") && !keep.contains(in.substring(1)))) {
                NodeDef.Builder b = nd.toBuilder().clearInput();
                ins.stream().filter(in -> !in.startsWith("^") || keep.contains(in.substring(1))).forEach(b::addInput);
                nd = b.build();
            }
            out.put(nd.getName(), nd);
        }
        for (NodeDef nd : out.values()) {
            for (String in : nd.getInputList()) {
                if (!out.containsKey(TensorRef.parse(in).node())) {
                    throw KilnException.invalidModel("node '" + nd.getName() + "' (" + nd.getOp() + ") reads '" + in
                            + "', which is not in the graph");
                }
            }
        }
        return out;
    }

    private static void check(Map<String, NodeDef> nodes, Flattener f, boolean freezing, String source) {
        for (NodeDef nd : nodes.values()) {
            String op = nd.getOp();
            String fn = f.origin.getOrDefault(nd.getName(), "");
            String in = fn.isEmpty() ? "the graph" : "function " + fn;
            if (TfOpSupport.isControlFlow(op) && !FunctionGraphs.isKeptControlFlow(op)) {
                throw KilnException.unsupported("unsupported control flow in " + (fn.isEmpty() ? "the top-level graph"
                        : fn) + ": node '" + nd.getName() + "' is " + op + " (TF1 control flow; Kiln lowers TF2's "
                        + "functional While/If/Case and TensorList ops only) (" + source + ")");
            }
            if (!TfOpSupport.isRegistered(op)) {
                throw KilnException.unsupported("op " + op + " (node '" + nd.getName() + "' in " + in + " of " + source
                        + ") is not a TensorFlow op Kiln can handle; nodes that depend on it: "
                        + dependents(nodes, nd.getName()));
            }
            if (STATE_CHANGING.contains(op)) {
                throw KilnException.unsupported("node '" + nd.getName() + "' (" + op + ") in " + in + " of " + source
                        + " changes variable state; a stateful computation cannot be frozen into an inference "
                        + "graph; nodes that depend on it: " + dependents(nodes, nd.getName()));
            }
            boolean keptWhole = nd.containsAttr(dev.kiln.graph.RecurrentCall.KIND_ATTR)
                    || FunctionGraphs.isKeptControlFlow(op);
            for (Map.Entry<String, AttrValue> a : nd.getAttrMap().entrySet()) {
                if (!keptWhole && a.getValue().hasFunc() || a.getValue().getList().getFuncCount() > 0) {
                    throw KilnException.unsupported("op " + op + " (node '" + nd.getName() + "' in " + in + " of "
                            + source + ") takes a function attribute '" + a.getKey() + "'; Kiln inlines only "
                            + "PartitionedCall/StatefulPartitionedCall; nodes that depend on it: "
                            + dependents(nodes, nd.getName()));
                }
            }
            if (freezing) {
                for (String input : nd.getInputList()) {
                    TensorRef r = TensorRef.parse(input);
                    NodeDef src = nodes.get(r.node());
                    boolean gatherParams = op.equals("ResourceGather") && input.equals(nd.getInput(0));
                    if (!r.control() && src != null && src.getOp().equals("VarHandleOp")
                            && !op.equals("ReadVariableOp") && !gatherParams) {
                        throw KilnException.unsupported("op " + op + " (node '" + nd.getName() + "' in " + in + " of "
                                + source + ") uses variable '" + src.getName() + "' directly; Kiln freezes variables "
                                + "read by ReadVariableOp or ResourceGather only; nodes that depend on it: "
                                + dependents(nodes, nd.getName()));
                    }
                }
            }
        }
    }

    /** Up to 8 nodes downstream of {@code name}, for error messages. */
    static String dependents(Map<String, NodeDef> nodes, String name) {
        Map<String, List<String>> users = new HashMap<>();
        for (NodeDef nd : nodes.values()) {
            for (String in : nd.getInputList()) {
                users.computeIfAbsent(TensorRef.parse(in).node(), k -> new ArrayList<>()).add(nd.getName());
            }
        }
        Set<String> seen = new LinkedHashSet<>();
        Deque<String> work = new ArrayDeque<>(users.getOrDefault(name, List.of()));
        while (!work.isEmpty() && seen.size() < 50) {
            String n = work.poll();
            if (seen.add(n)) {
                work.addAll(users.getOrDefault(n, List.of()));
            }
        }
        if (seen.isEmpty()) {
            return "none (it is an output)";
        }
        List<String> l = new ArrayList<>(seen);
        return String.join(", ", l.subList(0, Math.min(8, l.size()))) + (l.size() > 8 ? " and " + (l.size() - 8)
                + " more" : "");
    }

    /**
     * Replaces VariableV2 nodes and ReadVariableOp(VarHandleOp) reads by Consts holding the checkpoint values, and a
     * ResourceGather of a variable (Keras' Embedding in a TF2 SavedModel) by a GatherV2 of that Const.
     */
    private static Map<String, NodeDef> freeze(Map<String, NodeDef> nodes, Flattener f, Freezer freezer,
                                               String source) {
        Map<String, NodeDef> vars = new LinkedHashMap<>();
        for (NodeDef nd : nodes.values()) {
            if (VARIABLE_OPS.contains(nd.getOp())) {
                if (!f.origin.getOrDefault(nd.getName(), "").isEmpty()) {
                    throw KilnException.unsupported("variable '" + nd.getName() + "' is created inside function "
                            + f.origin.get(nd.getName()) + " of " + source + "; Kiln freezes variables of the "
                            + "top-level graph only");
                }
                vars.put(nd.getName(), nd);
            }
        }
        if (vars.isEmpty()) {
            return nodes;
        }
        Map<String, Tensor> values = freezer.read(vars);
        Map<String, NodeDef> out = new LinkedHashMap<>();
        for (NodeDef nd : nodes.values()) {
            NodeDef repl = nd;
            if (nd.getOp().equals("VariableV2") || nd.getOp().equals("Variable")) {
                repl = constNode(nd.getName(), values.get(nd.getName()));
            } else if (nd.getOp().equals("ReadVariableOp")) {
                String h = TensorRef.parse(nd.getInput(0)).node();
                if (vars.containsKey(h)) {
                    repl = constNode(nd.getName(), values.get(h));
                }
            } else if (nd.getOp().equals("ResourceGather") && vars.containsKey(TensorRef.parse(nd.getInput(0)).node())) {
                // the same gather on the frozen value: GatherV2(params, indices, axis 0), batch_dims kept
                Tensor params = values.get(TensorRef.parse(nd.getInput(0)).node());
                NodeDef value = constNode(nd.getName() + "/kiln_frozen_params", params);
                NodeDef axis = constNode(nd.getName() + "/kiln_axis", Tensor.scalar(0));
                out.put(value.getName(), value);
                out.put(axis.getName(), axis);
                NodeDef.Builder g = NodeDef.newBuilder().setName(nd.getName()).setOp("GatherV2")
                        .addInput(value.getName()).addInput(nd.getInput(1)).addInput(axis.getName())
                        .putAttr("Tparams", AttrValue.newBuilder().setTypeValue(params.dtype().tfCode()).build())
                        .putAttr("Tindices", nd.getAttrOrThrow("Tindices"))
                        .putAttr("Taxis", AttrValue.newBuilder().setType(DataType.DT_INT32).build())
                        .putAttr("batch_dims", AttrValue.newBuilder().setI(nd.getAttrMap().containsKey("batch_dims")
                                ? nd.getAttrOrThrow("batch_dims").getI() : 0).build());
                nd.getInputList().stream().skip(2).forEach(g::addInput); // control inputs
                repl = g.build();
            }
            out.put(repl.getName(), repl);
        }
        return out;
    }

    private static NodeDef constNode(String name, Tensor value) {
        return NodeDef.newBuilder().setName(name).setOp("Const")
                .putAttr("dtype", AttrValue.newBuilder().setTypeValue(value.dtype().tfCode()).build())
                .putAttr("value", AttrValue.newBuilder().setTensor(GraphDefs.toProto(value)).build()).build();
    }

    /** {@code -Dkiln.checkpoint=tensorflow}: read variables through TensorFlow's restore op, not the files directly. */
    static final String CHECKPOINT_READER_PROPERTY = "kiln.checkpoint";

    /**
     * The values of the named variables: read from the checkpoint files directly where every variable matches a
     * checkpoint entry of its dtype and shape (no copy of the weights in TensorFlow), else through TensorFlow.
     */
    private static Map<String, Tensor> readVariables(Path dir, MetaGraphDef mg, Map<String, NodeDef> vars) {
        checkVariableFiles(dir);
        if (!"tensorflow".equals(System.getProperty(CHECKPOINT_READER_PROPERTY))) {
            Map<String, Tensor> direct = readFromBundle(dir, vars);
            if (direct != null) {
                return direct;
            }
        }
        return restoreThroughTensorFlow(dir, mg, vars);
    }

    /** The variables straight from the tensor bundle, or null where one cannot be matched with certainty. */
    static Map<String, Tensor> readFromBundle(Path dir, Map<String, NodeDef> vars) {
        TensorBundle bundle;
        try {
            bundle = TensorBundle.open(dir.resolve("variables").resolve("variables"));
        } catch (KilnException e) {
            if (e.code() == dev.kiln.ErrorCode.UNSUPPORTED) {
                return null; // an older format (snappy-compressed index blocks, big-endian): TensorFlow reads it
            }
            throw e;
        }
        Map<String, String> keysByName = bundle.keysByVariableName();
        Map<String, Tensor> out = new HashMap<>();
        for (NodeDef nd : vars.values()) {
            AttrValue shared = nd.getAttrMap().get("shared_name");
            String name = shared != null && !shared.getS().isEmpty() ? shared.getS().toStringUtf8() : nd.getName();
            String key = keysByName.getOrDefault(name, name);
            if (key == null || !bundle.supports(key)) {
                return null;
            }
            org.tensorflow.proto.BundleEntryProto e = bundle.entries().get(key);
            AttrValue dtype = nd.getAttrMap().get("dtype");
            AttrValue shape = nd.getAttrMap().get("shape");
            if (dtype == null || dtype.getTypeValue() != e.getDtypeValue() || shape != null
                    && !GraphDefs.fromProto(shape.getShape()).isCompatibleWith(GraphDefs.fromProto(e.getShape()))) {
                return null;
            }
            out.put(nd.getName(), bundle.read(key));
        }
        return out;
    }

    /** Loads the SavedModel through TF Java and reads the named variables' values. */
    static Map<String, Tensor> restoreThroughTensorFlow(Path dir, MetaGraphDef mg, Map<String, NodeDef> vars) {
        try (SavedModelSession sm = SavedModelSession.open(dir, mg)) {
            org.tensorflow.Graph tfg = sm.graph;
            Session.Runner runner = sm.session.runner();
            List<String> names = new ArrayList<>(vars.keySet());
            int k = 0;
            for (String name : names) {
                NodeDef nd = vars.get(name);
                GraphOperation op = tfg.operation(name);
                if (op == null) {
                    throw KilnException.invalidModel("variable '" + name + "' of " + dir
                            + " is not in the loaded graph");
                }
                if (nd.getOp().equals("VarHandleOp")) {
                    GraphOperation read = (GraphOperation) tfg.opBuilder("ReadVariableOp", "kiln_freeze/read_" + k++,
                            tfg.baseScope()).addInput(op.output(0)).setAttr("dtype",
                            DataType.forNumber(nd.getAttrOrThrow("dtype").getTypeValue())).build();
                    runner.fetch(read.output(0));
                } else {
                    runner.fetch(op.output(0));
                }
            }
            Map<String, Tensor> out = new HashMap<>();
            try (Result r = runner.run()) {
                for (int i = 0; i < names.size(); i++) {
                    out.put(names.get(i), TfTensors.fromTf(r.get(i)));
                }
            } catch (TensorFlowException e) {
                throw KilnException.invalidModel("cannot read the variables " + names + " of " + dir + ": "
                        + firstLine(e.getMessage()));
            }
            return out;
        }
    }

    /** Fails with a clear message when the checkpoint files a SavedModel with variables needs are missing. */
    static void checkVariableFiles(Path dir) {
        Path vdir = dir.resolve("variables");
        Path index = vdir.resolve("variables.index");
        if (!Files.isRegularFile(index)) {
            throw KilnException.invalidModel("missing variables data: " + index + " does not exist, so the weights of "
                    + dir + " cannot be read (import with loadWeights=false to read the graph only)");
        }
        int shards = -1;
        Set<String> present = new TreeSet<>();
        try (DirectoryStream<Path> s = Files.newDirectoryStream(vdir, "variables.data-*-of-*")) {
            for (Path p : s) {
                String n = p.getFileName().toString();
                present.add(n);
                shards = Integer.parseInt(n.substring(n.lastIndexOf("-of-") + 4));
            }
        } catch (IOException | NumberFormatException e) {
            throw KilnException.invalidModel("cannot list " + vdir + ": " + e.getMessage());
        }
        if (shards < 0) {
            throw KilnException.invalidModel("missing variables data: " + vdir.resolve("variables.data-00000-of-00001")
                    + " does not exist (only " + listing(vdir) + "), so the weights of " + dir + " cannot be read "
                    + "(import with loadWeights=false to read the graph only)");
        }
        for (int i = 0; i < shards; i++) {
            String n = String.format("variables.data-%05d-of-%05d", i, shards);
            if (!present.contains(n)) {
                throw KilnException.invalidModel("missing variables data: " + vdir.resolve(n) + " does not exist, so "
                        + "the weights of " + dir + " cannot be read");
            }
        }
    }

    static String firstLine(String s) {
        if (s == null) {
            return "(no message)";
        }
        s = s.strip();
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}
