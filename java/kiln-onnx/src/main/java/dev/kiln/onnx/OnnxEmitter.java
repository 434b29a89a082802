package dev.kiln.onnx;

import com.google.protobuf.ByteString;
import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;
import dev.kiln.graph.AttrValue;
import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.Shape;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.graph.TensorType;
import dev.kiln.onnx.proto.Onnx.AttributeProto;
import dev.kiln.onnx.proto.Onnx.GraphProto;
import dev.kiln.onnx.proto.Onnx.ModelProto;
import dev.kiln.onnx.proto.Onnx.NodeProto;
import dev.kiln.onnx.proto.Onnx.OperatorSetIdProto;
import dev.kiln.onnx.proto.Onnx.StringStringEntryProto;
import dev.kiln.onnx.proto.Onnx.TensorProto;
import dev.kiln.onnx.proto.Onnx.TensorShapeProto;
import dev.kiln.onnx.proto.Onnx.TypeProto;
import dev.kiln.onnx.proto.Onnx.ValueInfoProto;
import dev.kiln.quant.QuantParams;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One export: walks the live part of the graph in topological order and hands each node to the lowering registered
 * for its op ({@link OnnxLowerings}). The emitter owns what lowerings share: value names, layouts, initializers,
 * casts and Q/DQ; lowerings read inputs with {@link #get}, add nodes with {@link #add} and publish with {@link #put}.
 *
 * <p>Layout: every TF tensor maps to an ONNX value that holds it either as is ({@link Layout#NATIVE}) or, for 4-D NHWC
 * tensors, permuted to NCHW ({@link Layout#NCHW}). Conv and pooling produce NCHW; layout-agnostic ops (elementwise,
 * activations, comparisons, BiasAdd, BatchNorm, channel concat, spatial reductions, Pad, Transpose, Resize, LRN,
 * DepthToSpace) keep it, with constants reshaped/permuted at export; every other op asks for NATIVE, which inserts one
 * Transpose per tensor (cached), so a chain of convolutions has one Transpose at its input and one at its output.
 */
final class OnnxEmitter {
    static final String LAYOUT_SUFFIX = "/kiln_layout";
    static final int F32 = TensorProto.DataType.FLOAT_VALUE;
    static final int F16 = TensorProto.DataType.FLOAT16_VALUE;
    static final int I64 = TensorProto.DataType.INT64_VALUE;
    static final int F64 = TensorProto.DataType.DOUBLE_VALUE;
    static final int I32 = TensorProto.DataType.INT32_VALUE;
    static final int BOOL = TensorProto.DataType.BOOL_VALUE;
    static final int I8 = TensorProto.DataType.INT8_VALUE;
    static final int[] TO_NCHW = {0, 3, 1, 2};
    static final int[] TO_NHWC = {0, 2, 3, 1};
    /** Position in NCHW of NHWC axis i. */
    static final int[] NHWC_AXIS_IN_NCHW = {0, 2, 3, 1};

    enum Layout { NATIVE, NCHW, ANY }

    /** An ONNX value holding a TF tensor: name, layout, ONNX element type (0 unknown), rank (-1 unknown). */
    record Val(String name, Layout layout, int type, int rank) { }

    /** Integer codes (an ONNX value name) and the parameters they were quantized with. */
    private record Quantized(String codes, QuantParams q) { }

    private final OnnxExporter cfg;
    private final Graph g;
    private final int opset;
    private final List<NodeProto.Builder> nodes = new ArrayList<>();
    private final List<TensorProto> inits = new ArrayList<>();
    private final Map<String, Val> vals = new HashMap<>();
    private final Map<String, TensorRef> alias = new HashMap<>();
    private final Map<String, Val> derived = new HashMap<>();
    private final Map<String, String> constCache = new HashMap<>();
    /** Value names taken, in this graph and every subgraph of the model (ONNX names are unique across scopes). */
    private final Set<String> used;
    /**
     * TensorLists, by TF tensor ref: the ONNX value holding the stacked items ([n, ...]: a list made from a tensor, or
     * written by a loop), or null for a list reserved for a loop to write ({@link ControlFlowLowerings}).
     */
    private final Map<String, String> lists = new HashMap<>();
    private final Map<String, Integer> convByOutput = new HashMap<>();
    private final Map<String, Integer> dataUses = new HashMap<>();
    /** INT8 for ONNX Runtime: Q/DQ on quantized ops' outputs too, int8/int32 initializers (see Int8Target). */
    private final boolean ortInt8;
    /** Outputs of activation DequantizeLinear nodes (never quantized twice). */
    private final Set<String> dqOutputs = new HashSet<>();
    /** Conv output → {input scale, per-channel weight scales...} for int32 biases (ORT placement). */
    private final Map<String, float[]> convScales = new HashMap<>();
    private float[] lastWeightScales;
    /** Output of an activation DequantizeLinear → the integer codes it reads and their parameters. */
    private final Map<String, Quantized> quantizedBy = new HashMap<>();
    /** int8IO: the scale and zero point of every integer input and output. */
    private final List<StringStringEntryProto> ioMetadata = new ArrayList<>();
    /** Patterns lowered as one ONNX op, by their last node ({@link OnnxFusions}). */
    private Map<String, OnnxFusions.Fusion> fusions = Map.of();

    OnnxEmitter(OnnxExporter cfg, Graph g) {
        this(cfg, g, new HashSet<>());
    }

    private OnnxEmitter(OnnxExporter cfg, Graph g, Set<String> used) {
        this.cfg = cfg;
        this.g = g;
        this.opset = cfg.opset();
        this.ortInt8 = cfg.precision() == Precision.INT8 && cfg.int8Target() == Int8Target.ONNXRUNTIME;
        this.used = used;
    }

    // ---- subgraphs (control flow kept at import: ONNX Loop and If) ----

    /**
     * An emitter for {@code body}, a function of a kept control-flow node of this graph, that writes into its own node
     * list with names unique across the model. Bodies compute in float32 without Q/DQ, whatever the precision.
     */
    OnnxEmitter child(Graph body) {
        return new OnnxEmitter(OnnxExporter.builder().opset(opset).build(), body, used);
    }

    /** Binds input {@code i} of this (child) emitter's graph to value {@code v}. */
    void bindInput(int i, Val v) {
        vals.put(g.inputs().get(i).tensor().toString(), v);
    }

    /** Binds input {@code i} of this (child) emitter's graph to a TensorList (see {@link #list}). */
    void bindListInput(int i, String stacked) {
        lists.put(g.inputs().get(i).tensor().toString(), stacked);
    }

    /** The TensorList {@code r} holds: whether it is one, and the stacked items (null: reserved, not yet written). */
    boolean isList(TensorRef r) {
        return lists.containsKey(resolve(r).toString());
    }

    String list(TensorRef r) {
        return lists.get(resolve(r).toString());
    }

    void putList(Node n, int i, String stacked) {
        lists.put(TensorRef.of(n.name(), i).toString(), stacked);
    }

    /** Emits every node the graph's outputs need; returns the values of its outputs (float32 in a child emitter). */
    List<Val> emitBody() {
        List<Node> live = liveNodes();
        check(live);
        countDataUses(live);
        for (Node n : live) {
            emitNode(n);
        }
        List<Val> outs = new ArrayList<>();
        for (SignatureTensor s : g.outputs()) {
            outs.add(isList(s.tensor()) ? null : get(s.tensor(), Layout.NATIVE, -1));
        }
        return outs;
    }

    /** How many live data edges (and signature outputs) read each tensor, for {@link #uses}. */
    private void countDataUses(List<Node> live) {
        for (Node n : live) {
            for (TensorRef r : inputsOf(n)) {
                dataUses.merge(r.toString(), 1, Integer::sum);
            }
        }
        for (SignatureTensor s : g.outputs()) {
            dataUses.merge(s.tensor().toString(), 1, Integer::sum);
        }
    }

    /** Moves what a child emitted into this emitter's graph (a function inlined rather than made a subgraph). */
    void absorb(OnnxEmitter child) {
        nodes.addAll(child.nodes);
        inits.addAll(child.inits);
    }

    /**
     * What a child emitted, as a subgraph with these inputs and with {@code outputs} as its outputs (each through an
     * Identity to a fresh name, as ONNX wants distinct output names).
     */
    GraphProto subgraph(String hint, List<ValueInfoProto> inputs, List<Val> outputs) {
        GraphProto.Builder gb = GraphProto.newBuilder().setName(fresh(hint)).addAllInput(inputs);
        List<String> names = new ArrayList<>();
        for (Val v : outputs) {
            String out = add("Identity", hint + "/out", List.of(v.name()));
            names.add(out);
            gb.addOutput(ValueInfoProto.newBuilder().setName(out).setType(TypeProto.newBuilder().setTensorType(
                    TypeProto.Tensor.newBuilder().setElemType(v.type()))));
        }
        for (NodeProto.Builder nb : nodes) {
            gb.addNode(nb);
        }
        return gb.addAllInitializer(inits).build();
    }

    /** An input of a subgraph: a name of this model and an element type, shape left free. */
    ValueInfoProto subgraphInput(String hint, int type) {
        return ValueInfoProto.newBuilder().setName(fresh(hint)).setType(TypeProto.newBuilder().setTensorType(
                TypeProto.Tensor.newBuilder().setElemType(type))).build();
    }

    /** A scalar input of a subgraph (ONNX Runtime wants the shapes of a Loop body's iteration and condition). */
    ValueInfoProto scalarSubgraphInput(String hint, int type) {
        return ValueInfoProto.newBuilder().setName(fresh(hint)).setType(TypeProto.newBuilder().setTensorType(
                TypeProto.Tensor.newBuilder().setElemType(type).setShape(TensorShapeProto.getDefaultInstance())))
                .build();
    }

    Graph graph() {
        return g;
    }

    static AttributeProto attr(String name, GraphProto v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.GRAPH).setG(v).build();
    }

    ModelProto emit() {
        if (g.outputs().isEmpty()) {
            throw KilnException.invalidModel("graph has no outputs to export");
        }
        List<Node> live = liveNodes();
        fusions = OnnxFusions.find(g, live, opset, cfg.precision());
        if (!fusions.isEmpty()) {
            live = liveNodes(); // what only the fused patterns read is no longer live
        }
        check(live);
        for (SignatureTensor s : g.inputs()) {
            used.add(s.name());
        }
        for (SignatureTensor s : g.outputs()) {
            used.add(s.name());
        }
        GraphProto.Builder gb = GraphProto.newBuilder().setName(g.metadata().getOrDefault("name", "kiln"));
        for (SignatureTensor s : g.inputs()) {
            DType dt = s.type().dtype();
            int t = dt == DType.FLOAT && cfg.precision() == Precision.FP16 && cfg.halfIO() ? F16 : OnnxTensors.onnxType(dt);
            QuantParams q = cfg.int8IO() && dt == DType.FLOAT ? ioParams(s) : null;
            if (q != null) {
                gb.addInput(valueInfo(s.name(), integerType(q), s.type().shape()));
                vals.put(s.tensor().toString(), integerInput(s, q));
                continue;
            }
            gb.addInput(valueInfo(s.name(), t, s.type().shape()));
            vals.put(s.tensor().toString(), new Val(s.name(), Layout.NATIVE, t, s.type().shape().rank()));
        }
        countDataUses(live);
        for (Node n : live) {
            try {
                emitNode(n);
            } catch (KilnException e) {
                throw e;
            } catch (RuntimeException e) {
                throw KilnException.unsupported("cannot export node '" + n.name() + "' (" + n.op() + ") to ONNX: "
                        + e.getMessage());
            }
        }
        for (SignatureTensor s : g.outputs()) {
            Val v = get(s.tensor(), Layout.NATIVE, -1);
            int want = v.type;
            if (v.type == F16 || v.type == F32) {
                want = cfg.precision() == Precision.FP16 && cfg.halfIO() && s.type().dtype() == DType.FLOAT ? F16
                        : s.type().dtype() == DType.HALF ? F16 : F32;
            }
            v = cast(v, want);
            if (cfg.int8IO() && v.type == F32) {
                QuantParams q = ioParams(s);
                if (q == null) {
                    throw new KilnArgumentException("int8 I/O needs a calibrated range for output '" + s.name()
                            + "': calibrate the outputs too (Int8Placement.quantizableWithOutputs)");
                }
                ioMetadata(s, q);
                Quantized src = quantizedBy.get(v.name);
                if (src != null && Arrays.equals(src.q.scale(), q.scale()) && Arrays.equals(src.q.zeroPoint(),
                        q.zeroPoint()) && src.q.signed() == q.signed()) {
                    // the codes already exist (ORT placement): no DequantizeLinear → QuantizeLinear round trip
                    nodes.add(node("Identity", s.name() + "/kiln_output", List.of(src.codes), List.of(s.name())));
                } else {
                    String[] sz = ioScaleAndZero(s, q);
                    nodes.add(node("QuantizeLinear", s.name() + "/kiln_output", List.of(v.name, sz[0], sz[1]),
                            List.of(s.name())));
                }
                gb.addOutput(valueInfo(s.name(), integerType(q), s.type().shape()));
                continue;
            }
            nodes.add(node("Identity", s.name() + "/kiln_output", List.of(v.name), List.of(s.name())));
            gb.addOutput(valueInfo(s.name(), want, s.type().shape()));
        }
        for (NodeProto.Builder nb : nodes) {
            gb.addNode(nb);
        }
        gb.addAllInitializer(inits);
        return ModelProto.newBuilder()
                .setIrVersion(OnnxOpSupport.irVersionFor(opset))
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(opset))
                .setProducerName("kiln").setProducerVersion("0.1.0")
                .addMetadataProps(StringStringEntryProto.newBuilder().setKey("kiln.precision")
                        .setValue(cfg.precision().name()))
                .addAllMetadataProps(int8Metadata())
                .addAllMetadataProps(ioMetadata)
                .setGraph(gb).build();
    }

    /** For INT8 exports: the target layout, the weight range and method, so that a reader knows how the file was meant. */
    private List<StringStringEntryProto> int8Metadata() {
        Precision p = cfg.precision();
        if (p != Precision.INT8 && p != Precision.INT8_WEIGHTS_ONLY) {
            return List.of();
        }
        List<StringStringEntryProto> m = new ArrayList<>();
        if (p == Precision.INT8) {
            m.add(StringStringEntryProto.newBuilder().setKey("kiln.int8_target").setValue(cfg.int8Target().name())
                    .build());
        }
        m.add(StringStringEntryProto.newBuilder().setKey("kiln.int8_weight_range")
                .setValue(cfg.int8WeightRange().name()).build());
        m.add(StringStringEntryProto.newBuilder().setKey("kiln.int8_weight_method")
                .setValue(cfg.int8WeightMethod().toString()).build());
        return m;
    }

    // ---- integer inputs and outputs (int8IO) ----

    private static int integerType(QuantParams q) {
        return q.signed() ? TensorProto.DataType.INT8_VALUE : TensorProto.DataType.UINT8_VALUE;
    }

    /**
     * The activation parameters of a signature input or output, also when they are keyed by an Identity of it (the
     * placement names the tensor its consumer reads), or null.
     */
    private QuantParams ioParams(SignatureTensor s) {
        QuantParams q = quant(s.tensor());
        if (q == null) {
            for (Map.Entry<String, QuantParams> e : g.quantization().entrySet()) {
                if (throughIdentities(TensorRef.parse(e.getKey())).equals(s.tensor())) {
                    q = e.getValue();
                    break;
                }
            }
        }
        if (q != null && !q.perTensor()) {
            throw new KilnArgumentException("int8 I/O needs per-tensor parameters for '" + s.name() + "', it has "
                    + q.scale().length + " scales");
        }
        return q;
    }

    private TensorRef throughIdentities(TensorRef r) {
        TensorRef t = r;
        Node n = g.find(t.node());
        while (n != null && n.op().equals("Identity") && t.index() == 0) {
            t = n.input(0);
            n = g.find(t.node());
        }
        return t;
    }

    /** The scale and zero point initializers of an integer input or output. */
    private String[] ioScaleAndZero(SignatureTensor s, QuantParams q) {
        String scale = init(s.name() + "/scale", Tensor.ofFloats(Shape.scalar(), q.scale()[0]));
        String zero = init(s.name() + "/zero_point", Tensor.ofBytes(q.signed() ? DType.INT8 : DType.UINT8,
                Shape.scalar(), (byte) q.zeroPoint()[0]));
        return new String[] {scale, zero};
    }

    /** What a caller needs to quantize an integer input or dequantize an integer output. */
    private void ioMetadata(SignatureTensor s, QuantParams q) {
        ioMetadata.add(StringStringEntryProto.newBuilder().setKey("kiln.io." + s.name() + ".scale")
                .setValue(Float.toString(q.scale()[0])).build());
        ioMetadata.add(StringStringEntryProto.newBuilder().setKey("kiln.io." + s.name() + ".zero_point")
                .setValue(Integer.toString(q.zeroPoint()[0])).build());
    }

    /**
     * An integer input goes straight into a DequantizeLinear with its parameters; that output counts as already
     * quantized, so its consumers add no Q/DQ of their own.
     */
    private Val integerInput(SignatureTensor s, QuantParams q) {
        ioMetadata(s, q);
        String[] sz = ioScaleAndZero(s, q);
        String dq = add("DequantizeLinear", s.name() + "/dequantized", List.of(s.name(), sz[0], sz[1]));
        dqOutputs.add(dq);
        quantizedBy.put(dq, new Quantized(s.name(), q));
        return new Val(dq, Layout.NATIVE, F32, s.type().shape().rank());
    }

    // ---- liveness and checks ----

    private List<Node> liveNodes() {
        Set<String> live = new HashSet<>();
        Deque<String> todo = new ArrayDeque<>();
        for (SignatureTensor s : g.outputs()) {
            todo.add(s.tensor().node());
        }
        Set<String> inputNodes = new HashSet<>();
        for (SignatureTensor s : g.inputs()) {
            inputNodes.add(s.tensor().node());
        }
        while (!todo.isEmpty()) {
            String name = todo.poll();
            if (!live.add(name)) {
                continue;
            }
            Node n = g.node(name);
            if (inputNodes.contains(name)) {
                continue;
            }
            for (TensorRef r : inputsOf(n)) {
                todo.add(r.node());
            }
        }
        List<Node> out = new ArrayList<>();
        for (Node n : topoData(live)) {
            out.add(n);
        }
        return out;
    }

    /** What {@code n} reads: its data inputs, or those of the fused pattern it ends. */
    private List<TensorRef> inputsOf(Node n) {
        OnnxFusions.Fusion f = fusions.get(n.name());
        return f != null ? f.inputs() : n.dataInputs();
    }

    /** Topological order of the live nodes over data edges only. */
    private List<Node> topoData(Set<String> live) {
        List<Node> order = new ArrayList<>();
        Set<String> done = new HashSet<>();
        Set<String> inputNodes = new HashSet<>();
        for (SignatureTensor s : g.inputs()) {
            inputNodes.add(s.tensor().node());
        }
        for (String start : live) {
            if (done.contains(start)) {
                continue;
            }
            Deque<String[]> stack = new ArrayDeque<>();
            stack.push(new String[] {start, "0"});
            Set<String> onStack = new HashSet<>();
            onStack.add(start);
            while (!stack.isEmpty()) {
                String[] top = stack.peek();
                Node n = g.node(top[0]);
                List<TensorRef> ins = inputNodes.contains(n.name()) ? List.of() : inputsOf(n);
                int i = Integer.parseInt(top[1]);
                if (i < ins.size()) {
                    top[1] = Integer.toString(i + 1);
                    String dep = ins.get(i).node();
                    if (!done.contains(dep)) {
                        if (!onStack.add(dep)) {
                            throw KilnException.invalidModel("graph has a cycle through node '" + dep + "'");
                        }
                        stack.push(new String[] {dep, "0"});
                    }
                } else {
                    stack.pop();
                    onStack.remove(n.name());
                    if (done.add(n.name())) {
                        order.add(n);
                    }
                }
            }
        }
        return order;
    }

    private void check(List<Node> live) {
        Set<String> inputNodes = new HashSet<>();
        for (SignatureTensor s : g.inputs()) {
            inputNodes.add(s.tensor().node());
        }
        List<String> problems = new ArrayList<>();
        for (Node n : live) {
            if (inputNodes.contains(n.name())) {
                continue;
            }
            OnnxOpSupport.Mapping m = OnnxOpSupport.mapping(n.op());
            if (m == null) {
                problems.add("op '" + n.op() + "' (node '" + n.name() + "') has no ONNX mapping");
            } else if (m.minOpset() > opset) {
                problems.add("op '" + n.op() + "' (node '" + n.name() + "') needs opset >= " + m.minOpset()
                        + " (" + m.onnxOps() + "), exporting opset " + opset);
            } else if (n.op().equals("Placeholder")) {
                problems.add("Placeholder node '" + n.name() + "' is not a signature input");
            }
        }
        if (!problems.isEmpty()) {
            throw KilnException.unsupported("cannot export to ONNX, nothing written: " + problems.size()
                    + " problem(s): " + String.join("; ", problems));
        }
    }

    // ---- names, nodes, initializers ----

    private String fresh(String base) {
        String b = base.isEmpty() ? "v" : base;
        if (used.add(b)) {
            return b;
        }
        for (int i = 1; ; i++) {
            String c = b + "_" + i;
            if (used.add(c)) {
                return c;
            }
        }
    }

    private NodeProto.Builder node(String op, String name, List<String> ins, List<String> outs,
                                   AttributeProto... attrs) {
        NodeProto.Builder b = NodeProto.newBuilder().setOpType(op).setName(name).addAllInput(ins).addAllOutput(outs);
        for (AttributeProto a : attrs) {
            b.addAttribute(a);
        }
        return b;
    }

    /** Adds a node with one fresh output named after {@code hint}; returns the output name. */
    String add(String op, String hint, List<String> ins, AttributeProto... attrs) {
        String out = fresh(hint);
        nodes.add(node(op, out, ins, List.of(out), attrs));
        return out;
    }

    String init(String hint, Tensor t) {
        String name = fresh(hint);
        inits.add(OnnxTensors.toProto(name, t));
        return name;
    }

    String initLongs(String hint, long... v) {
        return init(hint, Tensor.ofLongs(Shape.of(v.length), v));
    }

    String scalarInit(String hint, int type, float v) {
        return init(hint, type == F16 ? OnnxTensors.toHalf(Tensor.scalar(v)) : Tensor.scalar(v));
    }

    /** A scalar of ONNX element type {@code type} (float, double or an integer type), as a tensor. */
    static Tensor scalarOf(int type, double v) {
        DType dt = OnnxTensors.kilnType(type);
        return switch (dt) {
            case FLOAT -> Tensor.scalar((float) v);
            case HALF -> OnnxTensors.toHalf(Tensor.scalar((float) v));
            case DOUBLE -> Tensor.ofDoubles(Shape.scalar(), v);
            case INT32 -> Tensor.scalar((int) v);
            case INT64 -> Tensor.ofLongs(Shape.scalar(), (long) v);
            case INT8, UINT8, BOOL -> Tensor.ofBytes(dt, Shape.scalar(), (byte) v);
            case INT16, UINT16 -> Tensor.ofShorts(dt, Shape.scalar(), (short) v);
            default -> throw KilnException.unsupported("no scalar constant of ONNX type " + type);
        };
    }

    /** An initializer holding scalar {@code v} of ONNX element type {@code type}. */
    String scalar(String hint, int type, double v) {
        return init(hint, scalarOf(type, v));
    }

    static AttributeProto attr(String name, long v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(v).build();
    }

    static AttributeProto attr(String name, float v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.FLOAT).setF(v).build();
    }

    static AttributeProto attr(String name, String v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.STRING)
                .setS(ByteString.copyFromUtf8(v)).build();
    }

    static AttributeProto attr(String name, Tensor v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.TENSOR)
                .setT(OnnxTensors.toProto(name, v)).build();
    }

    static AttributeProto attrs(String name, long... v) {
        AttributeProto.Builder b = AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INTS);
        for (long x : v) {
            b.addInts(x);
        }
        return b.build();
    }

    private static ValueInfoProto valueInfo(String name, int type, Shape shape) {
        TypeProto.Tensor.Builder tt = TypeProto.Tensor.newBuilder().setElemType(type);
        if (shape.hasRank()) {
            TensorShapeProto.Builder sb = TensorShapeProto.newBuilder();
            for (int i = 0; i < shape.rank(); i++) {
                long d = shape.dim(i);
                sb.addDim(d >= 0 ? TensorShapeProto.Dimension.newBuilder().setDimValue(d)
                        : TensorShapeProto.Dimension.newBuilder().setDimParam(i == 0 ? "batch" : name + "_d" + i));
            }
            tt.setShape(sb);
        }
        return ValueInfoProto.newBuilder().setName(name).setType(TypeProto.newBuilder().setTensorType(tt)).build();
    }

    // ---- values ----

    TensorRef resolve(TensorRef r) {
        TensorRef cur = r;
        for (int i = 0; i < 1000 && alias.containsKey(cur.toString()); i++) {
            cur = alias.get(cur.toString());
        }
        return cur;
    }

    Tensor constOf(TensorRef r) {
        TensorRef t = resolve(r);
        if (vals.containsKey(t.toString())) {
            return null;
        }
        return g.constantValue(t);
    }

    Tensor requireConst(Node n, int i, String what) {
        Tensor t = constOf(n.input(i));
        if (t == null) {
            throw KilnException.unsupported("node '" + n.name() + "' (" + n.op() + "): " + what
                    + " must be a constant for ONNX export (input " + n.input(i) + ")");
        }
        return t;
    }

    int rankOf(TensorRef r) {
        Tensor c = constOf(r);
        if (c != null) {
            return c.shape().rank();
        }
        Val v = vals.get(resolve(r).toString());
        if (v != null && v.rank >= 0) {
            return v.rank;
        }
        TensorType t = g.typeOf(resolve(r));
        return t == null ? -1 : t.shape().rank();
    }

    Layout layoutOf(TensorRef r) {
        Val v = vals.get(resolve(r).toString());
        return v == null ? Layout.NATIVE : v.layout;
    }

    static boolean isFloat(int t) {
        return t == F32 || t == F16;
    }

    /**
     * The ONNX value of {@code r} in layout {@code want} (ANY: as it is) and, when it is float, of float type
     * {@code floatType} (-1: as it is). Constants become initializers directly in the wanted layout and type.
     */
    Val get(TensorRef r0, Layout want, int floatType) {
        TensorRef r = resolve(r0);
        Val v = vals.get(r.toString());
        if (v == null) {
            Tensor c = g.constantValue(r);
            if (c == null) {
                Node p = g.find(r.node());
                throw KilnException.unsupported("tensor '" + r + "' is not available in ONNX"
                        + (p == null ? "" : " (output " + r.index() + " of " + p.op() + " node '" + p.name() + "')"));
            }
            return constVal(r, c, want, floatType);
        }
        if (want == Layout.NCHW && v.layout == Layout.NATIVE) {
            if (v.rank != 4 && v.rank != -1) {
                throw new IllegalStateException("tensor '" + r + "' of rank " + v.rank + " cannot be NCHW");
            }
            v = transpose(v, Layout.NCHW);
        } else if (want == Layout.NATIVE && v.layout == Layout.NCHW) {
            v = transpose(v, Layout.NATIVE);
        }
        return floatType > 0 ? cast(v, floatType) : v;
    }

    private Val transpose(Val v, Layout to) {
        String key = v.name + "->" + to;
        Val d = derived.get(key);
        if (d == null) {
            int[] perm = to == Layout.NCHW ? TO_NCHW : TO_NHWC;
            String out = fresh(v.name + (to == Layout.NCHW ? "/nchw" : "/nhwc"));
            nodes.add(node("Transpose", out + LAYOUT_SUFFIX, List.of(v.name), List.of(out),
                    attrs("perm", Arrays.stream(perm).asLongStream().toArray())));
            d = new Val(out, to, v.type, 4);
            derived.put(key, d);
        }
        return d;
    }

    Val cast(Val v, int type) {
        if (!isFloat(v.type) || !isFloat(type) || v.type == type) {
            return v;
        }
        String key = v.name + "->t" + type;
        Val d = derived.get(key);
        if (d == null) {
            String out = add("Cast", v.name + (type == F16 ? "/fp16" : "/fp32"), List.of(v.name), attr("to", type));
            d = new Val(out, v.layout, type, v.rank);
            derived.put(key, d);
        }
        return d;
    }

    private Val constVal(TensorRef r, Tensor c, Layout want, int floatType) {
        Tensor t = c;
        Layout l = Layout.NATIVE;
        if (want == Layout.NCHW) {
            int rank = t.shape().rank();
            if (rank > 4) {
                throw new IllegalStateException("constant '" + r + "' of rank " + rank + " cannot be NCHW");
            }
            if (rank > 0) {
                long[] d = t.shape().dims();
                long[] d4 = new long[4];
                Arrays.fill(d4, 1);
                System.arraycopy(d, 0, d4, 4 - rank, rank);
                t = permute(t.reshape(Shape.of(d4)), TO_NCHW);
                l = Layout.NCHW;
            }
        }
        boolean fl = t.dtype() == DType.FLOAT || t.dtype() == DType.HALF || t.dtype() == DType.DOUBLE;
        int type = fl && floatType > 0 ? floatType : OnnxTensors.onnxType(t.dtype());
        if (fl && floatType > 0) {
            t = type == F16 ? (t.dtype() == DType.HALF ? t : OnnxTensors.toHalf(t))
                    : (t.dtype() == DType.FLOAT ? t : Tensor.ofFloats(t.shape(), OnnxTensors.floats(t)));
        }
        String key = r + "|" + l + "|" + type;
        String name = constCache.get(key);
        if (name == null) {
            name = init(r.toString(), t);
            constCache.put(key, name);
        }
        return new Val(name, l == Layout.NATIVE && want == Layout.NCHW ? Layout.ANY : l, type, t.shape().rank());
    }

    void put(Node n, int i, Val v) {
        Val out = v;
        if (ortInt8 && v.type == F32) { // ORT placement: Q/DQ at the producer's output of every quantized activation
            QuantParams q = quant(TensorRef.of(n.name(), i));
            if (q != null) {
                out = qdq(v, q);
            }
        }
        vals.put(TensorRef.of(n.name(), i).toString(), out);
    }

    /** The float type a node computes in: float16 under FP16 unless kept in float32; its own type otherwise. */
    int computeType(Node n) {
        DType t = n.attr("T") instanceof AttrValue.Type ty ? ty.value() : DType.FLOAT;
        if (t == DType.FLOAT || t == DType.HALF) {
            boolean half = cfg.precision() == Precision.FP16
                    && !cfg.keepFloat32().contains(n.name()) && !cfg.keepFloat32().contains(n.op());
            return half ? F16 : F32;
        }
        return OnnxTensors.onnxType(t);
    }

    /** Whether {@code n} is kept in float by name or op type (FP16: float32; INT8: no Q/DQ on its inputs or weights). */
    boolean keptFloat(Node n) {
        return cfg.keepFloat32().contains(n.name()) || cfg.keepFloat32().contains(n.op());
    }

    /** The quantization of input {@code r} of {@code n}, or null when {@code n} is kept in float. */
    QuantParams quant(Node n, TensorRef r) {
        return keptFloat(n) ? null : quant(r);
    }

    QuantParams quant(TensorRef r) {
        if (cfg.precision() != Precision.INT8) {
            return null;
        }
        QuantParams q = g.quantization().get(r.toString());
        if (q == null) {
            q = g.quantization().get(resolve(r).toString());
        }
        return q;
    }

    /** Quantize-dequantize of an activation (cached per value), per tensor or per channel along its axis. */
    Val qdq(Val v, QuantParams q) {
        if (dqOutputs.contains(v.name)) {
            return v; // already quantized where it was produced (ORT placement)
        }
        String key = v.name + "->qdq";
        Val d = derived.get(key);
        if (d != null) {
            return d;
        }
        int axis = q.axis();
        if (q.perChannel() && v.layout == Layout.NCHW) {
            axis = NHWC_AXIS_IN_NCHW[axis];
        }
        Shape s = q.perChannel() ? Shape.of(q.scale().length) : Shape.scalar();
        String scale = init(v.name + "/scale", Tensor.ofFloats(s, q.scale()));
        int[] zp = q.zeroPoint();
        byte[] zb = new byte[zp.length];
        for (int i = 0; i < zp.length; i++) {
            zb[i] = (byte) zp[i];
        }
        String zero = init(v.name + "/zero_point", Tensor.ofBytes(q.signed() ? DType.INT8 : DType.UINT8, s, zb));
        AttributeProto[] ax = q.perChannel() ? new AttributeProto[] {attr("axis", axis)} : new AttributeProto[0];
        String qn = add("QuantizeLinear", v.name + "/quantized", List.of(v.name, scale, zero), ax);
        String dq = add("DequantizeLinear", v.name + "/dequantized", List.of(qn, scale, zero), ax);
        d = new Val(dq, v.layout, F32, v.rank);
        derived.put(key, d);
        dqOutputs.add(dq);
        quantizedBy.put(dq, new Quantized(qn, q));
        return d;
    }

    /** A weight initializer (already in ONNX layout), quantized per channel along {@code axis} under INT8. */
    String weight(Node n, String hint, Tensor w, int axis, int type) {
        Precision p = cfg.precision();
        if (p != Precision.INT8 && p != Precision.INT8_WEIGHTS_ONLY || keptFloat(n)) {
            return init(hint, type == F16 ? OnnxTensors.toHalf(w) : w);
        }
        float[] f = OnnxTensors.floats(w);
        long[] dims = w.shape().dims();
        int qmax = cfg.int8WeightRange().qmax();
        float[] scales = QuantMath.symmetricScales(f, dims, axis, qmax, cfg.int8WeightMethod());
        lastWeightScales = scales;
        String scale = init(hint + "/scale", Tensor.ofFloats(Shape.of(scales.length), scales));
        String zero = init(hint + "/zero_point", Tensor.ofBytes(DType.INT8, Shape.of(scales.length),
                new byte[scales.length]));
        String q;
        if (p == Precision.INT8_WEIGHTS_ONLY || ortInt8) { // int8 initializer: what ORT's QDQ selectors want
            q = init(hint + "/int8", Tensor.ofBytes(DType.INT8, w.shape(), QuantMath.quantizeSymmetric(f, dims, axis,
                    scales, qmax)));
        } else {
            String fw = init(hint, w.dtype() == DType.FLOAT ? w : Tensor.ofFloats(w.shape(), f));
            q = add("QuantizeLinear", hint + "/quantized", List.of(fw, scale, zero), attr("axis", axis));
        }
        return add("DequantizeLinear", hint + "/dequantized", List.of(q, scale, zero), attr("axis", axis));
    }

    // ---- ops ----

    private void emitNode(Node n) {
        if (vals.containsKey(TensorRef.of(n.name(), 0).toString()) && !n.op().equals("Const")) {
            return; // a signature input
        }
        OnnxFusions.Fusion f = fusions.get(n.name());
        (f != null ? f.lowering() : OnnxLowerings.require(n).lowering()).lower(this, n);
    }

    // ---- what lowerings use besides get/put/add (conv bias fusion, int32 biases, general casts) ----

    /** Records that {@code out} is the output of the Conv node just added, with its INT8 scales (or null). */
    void markConv(String out, float[] inputAndWeightScales) {
        convByOutput.put(out, nodes.size() - 1);
        if (inputAndWeightScales != null) {
            convScales.put(out, inputAndWeightScales);
        }
    }

    /** The Conv node that writes {@code out} when nothing else reads it yet, or null. */
    NodeProto.Builder convNode(String out) {
        Integer i = convByOutput.get(out);
        return i == null ? null : nodes.get(i);
    }

    /** The INT8 input and weight scales of the Conv that writes {@code out}, or null. */
    float[] convScales(String out) {
        return convScales.get(out);
    }

    /** How many live data edges read {@code r} (signature outputs included). */
    int uses(TensorRef r) {
        return dataUses.getOrDefault(resolve(r).toString(), 0);
    }

    /** The per-channel weight scales of the last {@link #weight} call under INT8. */
    float[] lastWeightScales() {
        return lastWeightScales;
    }

    /** Makes output {@code i} of {@code n} another name of {@code r} (no ONNX node). */
    void alias(Node n, int i, TensorRef r) {
        alias.put(TensorRef.of(n.name(), i).toString(), r);
    }

    /** {@code v} cast to ONNX element type {@code type} (any types; a no-op when it already is). */
    Val castTo(Val v, int type) {
        if (v.type == type) {
            return v;
        }
        return new Val(add("Cast", v.name + "/to" + type, List.of(v.name), attr("to", (long) type)), v.layout, type,
                v.rank);
    }

    /** Adds a node with {@code count} fresh outputs named after {@code hint}; returns the output names. */
    List<String> addMulti(String op, String hint, List<String> ins, int count, AttributeProto... attrs) {
        List<String> outs = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            outs.add(fresh(count == 1 ? hint : hint + ":" + i));
        }
        nodes.add(node(op, outs.get(0), ins, outs, attrs));
        return outs;
    }

    OnnxExporter cfg() {
        return cfg;
    }

    int opset() {
        return opset;
    }

    boolean ortInt8() {
        return ortInt8;
    }

    /** The TF type of {@code r} as the importer inferred it, or null. */
    TensorType typeOf(TensorRef r) {
        return g.typeOf(resolve(r));
    }

    // ---- constant data ----

    /** {@code t} with its axes permuted: output dim i is input dim perm[i]. */
    static Tensor permute(Tensor t, int[] perm) {
        long[] d = t.shape().dims();
        int r = d.length;
        long[] nd = new long[r];
        long[] inStride = new long[r];
        long s = 1;
        for (int i = r - 1; i >= 0; i--) {
            inStride[i] = s;
            s *= d[i];
        }
        for (int i = 0; i < r; i++) {
            nd[i] = d[perm[i]];
        }
        int es = t.dtype().byteSize();
        int n = (int) t.numElements();
        ByteBuffer src = t.bytes();
        byte[] in = new byte[src.remaining()];
        src.get(in);
        byte[] out = new byte[in.length];
        long[] idx = new long[r];
        long[] stride = new long[r];
        for (int i = 0; i < r; i++) {
            stride[i] = inStride[perm[i]];
        }
        long off = 0;
        for (int o = 0; o < n; o++) {
            System.arraycopy(in, (int) (off * es), out, o * es, es);
            for (int k = r - 1; k >= 0; k--) {
                idx[k]++;
                off += stride[k];
                if (idx[k] < nd[k]) {
                    break;
                }
                off -= stride[k] * nd[k];
                idx[k] = 0;
            }
        }
        return Tensor.wrap(t.dtype(), Shape.of(nd), ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN));
    }

}
