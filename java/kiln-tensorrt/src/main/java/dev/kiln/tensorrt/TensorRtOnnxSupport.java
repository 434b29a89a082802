package dev.kiln.tensorrt;

import dev.kiln.ErrorCode;
import dev.kiln.KilnException;
import dev.kiln.onnx.OnnxTensors;
import dev.kiln.onnx.proto.Onnx.AttributeProto;
import dev.kiln.onnx.proto.Onnx.GraphProto;
import dev.kiln.onnx.proto.Onnx.ModelProto;
import dev.kiln.onnx.proto.Onnx.NodeProto;
import dev.kiln.onnx.proto.Onnx.OperatorSetIdProto;
import dev.kiln.onnx.proto.Onnx.TensorProto;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Whether TensorRT's ONNX parser builds each node of an ONNX model, before any GPU is involved: the operator, the
 * element type of its data tensor, and the restrictions that can be read off the file (constant axes, resize modes,
 * zero points, pooling dilations …). The table is TensorRT 10.15's published operator support matrix (the version
 * of the JavaCPP presets Kiln builds engines with), kept as data in {@code onnx-operators-10.15.tsv}.
 *
 * <p>A node whose data type cannot be worked out from the file (no value_info, an op whose output type this class
 * does not derive) is judged on its operator and restrictions alone. Thread-safe: the table is read once.
 */
public final class TensorRtOnnxSupport {
    /** The TensorRT version whose table this is. */
    public static final String TENSORRT_VERSION = "10.15";
    /** The default-domain opsets that TensorRT 10.15's parser accepts, inclusive. */
    public static final int MIN_OPSET = 9;
    public static final int MAX_OPSET = 24;

    /** One row of the support matrix: the element types TensorRT builds the op for (empty: not at all). */
    public record Operator(String op, Set<String> types, String restriction) {
        public boolean supported() {
            return !types.isEmpty();
        }
    }

    /** Why a node would not build. */
    public enum Problem {
        /** TensorRT has no importer for the operator. */
        OPERATOR,
        /** The operator is supported, not for this element type. */
        ELEMENT_TYPE,
        /** A restriction of the table that this node breaks (an attribute, a non-constant input, an output used). */
        RESTRICTION
    }

    /** One node TensorRT would refuse, with the reason. */
    public record NodeProblem(String node, String op, String elementType, Problem problem, String reason) {
        @Override
        public String toString() {
            return "'" + node + "' (" + op + (elementType.isEmpty() ? "" : ", " + elementType) + "): " + reason;
        }
    }

    /**
     * The verdict on a whole model: how many nodes were checked, the opset problem if any, and every node TensorRT
     * would refuse. {@code unsupportedOps} counts the refused nodes by operator.
     */
    public record Report(String tensorrtVersion, int opset, String opsetProblem, int nodes, List<NodeProblem> problems,
                         Map<String, Integer> unsupportedOps) {
        public boolean buildable() {
            return opsetProblem.isEmpty() && problems.isEmpty();
        }

        /** One line: "TensorRT 10.15 ONNX parser: all 42 nodes supported" or what is not. */
        public String summary() {
            if (buildable()) {
                return "TensorRT " + tensorrtVersion + " ONNX parser: all " + nodes + " nodes supported (opset "
                        + opset + ")";
            }
            StringBuilder b = new StringBuilder("TensorRT " + tensorrtVersion + " ONNX parser: ");
            if (!opsetProblem.isEmpty()) {
                b.append(opsetProblem).append(problems.isEmpty() ? "" : "; ");
            }
            if (!problems.isEmpty()) {
                b.append(problems.size()).append(" of ").append(nodes).append(" nodes not supported ")
                        .append(unsupportedOps);
            }
            return b.toString();
        }
    }

    private static final Map<String, Operator> TABLE = readTable();

    private TensorRtOnnxSupport() {
    }

    /** The table's row for an ONNX operator of the default domain, or null where the table does not list it. */
    public static Operator operator(String onnxOp) {
        return TABLE.get(onnxOp);
    }

    /** Whether TensorRT builds the operator for at least one type (an op the table does not list: no). */
    public static boolean supportsOperator(String onnxOp) {
        Operator o = TABLE.get(onnxOp);
        return o != null && o.supported();
    }

