package dev.kiln.tensorflow;

import dev.kiln.KilnException;
import dev.kiln.graph.TensorRef;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.NameAttrList;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.TensorProto;
import org.tensorflow.proto.TensorShapeProto;
import org.tensorflow.proto.VersionDef;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Lowers TF2's functional control flow into a plain graph at import, the way a deployment with fixed shapes wants it
 * (TFLite and TensorRT prefer straight-line graphs): a {@code While}/{@code StatelessWhile} whose trip count is known
 * from constants and static shapes is unrolled (its body inlined once per iteration), an {@code If}/{@code Case}
 * whose predicate or branch index is known inlines the taken branch, and the TensorList ops Keras RNN loops use
 * become plain tensors: a list is tracked here as one tensor per element (Unpack of the unstacked input, the items
 * set by the loop) and stacked back with Pack.
 *
 * <p>What cannot be lowered (a trip count that depends on a dimension nobody fixed, a list op Kiln does not know) is
 * remembered, not thrown at once: only a value the model's outputs need is refused, with a one-line message naming
 * the node and, for a loop, the inputs whose shape would fix it.
 *
 * <p>Unless control flow may be kept ({@link RecurrentLayers#AUTO}, {@link RecurrentLayers#KEEP},
 * {@link RecurrentLayers#LOOP}): then a loop of unknown length, an If/Case whose predicate is known only at run time
 * and the TensorList ops of unknown size around them stay nodes, calling their functions (TensorFlow runs them as they
 * are; the ONNX exporter writes Loop and If). KEEP and LOOP keep every loop, of known length too.
 */
final class ControlFlowLowering {
    /** Unrolling grows the graph by one body per step: loops longer than this are refused. */
    static final int MAX_ITERATIONS = 1000;

    private static final Set<String> WHILE = Set.of("While", "StatelessWhile");
    private static final Set<String> IF = Set.of("If", "StatelessIf");
    private static final Set<String> CASE = Set.of("Case", "StatelessCase");

    /** A lowered tensor: a plain ref of the output graph, a TensorList held as its element refs, or a refusal. */
    private sealed interface Value permits Plain, ListValue, Refused {
    }

    private record Plain(String ref) implements Value {
    }

    /** A TensorList: element refs (null where not yet set), in order. */
    private record ListValue(List<String> items, AttrValue elementDtype) implements Value {
    }

    private record Refused(String why) implements Value {
    }

    private final Map<String, FunctionDef> library;
    private final String hint;
    /** The plain graph being built, in topological order. */
    private final Map<String, NodeDef> out = new LinkedHashMap<>();
    /** Values of lowered node outputs (and of the synthetic arguments of instantiated functions), by ref text. */
    private final Map<String, Value> values = new HashMap<>();
    /** Nodes whose every output is refused, with the reason. */
    private final Map<String, String> refusedNodes = new HashMap<>();
    private final StaticValues statics;
    private int syntheticArgs;
    /** Keep control flow that cannot be lowered statically, instead of refusing it. */
    private final boolean keepDynamic;
    /** Keep every loop, and the TensorList ops around it, whatever its length. */
    private final boolean keepEveryLoop;

    private ControlFlowLowering(Map<String, FunctionDef> library, VersionDef versions, String hint,
                                RecurrentLayers mode) {
        this.library = library;
        this.hint = hint;
        this.statics = new StaticValues(out, versions);
        this.keepDynamic = mode != RecurrentLayers.UNROLL;
        this.keepEveryLoop = mode == RecurrentLayers.KEEP || mode == RecurrentLayers.LOOP;
    }

    /** Whether a flat graph has anything to lower. */
    static boolean needed(Iterable<NodeDef> nodes) {
        for (NodeDef nd : nodes) {
            String op = nd.getOp();
            if (WHILE.contains(op) || IF.contains(op) || CASE.contains(op) || op.startsWith("TensorList")) {
                return true;
            }
        }
        return false;
    }

    /**
     * The plain graph for {@code nodes}; {@code outputs} (refs into {@code nodes}) are rewritten in place to the refs
     * that carry their values. {@code hint} ends a refusal for a loop whose trip count is unknown (which inputs to
     * give shapes to, and how).
     */
    static Map<String, NodeDef> lower(Map<String, NodeDef> nodes, List<String> outputs, Map<String, FunctionDef> library,
                                      VersionDef versions, String hint, RecurrentLayers mode) {
        ControlFlowLowering l = new ControlFlowLowering(library, versions, hint, mode);
        l.process(new ArrayList<>(nodes.values()));
        for (int i = 0; i < outputs.size(); i++) {
            Value v = l.value(outputs.get(i));
            if (v instanceof Refused r) {
                throw KilnException.unsupported(r.why());
            }
            if (v instanceof ListValue) {
                throw KilnException.unsupported("output '" + outputs.get(i) + "' is a TensorList (a variant); Kiln "
                        + "exports numeric tensors only: stack it in the model (TensorListStack)");
            }
            outputs.set(i, ((Plain) v).ref());
        }
        return l.out;
    }

    private Value value(String ref) {
        String key = TensorRef.parse(ref).toString();
        Value v = values.get(key);
        if (v != null) {
            return v;
        }
        String why = refusedNodes.get(TensorRef.parse(key).node());
        return why != null ? new Refused(why) : new Plain(key);
    }

    /** Lowers {@code nodes} (graph syntax; inputs from outside the list are already in the output) in data order. */
    private void process(List<NodeDef> nodes) {
        for (NodeDef nd : topological(nodes)) {
            List<Value> ins = new ArrayList<>();
            List<String> controls = new ArrayList<>();
            for (String in : nd.getInputList()) {
                if (in.startsWith("^")) {
                    if (out.containsKey(in.substring(1))) {
                        controls.add(in); // a control edge onto a lowered node orders nothing in a plain graph
                    }
                } else {
                    ins.add(value(in));
                }
            }
            String op = nd.getOp();
            if ((IF.contains(op) || CASE.contains(op)) && ins.isEmpty()) {
                throw KilnException.invalidModel(op + " '" + nd.getName() + "' has no " + (IF.contains(op)
                        ? "predicate" : "branch index") + " input");
            }
            if (WHILE.contains(op)) {
                unrollWhile(nd, ins);
            } else if (IF.contains(op)) {
                Long pred = plainScalar(ins.get(0));
                String branch = function(nd, pred == null || pred != 0 ? "then_branch" : "else_branch").getName();
                selectBranch(nd, pred == null ? null : branch, ins.subList(1, ins.size()), "predicate", ins);
            } else if (CASE.contains(op)) {
                Long idx = plainScalar(ins.get(0));
                List<NameAttrList> branches = nd.getAttrOrThrow("branches").getList().getFuncList();
                // out of range runs the last branch (TensorFlow's default branch)
                String branch = idx == null ? null : branches.get(idx < 0 || idx >= branches.size()
                        ? branches.size() - 1 : idx.intValue()).getName();
                selectBranch(nd, branch, ins.subList(1, ins.size()), "branch index", ins);
            } else if (op.startsWith("TensorList")) {
                lowerListOp(nd, ins, controls);
            } else if ((op.equals("Identity") || op.equals("IdentityN")) && ins.stream()
                    .anyMatch(v -> v instanceof ListValue)) {
                for (int k = 0; k < ins.size(); k++) {
                    values.put(TensorRef.of(nd.getName(), k).toString(), ins.get(k));
                }
            } else {
                emitPlain(nd, ins, controls);
            }
        }
    }

    private void emitPlain(NodeDef nd, List<Value> ins, List<String> controls) {
        NodeDef.Builder b = nd.toBuilder().clearInput();
        for (Value v : ins) {
            if (v instanceof Refused r) {
                refusedNodes.put(nd.getName(), r.why());
                return;
            }
            if (v instanceof ListValue) {
                refusedNodes.put(nd.getName(), "node '" + nd.getName() + "' (" + nd.getOp() + ") takes a TensorList; "
                        + "Kiln lowers TensorList ops of static size used by loops (Reserve, FromTensor, GetItem, "
                        + "SetItem, PushBack, Stack, Length) only");
                return;
            }
            b.addInput(((Plain) v).ref());
        }
        b.addAllInput(controls);
        put(b.build());
    }

    private void put(NodeDef nd) {
        if (out.putIfAbsent(nd.getName(), nd) != null) {
            throw KilnException.invalidModel("duplicate node name '" + nd.getName() + "' while unrolling control flow");
        }
    }

    private Long plainScalar(Value v) {
        return v instanceof Plain p ? statics.scalar(p.ref()) : null;
    }

    // ---- While ----

    private NameAttrList function(NodeDef nd, String attr) {
        AttrValue a = nd.getAttrMap().get(attr);
        if (a == null || !a.hasFunc() || !library.containsKey(a.getFunc().getName())) {
            throw KilnException.invalidModel(nd.getOp() + " '" + nd.getName() + "' has no '" + attr + "' function "
                    + (a == null || !a.hasFunc() ? "attribute" : "in the library: " + a.getFunc().getName()));
        }
        return a.getFunc();
    }

    private void unrollWhile(NodeDef nd, List<Value> init) {
        NameAttrList cond = function(nd, "cond");
        NameAttrList body = function(nd, "body");
        if (keepEveryLoop) {
            keep(nd, init);
            return;
        }
        List<Value> state = init;
        for (int i = 0; ; i++) {
            List<Value> c = instantiate(cond, state, nd.getName() + "/kiln_cond_" + i);
            if (c.size() != 1) {
                throw KilnException.invalidModel("While '" + nd.getName() + "': its condition " + cond.getName()
                        + " returns " + c.size() + " values; a loop condition returns one boolean");
            }
            Long go = plainScalar(c.get(0));
            if (go == null && keepDynamic && !(c.get(0) instanceof Refused)) {
                keep(nd, init);
                return;
            }
            if (go == null) {
                String why = c.get(0) instanceof Refused r ? r.why() : statics.whyUnknown();
                refuse(nd, init.size(), "While loop '" + nd.getName() + "' has no trip count Kiln can tell at "
                        + "import (its condition " + cond.getName() + " depends on " + why + "); Kiln unrolls loops "
                        + "of a static length" + hint);
                return;
            }
            if (go == 0) {
                break;
            }
            if (i >= MAX_ITERATIONS && keepDynamic) {
                keep(nd, init); // too long to unroll: a loop it stays (the bodies unrolled so far are pruned)
                return;
            }
            if (i >= MAX_ITERATIONS) {
                refuse(nd, init.size(), "While loop '" + nd.getName() + "' runs more than " + MAX_ITERATIONS
                        + " iterations, Kiln's limit for unrolling a loop (the graph grows by one body per step)");
                return;
            }
            state = instantiate(body, state, nd.getName() + "/iter_" + i);
            if (state.size() != init.size()) {
                throw KilnException.invalidModel("While '" + nd.getName() + "': its body " + body.getName()
                        + " returns " + state.size() + " values for " + init.size() + " loop variables");
            }
        }
        for (int k = 0; k < state.size(); k++) {
            values.put(TensorRef.of(nd.getName(), k).toString(), state.get(k));
        }
    }

    /**
     * Keeps control-flow node {@code nd} as it is: its functions stay calls, and its outputs are plain tensors (a list
     * it returns is a real TensorList, read by list ops that are kept too).
     */
    private void keep(NodeDef nd, List<Value> ins) {
        List<Value> plain = new ArrayList<>();
        for (int k = 0; k < ins.size(); k++) {
            Value v = ins.get(k);
            if (v instanceof ListValue l) {
                String ref = materialize(l, fresh(nd.getName() + "/kiln_list_" + k));
                if (ref == null) {
                    refusedNodes.put(nd.getName(), nd.getOp() + " '" + nd.getName() + "' is kept as it is (not "
                            + "unrolled) but its input " + k + " is a TensorList whose items are set in part");
                    return;
                }
                v = new Plain(ref);
            }
            plain.add(v);
        }
        emitPlain(nd, plain, List.of());
    }

    /**
     * A real TensorList for a list Kiln tracked as items, for a kept node to read: a list of unset items becomes a
     * TensorListReserve of that size, a list of set items the Pack of them as a TensorListFromTensor; null for a list
     * set in part.
     */
    private String materialize(ListValue l, String name) {
        boolean none = l.items().stream().allMatch(java.util.Objects::isNull);
        boolean all = l.items().stream().noneMatch(java.util.Objects::isNull);
        if (!none && !all || l.items().isEmpty() && !none) {
            return null;
        }
        AttrValue int32 = AttrValue.newBuilder().setType(DataType.DT_INT32).build();
        put(NodeDef.newBuilder().setName(name + "/element_shape").setOp("Const").putAttr("dtype", int32)
                .putAttr("value", AttrValue.newBuilder().setTensor(TensorProto.newBuilder().setDtype(DataType.DT_INT32)
                        .setTensorShape(TensorShapeProto.getDefaultInstance()).addIntVal(-1)).build()).build());
        if (none) {
            put(NodeDef.newBuilder().setName(name + "/size").setOp("Const").putAttr("dtype", int32)
                    .putAttr("value", AttrValue.newBuilder().setTensor(TensorProto.newBuilder()
                            .setDtype(DataType.DT_INT32).setTensorShape(TensorShapeProto.getDefaultInstance())
                            .addIntVal(l.items().size())).build()).build());
            put(NodeDef.newBuilder().setName(name).setOp("TensorListReserve").addInput(name + "/element_shape")
                    .addInput(name + "/size").putAttr("element_dtype", l.elementDtype()).putAttr("shape_type", int32)
                    .build());
        } else {
            put(NodeDef.newBuilder().setName(name + "/stacked").setOp("Pack").addAllInput(l.items())
                    .putAttr("T", l.elementDtype()).putAttr("N", AttrValue.newBuilder().setI(l.items().size()).build())
                    .putAttr("axis", AttrValue.newBuilder().setI(0).build()).build());
            put(NodeDef.newBuilder().setName(name).setOp("TensorListFromTensor").addInput(name + "/stacked")
                    .addInput(name + "/element_shape").putAttr("element_dtype", l.elementDtype())
                    .putAttr("shape_type", int32).build());
        }
        return TensorRef.of(name, 0).toString();
    }

    /** {@code base}, or {@code base_N}, whichever no node of the output (nor one under it) has yet. */
    private String fresh(String base) {
        String name = base;
        for (int i = 1; out.containsKey(name) || out.containsKey(name + "/element_shape"); i++) {
            name = base + "_" + i;
        }
        return name;
    }

    private void refuse(NodeDef nd, int outputs, String why) {
        refusedNodes.put(nd.getName(), why);
        for (int k = 0; k < outputs; k++) {
            values.put(TensorRef.of(nd.getName(), k).toString(), new Refused(why));
        }
    }

    // ---- If / Case ----

    private void selectBranch(NodeDef nd, String branch, List<Value> args, String what, List<Value> all) {
        if (branch == null && keepDynamic && !(all.get(0) instanceof Refused)) {
            keep(nd, all);
            return;
        }
        if (branch == null) {
            refusedNodes.put(nd.getName(), nd.getOp() + " '" + nd.getName() + "' has a " + what + " that is only "
                    + "known at run time (" + statics.whyUnknown() + "); Kiln inlines an If/Case whose " + what
                    + " is known at import" + hint);
            return;
        }
        List<Value> rets = instantiate(NameAttrList.newBuilder().setName(branch).build(), args, nd.getName());
        for (int k = 0; k < rets.size(); k++) {
            values.put(TensorRef.of(nd.getName(), k).toString(), rets.get(k));
        }
    }

    /** Inlines function {@code f} with these argument values under {@code prefix}; the values of its outputs. */
    private List<Value> instantiate(NameAttrList f, List<Value> args, String prefix) {
        List<String> argRefs = new ArrayList<>();
        for (Value v : args) {
            if (v instanceof Plain p) {
                argRefs.add(p.ref());
            } else {
                String ref = TensorRef.of(prefix + "/kiln_arg_" + syntheticArgs++, 0).toString();
                values.put(ref, v);
                argRefs.add(ref);
            }
        }
        Flattener sub = new Flattener(library);
        int outputs = sub.addFunction(prefix, f.getName(), f.getAttrMap(), argRefs);
        process(sub.resolvedNodes());
        List<Value> rets = new ArrayList<>();
        for (int k = 0; k < outputs; k++) {
            rets.add(value(sub.resolve(TensorRef.of(prefix, k).toString())));
        }
        return rets;
    }

    // ---- TensorList ----

    /** The data inputs each TensorList op takes (TensorFlow's op definitions). */
    private static final Map<String, Integer> LIST_OP_INPUTS = Map.of("TensorListReserve", 2, "EmptyTensorList", 2,
            "TensorListFromTensor", 2, "TensorListGetItem", 3, "TensorListSetItem", 3, "TensorListPushBack", 2,
            "TensorListStack", 2, "TensorListLength", 1);

    private void lowerListOp(NodeDef nd, List<Value> ins, List<String> controls) {
        String name = nd.getName();
        String out0 = TensorRef.of(name, 0).toString();
        Integer arity = LIST_OP_INPUTS.get(nd.getOp());
        if (arity != null && ins.size() != arity) {
            throw KilnException.invalidModel("node '" + name + "' (" + nd.getOp() + ") has " + ins.size()
                    + " data inputs; the op takes " + arity);
        }
        if (keepEveryLoop || keepDynamic && keptList(nd, ins)) {
            emitPlain(nd, ins, controls);
            return;
        }
        switch (nd.getOp()) {
            case "TensorListReserve", "EmptyTensorList" -> {
                Value n = nd.getOp().equals("EmptyTensorList") ? null : ins.get(1);
                Long size = n == null ? Long.valueOf(0) : plainScalar(n);
                if (size == null || size < 0 || size > MAX_ITERATIONS * 16L) {
                    refusedNodes.put(name, "TensorListReserve '" + name + "' has no static size ("
                            + statics.whyUnknown() + ")" + hint);
                    return;
                }
                values.put(out0, new ListValue(new ArrayList<>(Collections.nCopies(size.intValue(), null)),
                        nd.getAttrOrThrow("element_dtype")));
            }
            case "TensorListFromTensor" -> {
                if (!(ins.get(0) instanceof Plain p)) {
                    refusedNodes.put(name, why(ins.get(0), name));
                    return;
                }
                org.tensorflow.proto.AttrValue dtype = nd.getAttrOrThrow("element_dtype");
                dev.kiln.graph.Shape s = statics.shape(p.ref());
                if (!s.hasRank() || s.rank() == 0 || s.dim(0) < 0) {
                    refusedNodes.put(name, "TensorListFromTensor '" + name + "' unstacks '" + p.ref() + "' of shape "
                            + s + ", whose first dimension is not static" + hint);
                    return;
                }
                int n = (int) s.dim(0);
                List<String> items = new ArrayList<>();
                if (n > 0) {
                    put(NodeDef.newBuilder().setName(name).setOp("Unpack").addInput(p.ref()).addAllInput(controls)
                            .putAttr("T", dtype).putAttr("num", AttrValue.newBuilder().setI(n).build())
                            .putAttr("axis", AttrValue.newBuilder().setI(0).build()).build());
                    for (int i = 0; i < n; i++) {
                        items.add(TensorRef.of(name, i).toString());
                    }
                }
                values.put(out0, new ListValue(items, dtype));
            }
            case "TensorListGetItem" -> {
                ListValue l = list(ins.get(0), name);
                Long i = plainScalar(ins.get(1));
                if (l == null) {
                    return;
                }
                if (i == null || i < 0 || i >= l.items().size() || l.items().get(i.intValue()) == null) {
                    refusedNodes.put(name, "TensorListGetItem '" + name + "' reads " + (i == null
                            ? "an index known only at run time (" + statics.whyUnknown() + ")"
                            : "item " + i + " of a list of " + l.items().size() + " that holds no tensor there"));
                    return;
                }
                values.put(out0, new Plain(l.items().get(i.intValue())));
            }
            case "TensorListSetItem" -> {
                ListValue l = list(ins.get(0), name);
                Long i = plainScalar(ins.get(1));
                if (l == null) {
                    return;
                }
                if (i == null || i < 0 || i >= l.items().size() || !(ins.get(2) instanceof Plain item)) {
                    refusedNodes.put(name, "TensorListSetItem '" + name + "' writes " + (i == null
                            ? "at an index known only at run time (" + statics.whyUnknown() + ")"
                            : "item " + i + " of a list of " + l.items().size()));
                    return;
                }
                List<String> items = new ArrayList<>(l.items());
                items.set(i.intValue(), item.ref());
                values.put(out0, new ListValue(items, l.elementDtype()));
            }
            case "TensorListPushBack" -> {
                ListValue l = list(ins.get(0), name);
                if (l == null) {
                    return;
                }
                if (!(ins.get(1) instanceof Plain item)) {
                    refusedNodes.put(name, why(ins.get(1), name));
                    return;
                }
                List<String> items = new ArrayList<>(l.items());
                items.add(item.ref());
                values.put(out0, new ListValue(items, l.elementDtype()));
            }
            case "TensorListStack" -> {
                ListValue l = list(ins.get(0), name);
                if (l == null) {
                    return;
                }
                if (l.items().isEmpty() || l.items().contains(null)) {
                    refusedNodes.put(name, "TensorListStack '" + name + "' stacks a list of " + l.items().size()
                            + " with items never set; Kiln stacks lists whose every item the model wrote");
                    return;
                }
                NodeDef.Builder b = NodeDef.newBuilder().setName(name).setOp("Pack").addAllInput(l.items())
                        .putAttr("T", l.elementDtype()).putAttr("N", AttrValue.newBuilder().setI(l.items().size())
                                .build()).putAttr("axis", AttrValue.newBuilder().setI(0).build());
                put(b.addAllInput(controls).build());
            }
            case "TensorListLength" -> {
                ListValue l = list(ins.get(0), name);
                if (l == null) {
                    return;
                }
                put(NodeDef.newBuilder().setName(name).setOp("Const")
                        .putAttr("dtype", AttrValue.newBuilder().setType(DataType.DT_INT32).build())
                        .putAttr("value", AttrValue.newBuilder().setTensor(TensorProto.newBuilder()
                                .setDtype(DataType.DT_INT32).setTensorShape(TensorShapeProto.getDefaultInstance())
                                .addIntVal(l.items().size())).build()).build());
            }
            default -> refusedNodes.put(name, "TensorList op " + nd.getOp() + " (node '" + name + "') is not one "
                    + "Kiln lowers (Reserve, FromTensor, GetItem, SetItem, PushBack, Stack, Length)");
        }
    }

    /**
     * Whether list op {@code nd} stays a node: it reads a list that is a real tensor (made by a kept op), or it makes a
     * list whose size is known only at run time.
     */
    private boolean keptList(NodeDef nd, List<Value> ins) {
        return switch (nd.getOp()) {
            case "TensorListReserve" -> plainScalar(ins.get(1)) == null && !(ins.get(1) instanceof Refused);
            case "TensorListFromTensor" -> {
                if (!(ins.get(0) instanceof Plain p)) {
                    yield false;
                }
                dev.kiln.graph.Shape shape = statics.shape(p.ref());
                yield !shape.hasRank() || shape.rank() == 0 || shape.dim(0) < 0;
            }
            case "EmptyTensorList" -> false;
            default -> !ins.isEmpty() && ins.get(0) instanceof Plain;
        };
    }

    /** The list an op reads, or null after recording why the op is refused. */
    private ListValue list(Value v, String node) {
        if (v instanceof ListValue l) {
            return l;
        }
        refusedNodes.put(node, why(v, node));
        return null;
    }

    private static String why(Value v, String node) {
        if (v instanceof Refused r) {
            return r.why();
        }
        return "node '" + node + "' reads '" + ((Plain) v).ref() + "' as a TensorList, but Kiln can only lower lists "
                + "the model builds itself (TensorListReserve, TensorListFromTensor)";
    }

    // ---- order ----

    /** {@code nodes} so that each comes after the nodes of the list it reads (FunctionDefs are not sorted). */
    private static List<NodeDef> topological(List<NodeDef> nodes) {
        Map<String, NodeDef> byName = new LinkedHashMap<>();
        nodes.forEach(n -> byName.put(n.getName(), n));
        Map<String, Integer> pending = new LinkedHashMap<>();
        Map<String, List<String>> users = new HashMap<>();
        for (NodeDef n : nodes) {
            int k = 0;
            for (String in : n.getInputList()) {
                String src = in.startsWith("^") ? in.substring(1) : TensorRef.parse(in).node();
                if (byName.containsKey(src)) {
                    k++;
                    users.computeIfAbsent(src, x -> new ArrayList<>()).add(n.getName());
                }
            }
            pending.put(n.getName(), k);
        }
        Deque<String> ready = new ArrayDeque<>();
        pending.forEach((n, k) -> {
            if (k == 0) {
                ready.add(n);
            }
        });
        List<NodeDef> order = new ArrayList<>(nodes.size());
        while (!ready.isEmpty()) {
            String n = ready.poll();
            order.add(byName.get(n));
            for (String u : users.getOrDefault(n, List.of())) {
                if (pending.merge(u, -1, Integer::sum) == 0) {
                    ready.add(u);
                }
            }
        }
        // a cycle (a TF1 while loop of Enter/Merge/NextIteration) keeps its order: the import refuses those ops by name
        nodes.stream().filter(n -> pending.get(n.getName()) > 0).forEach(order::add);
        return order;
    }
}
