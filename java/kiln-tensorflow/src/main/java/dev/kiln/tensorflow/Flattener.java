package dev.kiln.tensorflow;

import dev.kiln.KilnException;
import dev.kiln.graph.RecurrentCall;
import dev.kiln.graph.TensorRef;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.NameAttrList;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.OpDef;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Turns a GraphDef plus its function library into one flat list of NodeDefs: every (Stateful)PartitionedCall, and
 * every node whose op is a library function, is replaced by the function's body (recursively), with body nodes
 * renamed under the call's name, arguments mapped to the call's inputs, FunctionDef output syntax
 * ({@code node:out_arg:idx}) translated to graph syntax ({@code node:k}) through the OpDef output argument lists,
 * and the call's outputs aliased to the body's return values. Control inputs onto a call are dropped (they order
 * side effects, which an inference graph does not have). Functional control flow (While/If/Case, whose bodies are
 * function attributes rather than calls) and TensorList ops stay nodes; {@link ControlFlowLowering} lowers them.
 *
 * <p>A call of a Keras recurrent layer's function ({@link KerasRecurrentFunctions}) is kept as one call node instead,
 * in modes {@link RecurrentLayers#AUTO} and {@link RecurrentLayers#KEEP}; {@link #expand} inlines a kept call after all (the importer does
 * so where the sequence length turns out to be known).
 */
final class Flattener {
    private static final Set<String> CALL_OPS = Set.of("PartitionedCall", "StatefulPartitionedCall");

    private final Map<String, FunctionDef> library;
    /** Flat nodes by name. */
    final Map<String, NodeDef> nodes = new LinkedHashMap<>();
    /** Canonical tensor ref text of a call output → the ref it stands for. */
    private final Map<String, String> aliases = new HashMap<>();
    /** Names of call nodes that were inlined (control inputs on them are dropped). */
    private final Set<String> inlinedCalls = new HashSet<>();
    /** For error messages: which function each flat node came from ("" for the top-level graph). */
    final Map<String, String> origin = new HashMap<>();
    private final RecurrentLayers recurrent;
    /** Recurrent-layer calls kept as nodes, by node name, with what inlining them would need. */
    private final Map<String, KeptCall> kept = new LinkedHashMap<>();

    private record KeptCall(String function, Map<String, AttrValue> callAttrs, List<String> args, String caller,
                            RecurrentCall what) {
    }

    Flattener(Map<String, FunctionDef> library) {
        this(library, RecurrentLayers.UNROLL);
    }

    Flattener(Map<String, FunctionDef> library, RecurrentLayers recurrent) {
        this.library = library;
        this.recurrent = recurrent;
    }

    /** The recurrent-layer calls kept as nodes (node name to what it computes). */
    Map<String, RecurrentCall> keptCalls() {
        Map<String, RecurrentCall> out = new LinkedHashMap<>();
        kept.forEach((name, k) -> out.put(name, k.what()));
        return out;
    }

    /** Inlines kept call {@code name} after all: its outputs then resolve to its body's. */
    void expand(String name) {
        KeptCall k = kept.remove(name);
        nodes.remove(name);
        origin.remove(name);
        inline(name, k.function(), k.callAttrs(), k.args(), k.caller(), false);
    }

    /** The function library the graph's calls and control flow refer to. */
    Map<String, FunctionDef> library() {
        return library;
    }

    /** Adds the top-level graph's nodes, inlining calls. */
    void addGraph(List<NodeDef> graphNodes) {
        for (NodeDef nd : graphNodes) {
            if (isCall(nd)) {
                inline(nd.getName(), functionName(nd), callAttrs(nd), dataInputs(nd.getInputList()), "",
                        recurrent == RecurrentLayers.AUTO || recurrent == RecurrentLayers.KEEP);
            } else {
                put(nd, "");
            }
        }
    }

    /** Canonical ref text after following call-output aliases; null when it names a dropped control input. */
    String resolve(String ref) {
        TensorRef r = TensorRef.parse(ref);
        if (r.control()) {
            return inlinedCalls.contains(r.node()) ? null : ref;
        }
        String key = r.toString();
        for (int guard = 0; aliases.containsKey(key) && guard < 10_000; guard++) {
            key = aliases.get(key);
        }
        return key;
    }