    /** Every operator of the table, by name. */
    public static Map<String, Operator> table() {
        return Collections.unmodifiableMap(TABLE);
    }

    /** Checks every node of the model's main graph and of its If/Loop/Scan bodies. */
    public static Report check(ModelProto model) {
        int opset = 0;
        for (OperatorSetIdProto o : model.getOpsetImportList()) {
            if (o.getDomain().isEmpty() || o.getDomain().equals("ai.onnx")) {
                opset = (int) o.getVersion();
            }
        }
        String opsetProblem = opset < MIN_OPSET || opset > MAX_OPSET
                ? "opset " + opset + " is outside the parser's range " + MIN_OPSET + " to " + MAX_OPSET : "";
        GraphProto g = model.getGraph();
        List<NodeProblem> problems = new ArrayList<>();
        Map<String, Integer> byOp = new TreeMap<>();
        checkGraph(g, "", Set.of(), Set.of(), problems, byOp);
        return new Report(TENSORRT_VERSION, opset, opsetProblem, g.getNodeCount(), problems, byOp);
    }

    /**
     * Checks every node of {@code g}, then the nodes of its If/Loop/Scan bodies, whose problems are named
     * {@code <node>/<attribute>/<body node>}. A body sees the constants and shape tensors of the graphs around it.
     */
    private static void checkGraph(GraphProto g, String prefix, Set<String> outerConstants,
                                   Set<String> outerShapeTensors, List<NodeProblem> problems, Map<String, Integer> byOp) {
        OnnxElementTypes types = OnnxElementTypes.of(g);
        Set<String> constants = new LinkedHashSet<>(outerConstants);
        Map<String, TensorProto> initializers = new LinkedHashMap<>();
        for (TensorProto t : g.getInitializerList()) {
            constants.add(t.getName());
            initializers.put(t.getName(), t);
        }
        Set<String> consumed = new LinkedHashSet<>();
        for (NodeProto n : g.getNodeList()) {
            consumed.addAll(n.getInputList());
            if (n.getOpType().equals("Constant")) {
                constants.addAll(n.getOutputList());
            }
        }
        g.getOutputList().forEach(o -> consumed.add(o.getName()));
        Set<String> shapeTensors = shapeTensors(g, constants);
        shapeTensors.addAll(outerShapeTensors);
        for (NodeProto n : g.getNodeList()) {
            NodeProblem p = checkNode(n, types, constants, shapeTensors, initializers, consumed);
            if (p != null) {
                problems.add(prefix.isEmpty() ? p : new NodeProblem(prefix + p.node(), p.op(), p.elementType(),
                        p.problem(), p.reason()));
                byOp.merge(n.getOpType(), 1, Integer::sum);
            }
            String name = n.getName().isEmpty() ? (n.getOutputCount() > 0 ? n.getOutput(0) : n.getOpType())
                    : n.getName();
            for (AttributeProto a : n.getAttributeList()) {
                if (a.hasG()) {
                    checkGraph(a.getG(), prefix + name + "/" + a.getName() + "/", constants, shapeTensors, problems,
                            byOp);
                }
            }
        }
    }

    /** Ops through which a value computed from input shapes stays one (TensorRT's shape tensors). */
    private static final Set<String> SHAPE_ARITHMETIC = Set.of("Cast", "Gather", "Slice", "Squeeze", "Unsqueeze",
            "Concat", "Reshape", "Identity", "Add", "Sub", "Mul", "Div", "Max", "Min");

    /**
     * The values known once the input shapes are: constants, Shape's outputs, and what shape arithmetic makes of them
     * (TensorRT computes these as shape tensors, before running the network).
     */
    private static Set<String> shapeTensors(GraphProto g, Set<String> constants) {
        Set<String> out = new LinkedHashSet<>(constants);
        for (NodeProto n : g.getNodeList()) {
            boolean fromShapes = n.getOpType().equals("Shape") || SHAPE_ARITHMETIC.contains(n.getOpType())
                    && n.getInputList().stream().allMatch(in -> in.isEmpty() || out.contains(in));
            if (fromShapes) {
                out.addAll(n.getOutputList());
            }
        }
        return out;
    }

