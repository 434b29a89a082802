package dev.kiln.tensorflow.shapes;

import dev.kiln.graph.DType;
import dev.kiln.graph.Shape;
import dev.kiln.graph.TensorRef;
import dev.kiln.graph.TensorType;
import dev.kiln.tensorflow.TfOpSupport;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.OpDef;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The output types of every node of a flat GraphDef, inferred in Java (see the package comment), or the reason Kiln
 * leaves it to TensorFlow. Output dtypes come from each op's definition in TensorFlow's registry and the node's
 * attributes; shapes from {@link ShapeRules}. A node is checked the way TensorFlow's import checks it (inputs exist,
 * their number and dtypes match the op's definition); a graph that fails a check is left to TensorFlow, which
 * gives its own message.
 */
public final class TfShapeInference {
    /** {@code -Dkiln.shapes=tensorflow}: type every graph with TensorFlow's shape inference. */
    public static final String PROPERTY = "kiln.shapes";

    private TfShapeInference() {
    }

    /** Output types per node name, or why Kiln cannot give them. */
    public record Result(Map<String, List<TensorType>> types, String reason) {
        public boolean inferred() {
            return types != null;
        }
    }

    /** The ops Kiln has a shape rule for. */
    public static java.util.Set<String> ops() {
        return new java.util.TreeSet<>(ShapeRules.ops());
    }

    /** Infers every node of {@code gd}; a graph with a function library (kept calls, control flow) is TensorFlow's. */
    public static Result infer(GraphDef gd) {
        if ("tensorflow".equals(System.getProperty(PROPERTY))) {
            return new Result(null, "-D" + PROPERTY + "=tensorflow");
        }
        if (gd.getLibrary().getFunctionCount() > 0) {
            return new Result(null, "the graph calls functions");
        }
        Map<String, NodeDef> nodes = new LinkedHashMap<>();
        for (NodeDef nd : gd.getNodeList()) {
            if (nodes.put(nd.getName(), nd) != null) {
                return new Result(null, "two nodes are named '" + nd.getName() + "'");
            }
        }
        try {
            Map<String, List<TensorType>> types = new HashMap<>();
            Map<String, IntValue> values = new HashMap<>();
            for (NodeDef nd : topologicalOrder(nodes)) {
                inferNode(nd, types, values);
            }
            return new Result(types, null);
        } catch (CannotInfer e) {
            return new Result(null, e.getMessage());
        } catch (RuntimeException malformed) {
            // a malformed node (a tensor name, a constant): TensorFlow's import says what is wrong with it
            return new Result(null, "malformed graph: " + malformed.getMessage());
        }
    }

    /**
     * The types of the nodes of {@code gd} that Kiln can infer (every input of theirs inferred too), where the whole
     * graph cannot be: each is exactly what TensorFlow would give that node, so a caller that needs a few shapes (a
     * loop's trip count) asks TensorFlow only for the rest. Empty under {@code -Dkiln.shapes=tensorflow}.
     */
    public static Map<String, List<TensorType>> inferWhatItCan(GraphDef gd) {
        if ("tensorflow".equals(System.getProperty(PROPERTY))) {
            return Map.of();
        }
        try {
            return inferEachNode(gd, Map.of(), new HashMap<>());
        } catch (RuntimeException malformed) {
            return Map.of(); // a cycle, a dangling input: TensorFlow says what is wrong
        }
    }

    /**
     * Each node inferred on its own where Kiln has a rule for it, taking {@code reference}'s types (TensorFlow's) for
     * the nodes it has none for: which of Kiln's rules agree with TensorFlow, node by node, on a graph that Kiln
     * cannot type whole. Returns Kiln's types of the nodes it inferred; {@code gaveUp} collects why it skipped others.
     */
    public static Map<String, List<TensorType>> inferEachNode(GraphDef gd, Map<String, List<TensorType>> reference,
                                                              Map<String, String> gaveUp) {
        Map<String, NodeDef> nodes = new LinkedHashMap<>();
        gd.getNodeList().forEach(nd -> nodes.put(nd.getName(), nd));
        Map<String, List<TensorType>> types = new HashMap<>();
        Map<String, IntValue> values = new HashMap<>();
        Map<String, List<TensorType>> inferred = new LinkedHashMap<>();
        for (NodeDef nd : topologicalOrder(nodes)) {
            try {
                inferNode(nd, types, values);
                inferred.put(nd.getName(), types.get(nd.getName()));
            } catch (CannotInfer e) {
                gaveUp.put(nd.getName(), e.getMessage());
                types.put(nd.getName(), reference.get(nd.getName()));
            }
        }
        return inferred;
    }

