package dev.kiln.graph;

import dev.kiln.KilnException;
import dev.kiln.quant.QuantParams;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Kiln's graph IR: the one representation that import produces and every pass, quantizer and exporter works on.
 *
 * <p>A flat dataflow graph of TensorFlow-vocabulary {@link Node}s (functions inlined, except the control flow import
 * keeps: a loop of unknown length, a branch decided at run time, a Keras LSTM/GRU kept whole, whose functions are
 * in {@link #functions()} and their bodies, as graphs, in {@link #subgraphs()}), keyed by unique name in
 * insertion order; the public signature (inputs and outputs with their names); weights as {@code Const} nodes holding
 * {@link Tensor}s; and annotations that later stages add: quantization parameters per tensor and sparsity per weight.
 *
 * <p>Mutable container of immutable nodes: passes change a graph in place by replacing nodes. {@link #copy()} is
 * cheap (nodes and tensors are shared), so a caller that wants to keep the original copies first.
 */
public final class Graph {
    private final Map<String, Node> nodes = new LinkedHashMap<>();
    private final List<SignatureTensor> inputs = new ArrayList<>();
    private final List<SignatureTensor> outputs = new ArrayList<>();
    private final Map<String, QuantParams> quantization = new LinkedHashMap<>();
    private final Map<String, SparsityInfo> sparsity = new LinkedHashMap<>();
    private final Map<String, String> metadata = new LinkedHashMap<>();
    private final Map<String, byte[]> functions = new LinkedHashMap<>();
    private final Map<String, Graph> subgraphs = new LinkedHashMap<>();

    public Graph() {
    }

    /** A copy sharing the (immutable) nodes and tensors; kept control flow's bodies are copied the same way. */
    public Graph copy() {
        Graph g = new Graph();
        g.nodes.putAll(nodes);
        g.inputs.addAll(inputs);
        g.outputs.addAll(outputs);
        g.quantization.putAll(quantization);
        g.sparsity.putAll(sparsity);
        g.metadata.putAll(metadata);
        g.functions.putAll(functions);
        subgraphs.forEach((k, body) -> g.subgraphs.put(k, body.copy())); // passes change bodies in place too
        return g;
    }

    // ---- nodes ----

    public Collection<Node> nodes() {
        return java.util.Collections.unmodifiableCollection(nodes.values());
    }

    public int size() {
        return nodes.size();
    }

    public boolean contains(String name) {
        return nodes.containsKey(name);
    }

    /** The node called {@code name}, or null. */
    public Node find(String name) {
        return nodes.get(name);
    }

    /** The node called {@code name}; throws naming it when there is none. */
    public Node node(String name) {
        Node n = nodes.get(name);
        if (n == null) {
            throw KilnException.invalidModel("graph has no node '" + name + "'");
        }
        return n;
    }

    /** Adds a new node; its name must be unused. */
    public Node add(Node node) {
        if (nodes.containsKey(node.name())) {
            throw new IllegalArgumentException("graph already has a node '" + node.name() + "'");
        }
        nodes.put(node.name(), node);
        return node;
    }

    /** Replaces the node of the same name (which must exist). */
    public Node replace(Node node) {
        if (!nodes.containsKey(node.name())) {
            throw new IllegalArgumentException("graph has no node '" + node.name() + "' to replace");
        }
        nodes.put(node.name(), node);
        return node;
    }

    /** Removes a node; consumers must have been rewired first. Returns the removed node or null. */
    public Node remove(String name) {
        return nodes.remove(name);
    }

    /** A node name not yet used, derived from {@code base}. */
    public String uniqueName(String base) {
        if (!nodes.containsKey(base)) {
            return base;
        }
        for (int i = 1; ; i++) {
            String candidate = base + "_" + i;
            if (!nodes.containsKey(candidate)) {
                return candidate;
            }
        }
    }

    /** The type of the tensor {@code ref}, or null when unknown. */
    public TensorType typeOf(TensorRef ref) {
        Node n = nodes.get(ref.node());
        return n == null ? null : n.outputType(ref.index());
    }

    /** The value of {@code ref} when it is the output of a {@code Const} node, else null. */
    public Tensor constantValue(TensorRef ref) {
        Node n = nodes.get(ref.node());
        if (n == null || !n.op().equals("Const") || ref.index() != 0) {
            return null;
        }
        return n.attrTensor("value");
    }

    /** For each node name, the names of the nodes that consume any of its outputs (data or control). */
    public Map<String, List<String>> consumers() {
        Map<String, List<String>> out = new HashMap<>();
        for (Node n : nodes.values()) {
            for (String in : n.inputs()) {
                TensorRef r = TensorRef.parse(in);
                List<String> list = out.computeIfAbsent(r.node(), k -> new ArrayList<>());
                if (!list.contains(n.name())) {
                    list.add(n.name());
                }
            }
        }
        return out;
    }

    /** The nodes that read {@code ref} as a data input. */
    public List<Node> dataConsumers(TensorRef ref) {
        List<Node> out = new ArrayList<>();
        for (Node n : nodes.values()) {
            for (TensorRef in : n.dataInputs()) {
                if (in.equals(ref)) {
                    out.add(n);
                    break;
                }
            }
        }
        return out;
    }

    /** Whether {@code ref} is one of the signature outputs. */
    public boolean isOutput(TensorRef ref) {
        for (SignatureTensor o : outputs) {
            if (o.tensor().equals(ref)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Makes every data consumer of {@code from} (and every signature output bound to it) read {@code to} instead.
     * Control inputs on {@code from}'s node are left alone.
     */
    public void rewire(TensorRef from, TensorRef to) {
        String fromText = from.toString();
        String fromAlt = from.index() == 0 ? from.node() + ":0" : null;
        for (Node n : new ArrayList<>(nodes.values())) {
            boolean changed = false;
            List<String> ins = new ArrayList<>(n.inputs());
            for (int i = 0; i < ins.size(); i++) {
                String in = ins.get(i);
                if (in.equals(fromText) || in.equals(fromAlt)) {
                    ins.set(i, to.toString());
                    changed = true;
                }
            }
            if (changed) {
                nodes.put(n.name(), n.withInputs(ins));
            }
        }
        for (int i = 0; i < outputs.size(); i++) {
            if (outputs.get(i).tensor().equals(from)) {
                outputs.set(i, outputs.get(i).withTensor(to));
            }
        }
        QuantParams q = quantization.remove(fromText);
        if (q != null && !quantization.containsKey(to.toString())) {
            quantization.put(to.toString(), q);
        }
    }

    /**
     * The nodes in an order where every node comes after all its inputs (data and control). Throws naming a node on
     * a cycle or a dangling input.
     */
    public List<Node> topologicalOrder() {
        Map<String, Integer> pending = new HashMap<>();
        Map<String, List<String>> users = new HashMap<>();
        for (Node n : nodes.values()) {
            int count = 0;
            for (String in : n.inputs()) {
                String src = TensorRef.parse(in).node();
                if (!nodes.containsKey(src)) {
                    throw KilnException.invalidModel("node '" + n.name() + "' (" + n.op() + ") reads '" + in
                            + "', which is not in the graph");
                }
                users.computeIfAbsent(src, k -> new ArrayList<>()).add(n.name());
                count++;
            }
            pending.put(n.name(), count);
        }
        Deque<String> ready = new ArrayDeque<>();
        for (Node n : nodes.values()) {
            if (pending.get(n.name()) == 0) {
                ready.add(n.name());
            }
        }
        List<Node> order = new ArrayList<>(nodes.size());
        while (!ready.isEmpty()) {
            String name = ready.poll();
            order.add(nodes.get(name));
            for (String u : users.getOrDefault(name, List.of())) {
                if (pending.merge(u, -1, Integer::sum) == 0) {
                    ready.add(u);
                }
            }
        }
        if (order.size() != nodes.size()) {
            String stuck = pending.entrySet().stream().filter(e -> e.getValue() > 0).map(Map.Entry::getKey)
                    .findFirst().orElse("?");
            throw KilnException.invalidModel("graph has a cycle through node '" + stuck + "'");
        }
        return order;
    }

    /** Count of nodes per op type, sorted by op name. */
    public Map<String, Integer> opHistogram() {
        Map<String, Integer> h = new TreeMap<>();
        for (Node n : nodes.values()) {
            h.merge(n.op(), 1, Integer::sum);
        }
        return h;
    }

    // ---- signature ----

    public List<SignatureTensor> inputs() {
        return java.util.Collections.unmodifiableList(inputs);
    }

    public List<SignatureTensor> outputs() {
        return java.util.Collections.unmodifiableList(outputs);
    }

    public void addInput(SignatureTensor in) {
        inputs.add(in);
    }

    public void addOutput(SignatureTensor out) {
        outputs.add(out);
    }

    public void setInputs(List<SignatureTensor> ins) {
        inputs.clear();
        inputs.addAll(ins);
    }

    public void setOutputs(List<SignatureTensor> outs) {
        outputs.clear();
        outputs.addAll(outs);
    }

    // ---- annotations ----

    /** Quantization parameters by tensor reference text ({@code "conv1/Relu"}, {@code "split:1"}). */
    public Map<String, QuantParams> quantization() {
        return quantization;
    }

    /** Sparsity of weight constants by node name. */
    public Map<String, SparsityInfo> sparsity() {
        return sparsity;
    }

    /** Free-form facts about where the graph came from: source path, tags, signature key, producer. */
    public Map<String, String> metadata() {
        return metadata;
    }

    /**
     * Function definitions that nodes kept whole call (a Keras LSTM layer whose loop is kept rather than unrolled), by
     * name, in the source framework's serialized form (TensorFlow's FunctionDef, with every function it calls). Opaque
     * to passes; the TensorFlow exporter writes them back as the graph's function library.
     */
    public Map<String, byte[]> functions() {
        return functions;
    }

    /**
     * Bodies of the control flow kept in this graph (a loop's condition and body, an If's branches), as Kiln graphs
     * whose inputs are the function's arguments and outputs its return values, keyed by node name and attribute
     * ({@code "loop/body"}, {@code "case/branches_1"}); for exporters that write control flow as subgraphs (ONNX Loop
     * and If). The TensorFlow exporter writes {@link #functions()} instead.
     */
    public Map<String, Graph> subgraphs() {
        return subgraphs;
    }

    /**
     * Whether import kept control flow here (a loop, a run-time branch, a Keras LSTM/GRU kept whole): then the model
     * may take sequences of any length.
     */
    public boolean keepsControlFlow() {
        return !subgraphs.isEmpty() || nodes.values().stream().anyMatch(n -> RecurrentCall.of(n) != null);
    }

    // ---- sizes ----

    /** Number of weight elements: the elements of all {@code Const} nodes of floating-point type. */
    public long parameterCount() {
        long n = 0;
        for (Node node : nodes.values()) {
            if (node.op().equals("Const")) {
                Tensor t = node.attrTensor("value");
                if (t.dtype().isFloatingPoint()) {
                    n += t.numElements();
                }
            }
        }
        return n;
    }

    /** Bytes of constant data by dtype. */
    public Map<DType, Long> constantBytesByType() {
        Map<DType, Long> out = new TreeMap<>();
        for (Node node : nodes.values()) {
            if (node.op().equals("Const")) {
                Tensor t = node.attrTensor("value");
                out.merge(t.dtype(), t.byteSize(), Long::sum);
            }
        }
        return out;
    }

    @Override
    public String toString() {
        return "Graph[" + nodes.size() + " nodes, inputs " + inputs.stream().map(SignatureTensor::name).toList()
                + ", outputs " + outputs.stream().map(SignatureTensor::name).toList() + "]";
    }

    /** How many data inputs of all nodes read an output of {@code node} (control inputs not counted). */
    public int dataReaderCount(String node) {
        int reads = 0;
        for (Node n : nodes()) {
            for (TensorRef r : n.dataInputs()) {
                if (r.node().equals(node)) {
                    reads++;
                }
            }
        }
        return reads;
    }

    /** Rewires data input {@code index} of {@code node} (counting data inputs only, not control ones) to {@code to}. */
    public void setDataInput(String node, int index, TensorRef to) {
        Node n = node(node);
        java.util.List<String> ins = new java.util.ArrayList<>(n.inputs());
        int data = -1;
        for (int i = 0; i < ins.size(); i++) {
            if (!ins.get(i).startsWith("^") && ++data == index) {
                ins.set(i, to.toString());
                replace(n.withInputs(ins));
                return;
            }
        }
        throw new dev.kiln.KilnArgumentException("node '" + node + "' has no data input " + index);
    }
}