    private static NodeProblem checkNode(NodeProto n, OnnxElementTypes types, Set<String> constants,
                                         Set<String> shapeTensors, Map<String, TensorProto> initializers,
                                         Set<String> consumed) {
        String op = n.getOpType();
        String name = n.getName().isEmpty() ? (n.getOutputCount() > 0 ? n.getOutput(0) : op) : n.getName();
        boolean defaultDomain = n.getDomain().isEmpty() || n.getDomain().equals("ai.onnx");
        Operator row = defaultDomain ? TABLE.get(op) : null;
        if (row == null || !row.supported()) {
            String why = !defaultDomain ? "operator of domain '" + n.getDomain() + "' (TensorRT needs a plugin for it)"
                    : row == null ? "operator not in TensorRT " + TENSORRT_VERSION + "'s ONNX support table"
                    : "operator not supported by TensorRT " + TENSORRT_VERSION + "'s ONNX parser";
            return new NodeProblem(name, op, "", Problem.OPERATOR, why);
        }
        String type = types.dataTypeOf(n);
        if (!type.isEmpty() && !row.types().contains(type) && !type.equals("DOUBLE")) {
            return new NodeProblem(name, op, type, Problem.ELEMENT_TYPE, "TensorRT builds " + op + " for "
                    + String.join(", ", row.types()) + " only");
        }
        String broken = brokenRestriction(n, constants, shapeTensors, initializers, consumed);
        return broken == null ? null : new NodeProblem(name, op, type, Problem.RESTRICTION, broken);
    }

    /** The restriction of the table that this node breaks, where the file says so; null when none is broken. */
    private static String brokenRestriction(NodeProto n, Set<String> constants, Set<String> shapeTensors,
                                            Map<String, TensorProto> initializers, Set<String> consumed) {
        String op = n.getOpType();
        switch (op) {
            case "AveragePool", "MaxPool", "LpPool" -> {
                long[] d = ints(n, "dilations");
                for (long v : d) {
                    if (v != 1) {
                        return "dilations must be empty or all ones, not " + Arrays.toString(d);
                    }
                }
                if (op.equals("MaxPool") && n.getOutputCount() > 1 && consumed.contains(n.getOutput(1))) {
                    return "the Indices output is not supported";
                }
                long[] k = ints(n, "kernel_shape");
                if (k.length != 0 && k.length != 2 && k.length != 3) {
                    return "only 2-D or 3-D pooling (kernel_shape has " + k.length + " dimensions)";
                }
            }
            case "Resize" -> {
                String mode = string(n, "mode", "nearest");
                if (!mode.equals("nearest") && !mode.equals("linear")) {
                    return "mode '" + mode + "' (TensorRT resizes with nearest or linear only)";
                }
                String ct = string(n, "coordinate_transformation_mode", "half_pixel");
                if (!Set.of("half_pixel", "pytorch_half_pixel", "tf_half_pixel_for_nn", "asymmetric", "align_corners")
                        .contains(ct)) {
                    return "coordinate_transformation_mode '" + ct + "' is not supported";
                }
                if (integer(n, "antialias", 0) != 0) {
                    return "antialiasing is not supported";
                }
                String policy = string(n, "keep_aspect_ratio_policy", "stretch");
                if (!policy.equals("stretch")) {
                    return "keep_aspect_ratio_policy '" + policy + "' (only stretch)";
                }
            }
            case "TopK" -> {
                if (integer(n, "sorted", 1) != 1) {
                    return "sorted must be 1";
                }
                if (n.getInputCount() > 1 && initializers.containsKey(n.getInput(1))) {
                    long[] k = integerValues(initializers.get(n.getInput(1)));
                    if (k.length == 1 && k[0] >= 3840) {
                        return "K = " + k[0] + " (TensorRT takes K below 3840)";
                    }
                }
            }
            case "QuantizeLinear", "DequantizeLinear" -> {
                if (n.getInputCount() > 2 && initializers.containsKey(n.getInput(2))) {
                    for (long z : integerValues(initializers.get(n.getInput(2)))) {
                        if (z != 0) {
                            return "zero point " + z + " (TensorRT takes symmetric quantization only: zero points 0)";
                        }
                    }
                }
            }
            case "ScatterND" -> {
                String r = string(n, "reduction", "none");
                if (!r.equals("none")) {
                    return "reduction '" + r + "' (only none)";
                }
            }
            case "Loop" -> {
                // Loop(M, cond, carried...) -> (carried..., scan outputs...)
                int scans = n.getOutputCount() - Math.max(0, n.getInputCount() - 2);
                String m = n.getInputCount() > 0 ? n.getInput(0) : "";
                if (scans > 0 && (m.isEmpty() || !shapeTensors.contains(m))) {
                    return "scan outputs need a trip count M known from the input shapes (here "
                            + (m.isEmpty() ? "none: the condition ends the loop" : "'" + m + "' is computed from data")
                            + ")";
                }
            }
            case "LSTM" -> {
                if (integer(n, "input_forget", 0) != 0 || integer(n, "layout", 0) != 0) {
                    return "input_forget and layout must be 0";
                }
            }
            case "LayerNormalization" -> {
                for (int i = 1; i < n.getOutputCount(); i++) {
                    if (!n.getOutput(i).isEmpty() && consumed.contains(n.getOutput(i))) {
                        return "only the first output Y is supported ('" + n.getOutput(i) + "' is used)";
                    }
                }
            }
            case "Constant" -> {
                for (AttributeProto a : n.getAttributeList()) {
                    if (a.getName().equals("sparse_value") || a.getName().startsWith("value_string")) {
                        return "the " + a.getName() + " attribute is not supported";
                    }
                }
            }
            case "CumSum", "OneHot" -> {
                // CumSum(x, axis), OneHot(indices, depth, values): the second input
                if (n.getInputCount() > 1 && !constants.contains(n.getInput(1))) {
                    return (op.equals("CumSum") ? "axis" : "depth") + " must be a build-time constant ('"
                            + n.getInput(1) + "' is computed)";
                }
            }
            case "Squeeze", "Unsqueeze", "ReduceL1", "ReduceL2", "ReduceLogSum", "ReduceLogSumExp", "ReduceMax",
                 "ReduceMean", "ReduceMin", "ReduceProd", "ReduceSum", "ReduceSumSquare" -> {
                if (n.getInputCount() > 1 && !n.getInput(1).isEmpty() && !constants.contains(n.getInput(1))) {
                    return "axes must be a constant ('" + n.getInput(1) + "' is computed)";
                }
            }
            default -> {
            }
        }
        return null;
    }

