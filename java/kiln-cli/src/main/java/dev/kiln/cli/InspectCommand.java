package dev.kiln.cli;

import dev.kiln.pipeline.*;
import dev.kiln.KilnException;
import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.onnx.Int8Saturation;
import dev.kiln.onnx.OnnxExporter;
import dev.kiln.onnx.OnnxModelSummary;
import dev.kiln.onnx.OnnxOpSupport;
import dev.kiln.onnx.OnnxReader;
import dev.kiln.onnx.OnnxSparsity;
import dev.kiln.onnx.proto.Onnx.ModelProto;
import dev.kiln.sparse.SparsityCheck;
import dev.kiln.tensorflow.ImportOptions;
import dev.kiln.tensorflow.ModelDescription;
import dev.kiln.tensorflow.TfImporter;
import dev.kiln.tensorflow.TfOpSupport;
import dev.kiln.tensorrt.TensorRtOnnxSupport;
import dev.kiln.tflite.Lowerings;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code kiln inspect MODEL}: tags, signatures, op histogram, parameters, and for each op whether each exporter
 * supports it.
 */
@Command(name = "inspect", mixinStandardHelpOptions = true,
        description = "Show a model's tags, signatures, ops, parameters, and which exporters support each op.")
final class InspectCommand implements Callable<Integer> {

    /** The most node problems printed in the console (all of them are in --json). */
    private static final int MAX_PRINTED_PROBLEMS = 20;

    @Parameters(index = "0", paramLabel = "MODEL", description = "SavedModel directory, frozen GraphDef .pb or .onnx")
    Path model;

    @Option(names = "--json", description = "machine-readable output")
    boolean json;

    @Option(names = "--sparsity", description = "per prunable layer: its sparsity and whether it satisfies 2:4")
    boolean sparsity;

    @Mixin
    ModelOptions modelOptions;

    /**
     * What inspect reports, also as JSON. {@code signature} is the signature whose graph was imported; where none
     * could be (several signatures and no default, ops or inputs Kiln refuses), it is empty, {@code graphNote} says
     * why, and {@code nodes} and {@code ops} count the whole file, function bodies included. {@code shapeInference}
     * says whose shape inference typed the graph: "kiln", or "tensorflow (why Kiln could not)".
     */
    record InspectReport(String model, String format, List<ModelDescription.MetaGraph> metaGraphs, String signature,
                         String graphNote, String shapeInference, boolean weightsLoaded, String weightsNote, int nodes,
                         long parameters,
                         Map<String, Long> constantBytesByDtype, List<OpSupport> ops,
                         TensorRtOnnxSupport.Report tensorrt, String tensorrtNote) { }

    /**
     * One op type: how many nodes, and whether SavedModel, ONNX, TensorRT (via ONNX: every ONNX op of its lowering in
     * TensorRT's support table) and TFLite exports support it.
     */
    record OpSupport(String op, int count, boolean savedModel, boolean onnx, String onnxMapping, boolean tensorrt,
                     boolean tflite) { }

    /** What inspect reports for an ONNX file, also as JSON. */
    record OnnxInspectReport(String model, String format, OnnxModelSummary summary, Map<String, String> metadata,
                             Int8Saturation saturation, TensorRtOnnxSupport.Report tensorrt) { }