    /** The flat nodes with every input resolved. */
    List<NodeDef> resolvedNodes() {
        List<NodeDef> out = new ArrayList<>(nodes.size());
        for (NodeDef nd : nodes.values()) {
            NodeDef.Builder b = nd.toBuilder().clearInput().clearDevice();
            for (String in : nd.getInputList()) {
                String r = resolve(in);
                if (r != null) {
                    b.addInput(r);
                }
            }
            out.add(b.build());
        }
        return out;
    }

    private void put(NodeDef nd, String fn) {
        if (nodes.containsKey(nd.getName())) {
            throw KilnException.invalidModel("duplicate node name '" + nd.getName() + "' after inlining");
        }
        nodes.put(nd.getName(), nd);
        origin.put(nd.getName(), fn);
    }

    boolean isCall(NodeDef nd) {
        return CALL_OPS.contains(nd.getOp()) || library.containsKey(nd.getOp());
    }

    private static String functionName(NodeDef nd) {
        if (CALL_OPS.contains(nd.getOp())) {
            return nd.getAttrOrThrow("f").getFunc().getName();
        }
        return nd.getOp();
    }

    private static Map<String, AttrValue> callAttrs(NodeDef nd) {
        if (CALL_OPS.contains(nd.getOp())) {
            return nd.getAttrOrThrow("f").getFunc().getAttrMap();
        }
        return nd.getAttrMap();
    }

    private static List<String> dataInputs(List<String> inputs) {
        List<String> out = new ArrayList<>();
        for (String in : inputs) {
            if (!in.startsWith("^")) {
                out.add(in);
            }
        }
        return out;
    }

    private String uniquePrefix(String base) {
        String p = base;
        for (int i = 1; nodes.containsKey(p) || hasPrefix(p + "/"); i++) {
            p = base + "_inlined" + i;
        }
        return p;
    }