    private static long[] integerValues(TensorProto t) {
        try {
            return OnnxTensors.fromProto(t).asLongs();
        } catch (KilnException | IllegalStateException e) {
            return new long[0]; // a malformed or non-integer constant is the ONNX reader's business, not this check's
        }
    }

    private static long[] ints(NodeProto n, String attr) {
        for (AttributeProto a : n.getAttributeList()) {
            if (a.getName().equals(attr)) {
                return a.getIntsList().stream().mapToLong(Long::longValue).toArray();
            }
        }
        return new long[0];
    }

    private static long integer(NodeProto n, String attr, long dflt) {
        for (AttributeProto a : n.getAttributeList()) {
            if (a.getName().equals(attr)) {
                return a.getI();
            }
        }
        return dflt;
    }

    private static String string(NodeProto n, String attr, String dflt) {
        for (AttributeProto a : n.getAttributeList()) {
            if (a.getName().equals(attr)) {
                return a.getS().toStringUtf8();
            }
        }
        return dflt;
    }

    private static Map<String, Operator> readTable() {
        String resource = "onnx-operators-" + TENSORRT_VERSION + ".tsv";
        Map<String, Operator> table = new LinkedHashMap<>();
        try (InputStream in = TensorRtOnnxSupport.class.getResourceAsStream(resource)) {
            if (in == null) {
                throw new KilnException(ErrorCode.INTERNAL, "the TensorRT operator table " + resource
                        + " is missing from the kiln-tensorrt jar");
            }
            BufferedReader r = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8));
            for (String line; (line = r.readLine()) != null; ) {
                if (line.isBlank() || line.startsWith("#")) {
                    continue;
                }
                String[] f = line.split("\t", -1);
                Set<String> types = new LinkedHashSet<>();
                if (!f[1].equals("-")) {
                    types.addAll(List.of(f[1].split(",")));
                }
                table.put(f[0], new Operator(f[0], Collections.unmodifiableSet(types), f.length > 2 ? f[2] : ""));
            }
        } catch (IOException e) {
            throw new KilnException(ErrorCode.INTERNAL, "cannot read the TensorRT operator table " + resource
                    + ": " + e.getMessage(), e);
        }
        return table;
    }
}