    private static void inferNode(NodeDef nd, Map<String, List<TensorType>> types, Map<String, IntValue> values) {
        OpDef def = TfOpSupport.opDef(nd.getOp());
        ShapeRule rule = ShapeRules.of(nd.getOp());
        if (def == null || rule == null) {
            throw new CannotInfer("node '" + nd.getName() + "': no shape rule for op " + nd.getOp());
        }
        List<TensorType> in = new ArrayList<>();
        List<IntValue> inValues = new ArrayList<>();
        for (String input : nd.getInputList()) {
            TensorRef r = TensorRef.parse(input);
            if (r.control()) {
                continue;
            }
            List<TensorType> t = types.get(r.node());
            if (t == null || r.index() >= t.size()) {
                throw new CannotInfer("node '" + nd.getName() + "': input '" + input + "' is not an output");
            }
            in.add(t.get(r.index()));
            IntValue v = values.get(r.node());
            inValues.add(r.index() == 0 || v == IntValue.DYNAMIC ? v : null);
        }
        List<DType> inDtypes = new ArrayList<>();
        for (OpDef.ArgDef a : def.getInputArgList()) {
            inDtypes.addAll(argTypes(nd, def, a));
        }
        if (inDtypes.size() != in.size()) {
            throw new CannotInfer("node '" + nd.getName() + "' (" + nd.getOp() + ") has " + in.size()
                    + " inputs where its op takes " + inDtypes.size());
        }
        for (int i = 0; i < in.size(); i++) {
            if (in.get(i).dtype() != inDtypes.get(i)) {
                throw new CannotInfer("node '" + nd.getName() + "': input " + i + " is " + in.get(i).dtype()
                        + " where " + inDtypes.get(i) + " is expected");
            }
        }
        List<DType> outDtypes = new ArrayList<>();
        for (OpDef.ArgDef a : def.getOutputArgList()) {
            outDtypes.addAll(argTypes(nd, def, a));
        }
        NodeShapes ctx = new NodeShapes(nd, def, in, inValues, outDtypes.size());
        List<Shape> shapes = rule.outputs(ctx);
        if (shapes.size() != outDtypes.size()) {
            throw new CannotInfer("node '" + nd.getName() + "': the rule for " + nd.getOp() + " gave " + shapes.size()
                    + " shapes for " + outDtypes.size() + " outputs");
        }
        shapes = withOutputShapesAttr(nd, ctx, shapes);
        List<TensorType> out = new ArrayList<>();
        for (int i = 0; i < shapes.size(); i++) {
            out.add(new TensorType(outDtypes.get(i), shapes.get(i)));
        }
        types.put(nd.getName(), out);
        IntValue v = ShapeValues.of(nd, in, inValues, out.isEmpty() ? null : out.get(0));
        if (v != null) {
            values.put(nd.getName(), v);
        }
    }

    /**
     * The shapes merged with the node's {@code _output_shapes} attribute, which TensorFlow's import also merges into
     * what it infers (GraphConstructor::ValidateShape): a Keras or TF1 graph often carries more than the ops tell.
     */
    private static List<Shape> withOutputShapesAttr(NodeDef nd, NodeShapes ctx, List<Shape> shapes) {
        AttrValue a = nd.getAttrMap().get("_output_shapes");
        if (a == null) {
            return shapes;
        }
        List<org.tensorflow.proto.TensorShapeProto> given = a.getList().getShapeList();
        if (given.size() < shapes.size()) {
            throw ctx.giveUp("_output_shapes has " + given.size() + " shapes for " + shapes.size() + " outputs");
        }
        List<Shape> out = new ArrayList<>();
        for (int i = 0; i < shapes.size(); i++) {
            Shape inferred = shapes.get(i);
            Shape attr = dev.kiln.tensorflow.GraphDefs.fromProto(given.get(i));
            out.add(!attr.hasRank() ? inferred : !inferred.hasRank() ? attr
                    : Shape.of(ctx.mergeShapes(inferred, attr)));
        }
        return out;
    }

