package dev.kiln.tensorflow;

import dev.kiln.KilnException;
import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.Shape;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.graph.TensorType;
import org.tensorflow.exceptions.TensorFlowException;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NameAttrList;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.VersionDef;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The functions of control flow kept at import (a While whose length is unknown, an If/Case whose predicate is known
 * only at run time): which library functions they call, and their bodies as Kiln graphs, for exporters that write
 * control flow as subgraphs (ONNX Loop and If). A body graph's inputs are the function's arguments
 * ({@code arg_0 ...}, Placeholders) and its outputs its return values ({@code ret_0 ...}); it is stored in
 * {@link Graph#subgraphs()} under {@link #key}, and its own kept control flow in its own subgraphs.
 */
final class FunctionGraphs {
    private static final Set<String> WHILE = Set.of("While", "StatelessWhile");
    private static final Set<String> IF = Set.of("If", "StatelessIf");
    private static final Set<String> CASE = Set.of("Case", "StatelessCase");

    private FunctionGraphs() {
    }

    /** Whether {@code op} is TF2 control flow or a TensorList op, which import keeps when it cannot lower them. */
    static boolean isKeptControlFlow(String op) {
        return WHILE.contains(op) || IF.contains(op) || CASE.contains(op) || op.startsWith("TensorList");
    }

    /** The key of the body graph of {@code node}'s function attribute {@code attr} ({@code branches} by index). */
    static String key(String node, String attr) {
        return node + "/" + attr;
    }

    /** Every library function that {@code nodes} call through function attributes, with those they call in turn. */
    static Map<String, FunctionDef> calledFunctions(Collection<NodeDef> nodes, Map<String, FunctionDef> library) {
        Deque<String> todo = new ArrayDeque<>();
        nodes.forEach(nd -> addFunctionAttrs(nd, todo));
        Map<String, FunctionDef> out = new LinkedHashMap<>();
        while (!todo.isEmpty()) {
            String name = todo.poll();
            FunctionDef fd = library.get(name);
            if (fd == null || out.containsKey(name)) {
                continue;
            }
            out.put(name, fd);
            for (NodeDef nd : fd.getNodeDefList()) {
                if (library.containsKey(nd.getOp())) {
                    todo.add(nd.getOp());
                }
                addFunctionAttrs(nd, todo);
            }
        }
        return out;
    }

    private static void addFunctionAttrs(NodeDef nd, Deque<String> todo) {
        for (AttrValue a : nd.getAttrMap().values()) {
            if (a.hasFunc()) {
                todo.add(a.getFunc().getName());
            }
            for (NameAttrList f : a.getList().getFuncList()) {
                todo.add(f.getName());
            }
        }
    }

    /** Builds the body graphs of every kept While/If/Case of {@code g} into {@code g}'s subgraphs. */
    static void attach(Graph g, Map<String, FunctionDef> library, VersionDef versions) {
        for (Node n : List.copyOf(g.nodes())) {
            String op = n.op();
            if (WHILE.contains(op)) {
                List<TensorType> vars = loopVariableTypes(g, n);
                put(g, n, "cond", n.attrs().get("cond"), vars, library, versions);
                put(g, n, "body", n.attrs().get("body"), vars, library, versions);
            } else if (IF.contains(op) || CASE.contains(op)) {
                List<TensorType> args = new ArrayList<>();
                for (int i = 1; i < n.numDataInputs(); i++) {
                    args.add(typeOrUnknown(g, n.input(i)));
                }
                if (IF.contains(op)) {
                    put(g, n, "then_branch", n.attrs().get("then_branch"), args, library, versions);
                    put(g, n, "else_branch", n.attrs().get("else_branch"), args, library, versions);
                } else if (n.attrs().get("branches") instanceof dev.kiln.graph.AttrValue.ListFunc l) {
                    for (int b = 0; b < l.values().size(); b++) {
                        put(g, n, "branches_" + b, l.values().get(b), args, library, versions);
                    }
                }
            }
        }
    }

    /**
     * The types of a loop's variables: TensorFlow's shape invariants ({@code output_shapes}) where the While has them,
     * else the types of its initial values.
     */
    private static List<TensorType> loopVariableTypes(Graph g, Node n) {
        List<TensorType> out = new ArrayList<>();
        List<Shape> invariants = n.attrs().get("output_shapes") instanceof dev.kiln.graph.AttrValue.ListShape l
                ? l.values() : List.of();
        for (int i = 0; i < n.numDataInputs(); i++) {
            TensorType t = typeOrUnknown(g, n.input(i));
            out.add(invariants.size() == n.numDataInputs() ? new TensorType(t.dtype(), invariants.get(i)) : t);
        }
        return out;
    }

    private static TensorType typeOrUnknown(Graph g, TensorRef r) {
        TensorType t = g.typeOf(r);
        return t != null ? t : new TensorType(DType.FLOAT, Shape.unknown());
    }

    private static void put(Graph g, Node n, String attr, dev.kiln.graph.AttrValue f, List<TensorType> args,
                            Map<String, FunctionDef> library, VersionDef versions) {
        if (!(f instanceof dev.kiln.graph.AttrValue.Func func)) {
            throw KilnException.invalidModel(n.op() + " '" + n.name() + "' has no function attribute '" + attr + "'");
        }
        g.subgraphs().put(key(n.name(), attr), of(func, args, key(n.name(), attr), library, versions));
    }

    /** Function {@code f} as a Kiln graph whose inputs are Placeholders of {@code args}' types. */
    static Graph of(dev.kiln.graph.AttrValue.Func f, List<TensorType> args, String prefix,
                    Map<String, FunctionDef> library, VersionDef versions) {
        FunctionDef fd = library.get(f.name());
        if (fd == null) {
            throw KilnException.invalidModel("function '" + f.name() + "' (of '" + prefix + "') is not in the library");
        }
        List<NodeDef> placeholders = new ArrayList<>();
        List<String> argRefs = new ArrayList<>();
        for (int i = 0; i < args.size(); i++) {
            String name = prefix + "_arg_" + i;
            placeholders.add(NodeDef.newBuilder().setName(name).setOp("Placeholder")
                    .putAttr("dtype", AttrValue.newBuilder().setTypeValue(args.get(i).dtype().tfCode()).build())
                    .putAttr("shape", AttrValue.newBuilder().setShape(GraphDefs.toProto(args.get(i).shape())).build())
                    .build());
            argRefs.add(name);
        }
        Flattener sub = new Flattener(library);
        sub.addGraph(placeholders);
        Map<String, org.tensorflow.proto.AttrValue> attrs = new LinkedHashMap<>();
        f.attrs().forEach((k, v) -> attrs.put(k, GraphDefs.toProto(v)));
        int outputs = sub.addFunction(prefix, f.name(), attrs, argRefs);
        Map<String, NodeDef> nodes = new LinkedHashMap<>();
        sub.resolvedNodes().forEach(nd -> nodes.put(nd.getName(), nd));
        List<String> rets = new ArrayList<>();
        for (int k = 0; k < outputs; k++) {
            rets.add(sub.resolve(TensorRef.of(prefix, k).toString()));
        }
        Set<String> stop = new LinkedHashSet<>(argRefs);
        Map<String, NodeDef> live = TfImporter.prune(nodes, rets.stream().map(TensorRef::parse).toList(), stop);
        for (String a : argRefs) { // every argument stays an input, used or not
            live.putIfAbsent(a, nodes.get(a));
        }
        if (ControlFlowLowering.needed(live.values())) {
            live = ControlFlowLowering.lower(live, rets, library, versions, "", RecurrentLayers.AUTO);
        }
        GraphDef.Builder gd = GraphDef.newBuilder().addAllNode(live.values()).setVersions(versions);
        calledFunctions(live.values(), library).values().forEach(gd.getLibraryBuilder()::addFunction);
        Graph body = new Graph();
        try {
            TfImporter.addTyped(body, gd.build(), live.values());
        } catch (IllegalArgumentException | TensorFlowException e) {
            throw KilnException.invalidModel("TensorFlow rejects function '" + f.name() + "' of '" + prefix + "': "
                    + TfImporter.firstLine(e.getMessage()));
        }
        for (int i = 0; i < args.size(); i++) {
            body.addInput(new SignatureTensor("arg_" + i, TensorRef.of(argRefs.get(i), 0), args.get(i)));
        }
        for (int k = 0; k < rets.size(); k++) {
            TensorRef r = TensorRef.parse(rets.get(k));
            TensorType t = body.typeOf(r);
            if (t == null) {
                throw KilnException.invalidModel("function '" + f.name() + "' (of '" + prefix + "') returns '" + r
                        + "', which is not a tensor of its body");
            }
            body.addOutput(new SignatureTensor("ret_" + k, r, t));
        }
        attach(body, library, versions);
        return body;
    }
}