    @Override
    public Integer call() {
        if (model.getFileName() != null && model.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".onnx")) {
            return sparsity ? inspectSparsity(OnnxSparsity.of(OnnxReader.read(model))) : inspectOnnx();
        }
        if (sparsity) {
            return inspectSparsity(SparsityCheck.of(TfImporter.load(model, modelOptions.importOptions())));
        }
        ModelDescription description = TfImporter.describe(model);
        ImportOptions opts = modelOptions.importOptions();
        // the graph of one signature, with its weights where they load; failing that, the op histogram of the file
        Graph graph = null;
        boolean weights = false;
        String weightsNote = "";
        String graphNote = "";
        try {
            graph = TfImporter.load(model, opts);
            weights = true;
        } catch (KilnException e) {
            weightsNote = e.getMessage();
            try {
                graph = TfImporter.load(model, opts.toBuilder().loadWeights(false).build());
            } catch (KilnException graphOnly) {
                graphNote = graphOnly.getMessage();
            }
        }
        Map<String, Integer> histogram = graph != null ? graph.opHistogram()
                : TfImporter.fileOpHistogram(model, opts.tags());
        List<OpSupport> ops = new ArrayList<>();
        for (Map.Entry<String, Integer> e : histogram.entrySet()) {
            String op = e.getKey();
            OnnxOpSupport.Mapping m = OnnxOpSupport.mapping(op);
            boolean onnx = m != null;
            boolean trt = onnx && tensorRtTakes(m.onnxOps());
            ops.add(new OpSupport(op, e.getValue(), TfOpSupport.canExportToSavedModel(op), onnx,
                    onnx ? m.onnxOps() : "", trt, Lowerings.isSupported(op)));
        }
        Map<String, Long> bytes = new LinkedHashMap<>();
        if (graph != null) {
            for (Map.Entry<DType, Long> e : graph.constantBytesByType().entrySet()) {
                bytes.put(e.getKey().name().toLowerCase(Locale.ROOT), e.getValue());
            }
        }
        // per node, on the FP32 ONNX export of the graph: what TensorRT's ONNX parser would refuse
        TensorRtOnnxSupport.Report tensorrt = null;
        String tensorrtNote = "";
        if (graph != null && weights) {
            try {
                tensorrt = TensorRtOnnxSupport.check(OnnxExporter.fp32().toModel(graph));
            } catch (KilnException e) {
                tensorrtNote = "no ONNX export to check: " + e.getMessage();
            }
        } else {
            tensorrtNote = "no ONNX export to check: the graph's weights did not load";
        }
        InspectReport r = graph != null
                ? new InspectReport(model.toString(), description.format(), description.metaGraphs(),
                graph.metadata().getOrDefault("signature", ""), "",
                graph.metadata().getOrDefault(TfImporter.SHAPES_METADATA, ""), weights, weightsNote, graph.size(),
                graph.parameterCount(), bytes, ops, tensorrt, tensorrtNote)
                : new InspectReport(model.toString(), description.format(), description.metaGraphs(), "", graphNote,
                "", false, weightsNote, histogram.values().stream().mapToInt(Integer::intValue).sum(), 0, bytes, ops,
                null, tensorrtNote);
        if (json) {
            System.out.println(Reports.toJson(r));
        } else {
            print(r);
        }
        return 0;
    }

    /** What {@code --sparsity} reports, also as JSON. */
    record SparsityReport(String model, List<SparsityCheck.Row> layers) { }

    private int inspectSparsity(List<SparsityCheck.Row> layers) {
        SparsityReport r = new SparsityReport(model.toString(), layers);
        if (json) {
            System.out.println(Reports.toJson(r));
            return 0;
        }
        System.out.printf(Locale.ROOT, "  %-32s %-22s %-18s %9s  %s%n", "layer", "op", "shape", "sparsity", "2:4");
        for (SparsityCheck.Row l : r.layers()) {
            String nm = l.satisfiesNM() == null ? "n/a (in channels not a multiple of 4)"
                    : l.satisfiesNM() ? "satisfied" : "NOT satisfied";
            System.out.printf(Locale.ROOT, "  %-32s %-22s %-18s %8.2f%%  %s%n", l.layer(), l.op(),
                    Arrays.toString(l.shape()), 100 * l.sparsity(), nm);
        }
        return 0;
    }

    private int inspectOnnx() {
        ModelProto m = OnnxReader.read(model);
        Map<String, String> metadata = new LinkedHashMap<>();
        m.getMetadataPropsList().forEach(p -> metadata.put(p.getKey(), p.getValue()));
        OnnxInspectReport r = new OnnxInspectReport(model.toString(), "onnx", OnnxReader.summarize(m), metadata,
                Int8Saturation.check(m), TensorRtOnnxSupport.check(m));
        if (json) {
            System.out.println(Reports.toJson(r));
            return 0;
        }
        OnnxModelSummary s = r.summary();
        System.out.println("model      " + r.model() + "  (ONNX IR " + s.irVersion() + ", opsets " + s.opsets()
                + ", producer " + s.producer().trim() + ")");
        metadata.forEach((k, v) -> System.out.println("metadata   " + k + " = " + v));
        s.inputs().forEach(i -> System.out.println("  in   " + i));
        s.outputs().forEach(o -> System.out.println("  out  " + o));
        System.out.println("initializers " + s.initializers().size());
        System.out.println("ops        " + s.ops());
        System.out.println(r.saturation().summary());
        for (Int8Saturation.Layer l : r.saturation().atRisk()) {
            System.out.printf(Locale.ROOT, "  at risk  %-32s %-8s %d of %d channels, largest |w1|+|w2| = %d > %d%n",
                    l.node(), l.op(), l.channelsAtRisk(), l.channels(), l.worstPairSum(),
                    Int8Saturation.MAX_SAFE_PAIR_SUM);
        }
        r.saturation().undetermined().forEach(u -> System.out.println("  cannot tell  " + u));
        printTensorRt(r.tensorrt());
        return 0;
    }

    /** Whether TensorRT's parser has every ONNX op named in a lowering's description ("Conv (NCHW …)", "Mul, Add"). */
    static boolean tensorRtTakes(String onnxOps) {
        for (String word : onnxOps.split("[^A-Za-z0-9]+")) {
            TensorRtOnnxSupport.Operator o = TensorRtOnnxSupport.operator(word);
            if (o != null && !o.supported()) {
                return false;
            }
        }
        return true;
    }

    private static void printTensorRt(TensorRtOnnxSupport.Report t) {
        System.out.println(t.summary());
        List<TensorRtOnnxSupport.NodeProblem> ps = t.problems();
        for (int i = 0; i < Math.min(ps.size(), MAX_PRINTED_PROBLEMS); i++) {
            System.out.println("  not built  " + ps.get(i));
        }
        if (ps.size() > MAX_PRINTED_PROBLEMS) {
            System.out.println("  … and " + (ps.size() - MAX_PRINTED_PROBLEMS) + " more (--json lists them all)");
        }
    }

    private static void print(InspectReport r) {
        System.out.println("model      " + r.model() + "  (" + r.format() + ")");
        for (ModelDescription.MetaGraph mg : r.metaGraphs()) {
            System.out.println("tags       " + mg.tags() + "  TensorFlow " + mg.tensorflowVersion() + ", "
                    + mg.nodeCount() + " nodes, " + mg.functionCount() + " functions");
            for (ModelDescription.SignatureInfo s : mg.signatures()) {
                System.out.println("  signature " + s.key() + (s.methodName().isEmpty() ? "" : "  (" + s.methodName()
                        + ")"));
                for (ModelDescription.TensorInfo t : s.inputs()) {
                    System.out.println("    in   " + t);
                }
                for (ModelDescription.TensorInfo t : s.outputs()) {
                    System.out.println("    out  " + t);
                }
            }
        }
        System.out.println();
        if (r.signature().isEmpty()) {
            System.out.println("whole file: " + r.nodes() + " nodes, function bodies included (no signature's graph "
                    + "imported: " + r.graphNote() + ")");
        } else {
            System.out.println("graph of signature '" + r.signature() + "' (functions inlined, variables frozen): "
                    + r.nodes() + " nodes");
            System.out.println("shapes     inferred by " + (r.shapeInference().equals(TfImporter.SHAPES_BY_KILN)
                    ? "Kiln (TensorFlow's native library not needed)"
                    : r.shapeInference().replaceFirst("^tensorflow", "TensorFlow")));
            if (r.weightsLoaded()) {
                System.out.printf(Locale.ROOT, "parameters %,d  bytes by dtype %s%n", r.parameters(),
                        r.constantBytesByDtype());
            } else {
                System.out.println("weights    not loaded: " + r.weightsNote());
            }
        }
        System.out.println();
        System.out.printf(Locale.ROOT, "  %-28s %6s  %-10s %-5s %-8s %-6s  %s%n", "op", "count", "SavedModel", "ONNX",
                "TensorRT", "TFLite", "ONNX mapping");
        for (OpSupport o : r.ops()) {
            System.out.printf(Locale.ROOT, "  %-28s %6d  %-10s %-5s %-8s %-6s  %s%n", o.op(), o.count(),
                    yes(o.savedModel()), yes(o.onnx()), yes(o.tensorrt()), yes(o.tflite()), o.onnxMapping());
        }
        System.out.println();
        if (r.tensorrt() != null) {
            System.out.println("FP32 ONNX export, node by node:");
            printTensorRt(r.tensorrt());
        } else {
            System.out.println("TensorRT, node by node: " + r.tensorrtNote());
        }
    }

    private static String yes(boolean b) {
        return b ? "yes" : "NO";
    }
}