    private boolean hasPrefix(String p) {
        for (String n : nodes.keySet()) {
            if (n.startsWith(p)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Inlines function {@code fname} called by node {@code callName} with data inputs {@code args} (already in flat
     * syntax). Aliases {@code callName:k} to the body's k-th return value.
     */
    private void inline(String callName, String fname, Map<String, AttrValue> callAttrs, List<String> args,
                        String caller, boolean keepRecurrent) {
        FunctionDef fd = library.get(fname);
        if (fd == null) {
            throw KilnException.invalidModel("node '" + callName + "' calls function '" + fname
                    + "', which is not in the function library");
        }
        fd = cpuImplementation(fd);
        fname = fd.getSignature().getName();
        RecurrentCall recurrentLayer = keepRecurrent ? KerasRecurrentFunctions.match(fd) : null;
        if (recurrentLayer != null) {
            keep(callName, fd, callAttrs, args, caller, recurrentLayer);
            return;
        }
        inlinedCalls.add(callName);
        String prefix = uniquePrefix(callName);
        List<org.tensorflow.proto.OpDef.ArgDef> inArgs = fd.getSignature().getInputArgList();
        if (inArgs.size() != args.size()) {
            throw KilnException.invalidModel("node '" + callName + "' passes " + args.size() + " inputs to function '"
                    + fname + "', which takes " + inArgs.size());
        }
        Map<String, String> argMap = new HashMap<>();
        for (int i = 0; i < inArgs.size(); i++) {
            argMap.put(inArgs.get(i).getName(), args.get(i));
        }
        Map<String, NodeDef> body = new LinkedHashMap<>();
        for (NodeDef nd : fd.getNodeDefList()) {
            body.put(nd.getName(), nd);
        }
        for (NodeDef nd : fd.getNodeDefList()) {
            // While/If/Case and TensorList ops stay nodes here: ControlFlowLowering unrolls or inlines them later
            String newName = prefix + "/" + nd.getName();
            List<String> ins = new ArrayList<>();
            for (String in : nd.getInputList()) {
                String t = translate(in, argMap, body, prefix, callAttrs, fname);
                if (t != null) {
                    ins.add(t);
                }
            }
            NodeDef.Builder b = nd.toBuilder().setName(newName).clearInput().addAllInput(ins).clearDevice();
            substitutePlaceholders(b, callAttrs, fname);
            NodeDef renamed = b.build();
            if (isCall(renamed)) {
                inline(newName, functionName(renamed), callAttrs(renamed), dataInputs(ins), fname, keepRecurrent);
            } else {
                put(renamed, fname);
            }
        }
        List<org.tensorflow.proto.OpDef.ArgDef> outArgs = fd.getSignature().getOutputArgList();
        for (int k = 0; k < outArgs.size(); k++) {
            String ret = fd.getRetOrThrow(outArgs.get(k).getName());
            String t = translate(ret, argMap, body, prefix, callAttrs, fname);
            aliases.put(TensorRef.of(callName, k).toString(), t);
        }
    }

    /** Puts a call of recurrent-layer function {@code fd} as one {@code PartitionedCall} node named {@code callName}. */
    private void keep(String callName, FunctionDef fd, Map<String, AttrValue> callAttrs, List<String> args,
                      String caller, RecurrentCall what) {
        if (fd.getSignature().getInputArgCount() != args.size()) {
            throw KilnException.invalidModel("node '" + callName + "' passes " + args.size() + " inputs to function '"
                    + fd.getSignature().getName() + "', which takes " + fd.getSignature().getInputArgCount());
        }
        AttrValue.ListValue.Builder tin = AttrValue.ListValue.newBuilder();
        fd.getSignature().getInputArgList().forEach(a -> tin.addType(a.getType()));
        AttrValue.ListValue.Builder tout = AttrValue.ListValue.newBuilder();
        fd.getSignature().getOutputArgList().forEach(a -> tout.addType(a.getType()));
        NodeDef.Builder b = NodeDef.newBuilder().setName(callName).setOp("PartitionedCall").addAllInput(args)
                .putAttr("Tin", AttrValue.newBuilder().setList(tin).build())
                .putAttr("Tout", AttrValue.newBuilder().setList(tout).build())
                .putAttr("f", AttrValue.newBuilder().setFunc(NameAttrList.newBuilder()
                        .setName(fd.getSignature().getName()).putAllAttr(callAttrs)).build());
        what.attrs().forEach((k, v) -> b.putAttr(k, GraphDefs.toProto(v)));
        put(b.build(), caller);
        kept.put(callName, new KeptCall(fd.getSignature().getName(), callAttrs, args, caller, what));
    }

    /**
     * The CPU variant of a function written for another device, the way TensorFlow's implementation selector (a
     * Grappler pass) swaps them at run time: a Keras LSTM/GRU saved on a GPU machine calls
     * {@code gpu_lstm_with_fallback} (CudnnRNN), and the library holds {@code standard_lstm} with the same
     * {@code api_implements} and {@code api_preferred_device} CPU. Kept only where the two have the same inputs and
     * outputs; otherwise {@code fd} itself.
     */
    private FunctionDef cpuImplementation(FunctionDef fd) {
        AttrValue api = fd.getAttrMap().get("api_implements");
        AttrValue device = fd.getAttrMap().get("api_preferred_device");
        if (api == null || device == null || device.getS().toStringUtf8().equals("CPU")) {
            return fd;
        }
        for (FunctionDef other : library.values()) {
            AttrValue otherDevice = other.getAttrMap().get("api_preferred_device");
            if (api.equals(other.getAttrMap().get("api_implements")) && otherDevice != null
                    && otherDevice.getS().toStringUtf8().equals("CPU")
                    && other.getSignature().getInputArgCount() == fd.getSignature().getInputArgCount()
                    && other.getSignature().getOutputArgList().stream().map(OpDef.ArgDef::getName).toList()
                    .equals(fd.getSignature().getOutputArgList().stream().map(OpDef.ArgDef::getName).toList())) {
                return other;
            }
        }
        return fd;
    }

    /**
     * Inlines function {@code fname} as if a node named {@code prefix} called it with {@code args} (flat refs); its
     * k-th output is then {@code resolve(prefix:k)}. Returns the number of outputs.
     */
    int addFunction(String prefix, String fname, Map<String, AttrValue> attrs, List<String> args) {
        inline(prefix, fname, attrs, args, "", false);
        return library.get(fname).getSignature().getOutputArgCount();
    }

    private static void substitutePlaceholders(NodeDef.Builder b, Map<String, AttrValue> callAttrs, String fname) {
        for (Map.Entry<String, AttrValue> e : new HashMap<>(b.getAttrMap()).entrySet()) {
            if (e.getValue().getValueCase() == AttrValue.ValueCase.PLACEHOLDER) {
                AttrValue v = callAttrs.get(e.getValue().getPlaceholder());
                if (v == null) {
                    throw KilnException.invalidModel("function '" + fname + "' node '" + b.getName() + "': attr '"
                            + e.getKey() + "' refers to $" + e.getValue().getPlaceholder() + ", which the call does not set");
                }
                b.putAttr(e.getKey(), v);
            }
        }
    }

    /** A body input in FunctionDef syntax → flat syntax; null for a control input on an argument. */
    private String translate(String in, Map<String, String> argMap, Map<String, NodeDef> body, String prefix,
                             Map<String, AttrValue> callAttrs, String fname) {
        if (in.startsWith("^")) {
            String n = in.substring(1);
            if (argMap.containsKey(n)) {
                return null;
            }
            return "^" + prefix + "/" + n;
        }
        String[] parts = in.split(":");
        if (parts.length == 1 || (parts.length == 2 && argMap.containsKey(parts[0]))) {
            String a = argMap.get(parts[0]);
            if (a == null) {
                throw KilnException.invalidModel("function '" + fname + "': input '" + in
                        + "' is neither an argument nor node:output:index");
            }
            return a;
        }
        NodeDef src = body.get(parts[0]);
        if (src == null) {
            throw KilnException.invalidModel("function '" + fname + "': input '" + in + "' names no node of the body");
        }
        int idx = parts.length >= 3 ? Integer.parseInt(parts[2]) : Integer.parseInt(parts[1]);
        int k = parts.length >= 3 ? outputOffset(src, parts[1], callAttrs, fname) + idx : idx;
        return TensorRef.of(prefix + "/" + parts[0], k).toString();
    }

    /** Index of the first graph output of output argument {@code arg} of body node {@code nd}. */
    private int outputOffset(NodeDef nd, String arg, Map<String, AttrValue> callAttrs, String fname) {
        if (CALL_OPS.contains(nd.getOp())) {
            return 0; // single list output "output"
        }
        FunctionDef callee = library.get(nd.getOp());
        if (callee != null) {
            List<OpDef.ArgDef> outs = callee.getSignature().getOutputArgList();
            for (int i = 0; i < outs.size(); i++) {
                if (outs.get(i).getName().equals(arg)) {
                    return i;
                }
            }
            throw KilnException.invalidModel("function '" + fname + "': function " + nd.getOp() + " has no output '"
                    + arg + "'");
        }
        OpDef def = TfOpSupport.opDef(nd.getOp());
        if (def == null) {
            throw KilnException.unsupported("op " + nd.getOp() + " (node '" + nd.getName() + "' in function " + fname
                    + ") is not a TensorFlow op known to this TensorFlow build");
        }
        int offset = 0;
        for (OpDef.ArgDef a : def.getOutputArgList()) {
            if (a.getName().equals(arg)) {
                return offset;
            }
            offset += argLength(a, nd, def, callAttrs);
        }
        throw KilnException.invalidModel("function '" + fname + "': op " + nd.getOp() + " (node '" + nd.getName()
                + "') has no output '" + arg + "'");
    }

    private static int argLength(OpDef.ArgDef a, NodeDef nd, OpDef def, Map<String, AttrValue> callAttrs) {
        if (!a.getNumberAttr().isEmpty()) {
            return (int) attr(nd, def, a.getNumberAttr(), callAttrs).getI();
        }
        if (!a.getTypeListAttr().isEmpty()) {
            return attr(nd, def, a.getTypeListAttr(), callAttrs).getList().getTypeCount();
        }
        return 1;
    }

    private static AttrValue attr(NodeDef nd, OpDef def, String name, Map<String, AttrValue> callAttrs) {
        AttrValue v = nd.getAttrMap().get(name);
        if (v != null && v.getValueCase() == AttrValue.ValueCase.PLACEHOLDER) {
            v = callAttrs.get(v.getPlaceholder());
        }
        if (v == null) {
            v = TfOpSupport.defaultAttr(def, name);
        }
        if (v == null) {
            throw KilnException.invalidModel("node '" + nd.getName() + "' (" + nd.getOp() + ") has no attr '" + name + "'");
        }
        return v;
    }
}