    /** The dtypes of one input or output argument of {@code nd}: fixed, from a type attr, or a list of them. */
    private static List<DType> argTypes(NodeDef nd, OpDef def, OpDef.ArgDef a) {
        if (a.getIsRef()) {
            throw new CannotInfer("node '" + nd.getName() + "': op " + nd.getOp() + " has reference arguments");
        }
        List<DType> l = new ArrayList<>();
        if (!a.getTypeListAttr().isEmpty()) {
            for (int code : attr(nd, def, a.getTypeListAttr()).getList().getTypeValueList()) {
                l.add(dtype(nd, code));
            }
            return l;
        }
        DType t = a.getType() != DataType.DT_INVALID ? dtype(nd, a.getTypeValue())
                : dtype(nd, attr(nd, def, a.getTypeAttr()).getTypeValue());
        if (a.getType() == DataType.DT_INVALID) {
            checkAllowed(nd, def, a.getTypeAttr(), attr(nd, def, a.getTypeAttr()).getTypeValue());
        }
        long n = a.getNumberAttr().isEmpty() ? 1 : attr(nd, def, a.getNumberAttr()).getI();
        if (n < 0) {
            throw new CannotInfer("node '" + nd.getName() + "': " + a.getNumberAttr() + " = " + n);
        }
        for (long i = 0; i < n; i++) {
            l.add(t);
        }
        return l;
    }

    private static void checkAllowed(NodeDef nd, OpDef def, String attr, int code) {
        for (OpDef.AttrDef ad : def.getAttrList()) {
            if (ad.getName().equals(attr) && ad.hasAllowedValues()
                    && !ad.getAllowedValues().getList().getTypeValueList().contains(code)) {
                throw new CannotInfer("node '" + nd.getName() + "': " + attr + " is not an allowed type of "
                        + nd.getOp());
            }
        }
    }

    private static AttrValue attr(NodeDef nd, OpDef def, String name) {
        AttrValue v = TfOpSupport.attrOrDefault(nd, def, name);
        if (v == null) {
            throw new CannotInfer("node '" + nd.getName() + "' (" + nd.getOp() + ") has no attribute '" + name + "'");
        }
        return v;
    }

    private static DType dtype(NodeDef nd, int code) {
        try {
            return DType.fromTfCode(code);
        } catch (IllegalArgumentException e) {
            throw new CannotInfer("node '" + nd.getName() + "': dtype code " + code);
        }
    }

    /** Nodes with every data and control input before them; a cycle (TF1 loops) is left to TensorFlow. */
    private static List<NodeDef> topologicalOrder(Map<String, NodeDef> nodes) {
        List<NodeDef> order = new ArrayList<>();
        Map<String, Integer> state = new HashMap<>(); // 1: on the stack, 2: done
        for (String root : nodes.keySet()) {
            if (state.containsKey(root)) {
                continue;
            }
            Deque<String[]> stack = new ArrayDeque<>();
            stack.push(new String[] {root, "0"});
            state.put(root, 1);
            while (!stack.isEmpty()) {
                String[] top = stack.peek();
                NodeDef nd = nodes.get(top[0]);
                int next = Integer.parseInt(top[1]);
                if (next < nd.getInputCount()) {
                    top[1] = Integer.toString(next + 1);
                    String in = TensorRef.parse(nd.getInput(next)).node();
                    if (!nodes.containsKey(in)) {
                        throw new CannotInfer("node '" + nd.getName() + "': input '" + nd.getInput(next)
                                + "' names no node");
                    }
                    Integer s = state.get(in);
                    if (s == null) {
                        state.put(in, 1);
                        stack.push(new String[] {in, "0"});
                    } else if (s == 1) {
                        throw new CannotInfer("the graph has a cycle through node '" + in + "'");
                    }
                } else {
                    stack.pop();
                    state.put(top[0], 2);
                    order.add(nd);
                }
            }
        }
        return order;
    }
}
