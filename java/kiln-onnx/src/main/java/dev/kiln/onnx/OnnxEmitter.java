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
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One export: walks the live part of the graph in topological order and writes ONNX nodes.
 *
 * <p>Layout: every TF tensor maps to an ONNX value that holds it either as is ({@link Layout#NATIVE}) or, for 4-D NHWC
 * tensors, permuted to NCHW ({@link Layout#NCHW}). Conv and pooling produce NCHW; layout-agnostic ops (elementwise,
 * activations, BiasAdd, BatchNorm, channel concat, spatial reductions, Pad, Transpose) keep it, with constants
 * reshaped/permuted at export; every other op asks for NATIVE, which inserts one Transpose per tensor (cached), so a
 * chain of convolutions has one Transpose at its input and one at its output.
 */
final class OnnxEmitter {
    static final String LAYOUT_SUFFIX = "/kiln_layout";
    private static final int F32 = TensorProto.DataType.FLOAT_VALUE;
    private static final int F16 = TensorProto.DataType.FLOAT16_VALUE;
    private static final int I64 = TensorProto.DataType.INT64_VALUE;
    private static final int[] TO_NCHW = {0, 3, 1, 2};
    private static final int[] TO_NHWC = {0, 2, 3, 1};
    /** Position in NCHW of NHWC axis i. */
    private static final int[] NHWC_AXIS_IN_NCHW = {0, 2, 3, 1};

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
    private final Set<String> used = new HashSet<>();
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

    OnnxEmitter(OnnxExporter cfg, Graph g) {
        this.cfg = cfg;
        this.g = g;
        this.opset = cfg.opset();
        this.ortInt8 = cfg.precision() == Precision.INT8 && cfg.int8Target() == Int8Target.ONNXRUNTIME;
    }

    ModelProto emit() {
        if (g.outputs().isEmpty()) {
            throw KilnException.invalidModel("graph has no outputs to export");
        }
        List<Node> live = liveNodes();
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
        for (Node n : live) {
            for (TensorRef r : n.dataInputs()) {
                dataUses.merge(r.toString(), 1, Integer::sum);
            }
        }
        for (SignatureTensor s : g.outputs()) {
            dataUses.merge(s.tensor().toString(), 1, Integer::sum);
        }
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
            for (TensorRef r : n.dataInputs()) {
                todo.add(r.node());
            }
        }
        List<Node> out = new ArrayList<>();
        for (Node n : topoData(live)) {
            out.add(n);
        }
        return out;
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
                List<TensorRef> ins = inputNodes.contains(n.name()) ? List.of() : n.dataInputs();
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
    private String add(String op, String hint, List<String> ins, AttributeProto... attrs) {
        String out = fresh(hint);
        nodes.add(node(op, out, ins, List.of(out), attrs));
        return out;
    }

    private String init(String hint, Tensor t) {
        String name = fresh(hint);
        inits.add(OnnxTensors.toProto(name, t));
        return name;
    }

    private String initLongs(String hint, long... v) {
        return init(hint, Tensor.ofLongs(Shape.of(v.length), v));
    }

    private String scalarInit(String hint, int type, float v) {
        return init(hint, type == F16 ? OnnxTensors.toHalf(Tensor.scalar(v)) : Tensor.scalar(v));
    }

    private static AttributeProto attr(String name, long v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.INT).setI(v).build();
    }

    private static AttributeProto attr(String name, float v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.FLOAT).setF(v).build();
    }

    private static AttributeProto attr(String name, String v) {
        return AttributeProto.newBuilder().setName(name).setType(AttributeProto.AttributeType.STRING)
                .setS(ByteString.copyFromUtf8(v)).build();
    }

    private static AttributeProto attrs(String name, long... v) {
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

    private TensorRef resolve(TensorRef r) {
        TensorRef cur = r;
        for (int i = 0; i < 1000 && alias.containsKey(cur.toString()); i++) {
            cur = alias.get(cur.toString());
        }
        return cur;
    }

    private Tensor constOf(TensorRef r) {
        TensorRef t = resolve(r);
        if (vals.containsKey(t.toString())) {
            return null;
        }
        return g.constantValue(t);
    }

    private Tensor requireConst(Node n, int i, String what) {
        Tensor t = constOf(n.input(i));
        if (t == null) {
            throw KilnException.unsupported("node '" + n.name() + "' (" + n.op() + "): " + what
                    + " must be a constant for ONNX export (input " + n.input(i) + ")");
        }
        return t;
    }

    private int rankOf(TensorRef r) {
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

    private Layout layoutOf(TensorRef r) {
        Val v = vals.get(resolve(r).toString());
        return v == null ? Layout.NATIVE : v.layout;
    }

    private static boolean isFloat(int t) {
        return t == F32 || t == F16;
    }

    /**
     * The ONNX value of {@code r} in layout {@code want} (ANY: as it is) and, when it is float, of float type
     * {@code floatType} (-1: as it is). Constants become initializers directly in the wanted layout and type.
     */
    private Val get(TensorRef r0, Layout want, int floatType) {
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

    private Val cast(Val v, int type) {
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

    private void put(Node n, int i, Val v) {
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
    private int computeType(Node n) {
        DType t = n.attr("T") instanceof AttrValue.Type ty ? ty.value() : DType.FLOAT;
        if (t == DType.FLOAT || t == DType.HALF) {
            boolean half = cfg.precision() == Precision.FP16
                    && !cfg.keepFloat32().contains(n.name()) && !cfg.keepFloat32().contains(n.op());
            return half ? F16 : F32;
        }
        return OnnxTensors.onnxType(t);
    }

    /** Whether {@code n} is kept in float by name or op type (FP16: float32; INT8: no Q/DQ on its inputs or weights). */
    private boolean keptFloat(Node n) {
        return cfg.keepFloat32().contains(n.name()) || cfg.keepFloat32().contains(n.op());
    }

    /** The quantization of input {@code r} of {@code n}, or null when {@code n} is kept in float. */
    private QuantParams quant(Node n, TensorRef r) {
        return keptFloat(n) ? null : quant(r);
    }

    private QuantParams quant(TensorRef r) {
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
    private Val qdq(Val v, QuantParams q) {
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
    private String weight(Node n, String hint, Tensor w, int axis, int type) {
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
        String op = n.op();
        if (vals.containsKey(TensorRef.of(n.name(), 0).toString()) && !op.equals("Const")) {
            return; // a signature input
        }
        switch (op) {
            case "Const", "NoOp", "Placeholder" -> { }
            case "Identity", "Snapshot", "StopGradient", "PreventGradient", "CheckNumerics", "PlaceholderWithDefault" ->
                    alias.put(TensorRef.of(n.name(), 0).toString(), n.input(0));
            case "Conv2D", "DepthwiseConv2dNative" -> conv(n);
            case "MatMul" -> matmul(n);
            case "BatchMatMul", "BatchMatMulV2", "BatchMatMulV3" -> batchMatmul(n);
            case "BiasAdd" -> biasAdd(n);
            case "Add", "AddV2" -> binary(n, "Add");
            case "Sub" -> binary(n, "Sub");
            case "Mul" -> binary(n, "Mul");
            case "RealDiv" -> binary(n, "Div");
            case "Maximum" -> binary(n, "Max");
            case "Minimum" -> binary(n, "Min");
            case "BitwiseAnd", "BitwiseOr", "BitwiseXor" -> binary(n, op);
            case "Relu", "Sigmoid", "Tanh", "Exp", "Log", "Neg", "Sqrt", "Abs", "Floor" -> unary(n, op);
            case "RandomUniform" -> {
                Val shape = get(n.input(0), Layout.NATIVE, -1);
                String s64 = shape.type == I64 ? shape.name
                        : add("Cast", shape.name + "/int64", List.of(shape.name), attr("to", I64));
                int dt = computeType(n.toBuilder().attr("T", n.attrType("dtype")).build());
                String zeros = add("ConstantOfShape", n.name() + "/zeros", List.of(s64));
                String out = add("RandomUniformLike", n.name(), List.of(zeros), attr("dtype", (long) dt),
                        attr("low", 0f), attr("high", 1f));
                put(n, 0, new Val(out, Layout.NATIVE, dt, -1));
            }
            case "Elu" -> unary(n, "Elu", attr("alpha", 1.0f));
            case "LeakyRelu" -> unary(n, "LeakyRelu", attr("alpha", n.attrFloat("alpha", 0.2f)));
            case "Relu6", "Rsqrt", "Square" -> special(n);
            case "Softmax", "LogSoftmax" -> {
                Val x = get(n.input(0), Layout.NATIVE, computeType(n));
                put(n, 0, new Val(add(op, n.name(), List.of(x.name), attr("axis", -1L)), Layout.NATIVE, x.type,
                        x.rank));
            }
            case "MaxPool", "AvgPool" -> pool(n);
            case "Mean", "Sum", "Max", "Min" -> reduce(n);
            case "Reshape" -> reshape(n);
            case "Squeeze" -> squeeze(n);
            case "ExpandDims" -> {
                Val x = get(n.input(0), Layout.NATIVE, -1);
                long dim = requireConst(n, 1, "dim").asLongs()[0];
                String out = add("Unsqueeze", n.name(), List.of(x.name, initLongs(n.name() + "/axes", dim)));
                put(n, 0, new Val(out, Layout.NATIVE, x.type, x.rank < 0 ? -1 : x.rank + 1));
            }
            case "Transpose" -> transposeOp(n);
            case "ConcatV2" -> concat(n);
            case "Pad", "PadV2" -> pad(n);
            case "Slice" -> slice(n);
            case "StridedSlice" -> stridedSlice(n);
            case "Cast" -> castOp(n);
            case "Pack" -> pack(n);
            case "Shape" -> {
                Val x = get(n.input(0), Layout.NATIVE, -1);
                String out = add("Shape", n.name(), List.of(x.name));
                DType ot = n.attr("out_type") instanceof AttrValue.Type t ? t.value() : DType.INT32;
                int type = I64;
                if (ot != DType.INT64) {
                    type = OnnxTensors.onnxType(ot);
                    out = add("Cast", n.name() + "/cast", List.of(out), attr("to", type));
                }
                put(n, 0, new Val(out, Layout.NATIVE, type, 1));
            }
            case "FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3" -> batchNorm(n);
            default -> throw KilnException.unsupported("op '" + op + "' (node '" + n.name() + "') has no ONNX mapping");
        }
    }

    private boolean nhwc(Node n) {
        return n.attrString("data_format", "NHWC").equals("NHWC");
    }

    private long[] spatial(Node n, String key, boolean nhwc) {
        long[] v = n.attrInts(key, new long[] {1, 1, 1, 1});
        return nhwc ? new long[] {v[1], v[2]} : new long[] {v[2], v[3]};
    }

    private List<AttributeProto> padding(Node n, boolean nhwc) {
        String p = n.attrString("padding", "VALID");
        return switch (p) {
            case "SAME" -> List.of(attr("auto_pad", "SAME_UPPER"));
            case "VALID" -> List.of(attrs("pads", 0, 0, 0, 0));
            case "EXPLICIT" -> {
                long[] e = n.attrInts("explicit_paddings");
                int h = nhwc ? 1 : 2;
                int w = nhwc ? 2 : 3;
                yield List.of(attrs("pads", e[2 * h], e[2 * w], e[2 * h + 1], e[2 * w + 1]));
            }
            default -> throw KilnException.unsupported("node '" + n.name() + "' (" + n.op() + "): padding " + p);
        };
    }

    private void conv(Node n) {
        boolean nhwc = nhwc(n);
        int ct = computeType(n);
        Val x = get(n.input(0), nhwc ? Layout.NCHW : Layout.NATIVE, ct);
        QuantParams q = quant(n, n.input(0));
        if (q != null) {
            x = qdq(x, q);
        }
        Tensor w = requireConst(n, 1, "filter");
        long[] d = w.shape().dims();
        boolean depthwise = n.op().equals("DepthwiseConv2dNative");
        Tensor wo;
        long group = 1;
        if (depthwise) {
            wo = permute(w.reshape(Shape.of(d[0], d[1], 1, d[2] * d[3])), new int[] {3, 2, 0, 1});
            group = d[2];
        } else {
            wo = permute(w, new int[] {3, 2, 0, 1});
        }
        String wn = weight(n, n.input(1).node(), wo, 0, ct);
        float[] ws = lastWeightScales;
        List<AttributeProto> a = new ArrayList<>();
        a.add(attrs("kernel_shape", d[0], d[1]));
        a.add(attrs("strides", spatial(n, "strides", nhwc)));
        a.add(attrs("dilations", spatial(n, "dilations", nhwc)));
        a.add(attr("group", group));
        a.addAll(padding(n, nhwc));
        String out = add("Conv", n.name(), List.of(x.name, wn), a.toArray(new AttributeProto[0]));
        convByOutput.put(out, nodes.size() - 1);
        if (ortInt8 && q != null && q.perTensor()) {
            float[] sc = new float[ws.length + 1];
            sc[0] = q.scale()[0];
            System.arraycopy(ws, 0, sc, 1, ws.length);
            convScales.put(out, sc);
        }
        put(n, 0, new Val(out, nhwc ? Layout.NCHW : Layout.NATIVE, ct, 4));
    }

    private void matmul(Node n) {
        int ct = computeType(n);
        boolean ta = n.attrBool("transpose_a", false);
        boolean tb = n.attrBool("transpose_b", false);
        Val a = get(n.input(0), Layout.NATIVE, ct);
        QuantParams q = quant(n, n.input(0));
        if (q != null) {
            a = qdq(a, q);
        }
        String an = ta ? add("Transpose", a.name + "/T", List.of(a.name), attrs("perm", 1, 0)) : a.name;
        Tensor w = constOf(n.input(1));
        String bn;
        if (w != null && w.dtype().isFloatingPoint() && w.shape().rank() == 2) {
            Tensor wt = tb ? permute(w, new int[] {1, 0}) : w;
            bn = weight(n, n.input(1).node(), wt, 1, ct);
        } else {
            Val b = get(n.input(1), Layout.NATIVE, ct);
            QuantParams qb = quant(n, n.input(1));
            if (qb != null) {
                b = qdq(b, qb);
            }
            bn = tb ? add("Transpose", b.name + "/T", List.of(b.name), attrs("perm", 1, 0)) : b.name;
        }
        put(n, 0, new Val(add("MatMul", n.name(), List.of(an, bn)), Layout.NATIVE, ct, 2));
    }

    private void batchMatmul(Node n) {
        int ct = computeType(n);
        String[] names = new String[2];
        int rank = -1;
        for (int i = 0; i < 2; i++) {
            Val v = get(n.input(i), Layout.NATIVE, ct);
            QuantParams q = quant(n, n.input(i));
            if (q != null) {
                v = qdq(v, q);
            }
            boolean adj = n.attrBool(i == 0 ? "adj_x" : "adj_y", false);
            names[i] = v.name;
            rank = Math.max(rank, v.rank);
            if (adj) {
                if (v.rank < 2) {
                    throw KilnException.unsupported("node '" + n.name() + "' (" + n.op()
                            + "): adj_x/adj_y needs a known rank of input " + i);
                }
                long[] perm = new long[v.rank];
                for (int k = 0; k < perm.length; k++) {
                    perm[k] = k;
                }
                perm[v.rank - 1] = v.rank - 2;
                perm[v.rank - 2] = v.rank - 1;
                names[i] = add("Transpose", v.name + "/adj", List.of(v.name), attrs("perm", perm));
            }
        }
        put(n, 0, new Val(add("MatMul", n.name(), List.of(names[0], names[1])), Layout.NATIVE, ct, rank));
    }

    private void biasAdd(Node n) {
        int ct = computeType(n);
        Val x = get(n.input(0), Layout.ANY, ct);
        Tensor b = constOf(n.input(1));
        Integer conv = convByOutput.get(x.name);
        if (b != null && conv != null && nodes.get(conv).getInputCount() == 2
                && dataUses.getOrDefault(resolve(n.input(0)).toString(), 0) == 1 && b.shape().rank() == 1) {
            float[] sc = convScales.get(x.name);
            if (sc != null && sc.length == b.numElements() + 1) { // int32 bias, scale = input scale × weight scale
                nodes.get(conv).addInput(int32Bias(n.input(1).node(), OnnxTensors.floats(b), sc));
            } else {
                nodes.get(conv).addInput(init(n.input(1).node(), ct == F16 ? OnnxTensors.toHalf(b)
                        : Tensor.ofFloats(b.shape(), OnnxTensors.floats(b))));
            }
            put(n, 0, x);
            return;
        }
        boolean channelFirst = x.layout == Layout.NCHW || !nhwc(n);
        String bn;
        if (channelFirst) {
            if (b != null) {
                Tensor bc = b.reshape(Shape.of(b.numElements(), 1, 1));
                bn = init(n.input(1).node(), ct == F16 ? OnnxTensors.toHalf(bc)
                        : Tensor.ofFloats(bc.shape(), OnnxTensors.floats(bc)));
            } else {
                Val bv = get(n.input(1), Layout.NATIVE, ct);
                bn = add("Unsqueeze", bv.name + "/chw", List.of(bv.name, initLongs(bv.name + "/axes", 1, 2)));
            }
        } else {
            bn = get(n.input(1), Layout.NATIVE, ct).name;
        }
        put(n, 0, new Val(add("Add", n.name(), List.of(x.name, bn)), x.layout, ct, x.rank));
    }

    /** A bias as int32 codes with per-channel scale {@code sc[0] * sc[1 + c]} (zero point 0) → DequantizeLinear. */
    private String int32Bias(String hint, float[] b, float[] sc) {
        float[] scale = new float[b.length];
        int[] codes = new int[b.length];
        for (int c = 0; c < b.length; c++) {
            scale[c] = sc[0] * sc[1 + c];
            codes[c] = (int) Math.max(Integer.MIN_VALUE + 1, Math.min(Integer.MAX_VALUE, Math.rint(b[c] / scale[c])));
        }
        String qb = init(hint + "/int32", Tensor.ofInts(Shape.of(b.length), codes));
        String s = init(hint + "/scale", Tensor.ofFloats(Shape.of(b.length), scale));
        return add("DequantizeLinear", hint + "/dequantized", List.of(qb, s), attr("axis", 0L));
    }

    private void binary(Node n, String onnxOp) {
        int ct = computeType(n);
        TensorRef a = n.input(0);
        TensorRef b = n.input(1);
        boolean anyNchw = layoutOf(a) == Layout.NCHW || layoutOf(b) == Layout.NCHW;
        Layout use = Layout.NATIVE;
        if (anyNchw) {
            use = Layout.NCHW;
            for (TensorRef r : List.of(a, b)) {
                int rank = rankOf(r);
                boolean ok = constOf(r) != null ? rank <= 4 : layoutOf(r) == Layout.NCHW || rank == 4 || rank == 0;
                if (!ok) {
                    use = Layout.NATIVE;
                }
            }
        }
        Val[] v = new Val[2];
        TensorRef[] refs = {a, b};
        for (int i = 0; i < 2; i++) {
            boolean scalar = constOf(refs[i]) == null && rankOf(refs[i]) == 0;
            v[i] = get(refs[i], scalar ? Layout.ANY : use, ct);
        }
        if (cfg.precision() == Precision.INT8 && onnxOp.equals("Add")) {
            QuantParams qa = quant(n, a);
            QuantParams qb = quant(n, b);
            if (qa != null && qb != null) { // residual add: TensorRT fuses Q/DQ on both inputs
                v[0] = qdq(v[0], qa);
                v[1] = qdq(v[1], qb);
            }
        }
        int rank = Math.max(v[0].rank, v[1].rank);
        if (v[0].rank < 0 || v[1].rank < 0) {
            rank = -1;
        }
        int type = v[0].type != 0 ? v[0].type : v[1].type;
        put(n, 0, new Val(add(onnxOp, n.name(), List.of(v[0].name, v[1].name)), use, type, rank));
    }

    private void unary(Node n, String onnxOp, AttributeProto... a) {
        Val x = get(n.input(0), Layout.ANY, computeType(n));
        put(n, 0, new Val(add(onnxOp, n.name(), List.of(x.name), a), x.layout, x.type, x.rank));
    }

    private void special(Node n) {
        Val x = get(n.input(0), Layout.ANY, computeType(n));
        String out = switch (n.op()) {
            case "Relu6" -> add("Clip", n.name(), List.of(x.name, scalarInit(n.name() + "/min", x.type, 0f),
                    scalarInit(n.name() + "/max", x.type, 6f)));
            case "Rsqrt" -> add("Reciprocal", n.name(), List.of(add("Sqrt", n.name() + "/sqrt", List.of(x.name))));
            default -> add("Mul", n.name(), List.of(x.name, x.name));
        };
        put(n, 0, new Val(out, x.layout, x.type, x.rank));
    }

    private void pool(Node n) {
        boolean nhwc = nhwc(n);
        Val x = get(n.input(0), nhwc ? Layout.NCHW : Layout.NATIVE, computeType(n));
        QuantParams q = ortInt8 ? quant(n, n.input(0)) : null;
        if (q != null) {
            x = qdq(x, q);
        }
        List<AttributeProto> a = new ArrayList<>();
        a.add(attrs("kernel_shape", spatial(n, "ksize", nhwc)));
        a.add(attrs("strides", spatial(n, "strides", nhwc)));
        a.addAll(padding(n, nhwc));
        String onnxOp = n.op().equals("MaxPool") ? "MaxPool" : "AveragePool";
        put(n, 0, new Val(add(onnxOp, n.name(), List.of(x.name), a.toArray(new AttributeProto[0])),
                nhwc ? Layout.NCHW : Layout.NATIVE, x.type, 4));
    }

    private void reduce(Node n) {
        long[] axes = requireConst(n, 1, "reduction axes").asLongs();
        boolean keep = n.attrBool("keep_dims", false);
        if (axes.length == 0) {
            alias.put(TensorRef.of(n.name(), 0).toString(), n.input(0));
            return;
        }
        Layout l = layoutOf(n.input(0));
        int rank = rankOf(n.input(0));
        long[] ax = axes.clone();
        Layout outLayout = Layout.NATIVE;
        if (l == Layout.NCHW) {
            Set<Integer> reduced = new HashSet<>();
            for (int i = 0; i < ax.length; i++) {
                int a = (int) (ax[i] < 0 ? ax[i] + 4 : ax[i]);
                reduced.add(a);
                ax[i] = NHWC_AXIS_IN_NCHW[a];
            }
            boolean channelKept = !reduced.contains(3);
            boolean spatialKept = !reduced.contains(1) || !reduced.contains(2);
            if (keep) {
                outLayout = Layout.NCHW;
            } else if (channelKept && spatialKept) {
                l = Layout.NATIVE; // kept dims would come out in another order: reduce in NHWC instead
                ax = axes.clone();
            }
        }
        Val x = get(n.input(0), l == Layout.NCHW ? Layout.NCHW : Layout.NATIVE, computeType(n));
        String onnxOp = switch (n.op()) {
            case "Mean" -> "ReduceMean";
            case "Sum" -> "ReduceSum";
            case "Max" -> "ReduceMax";
            default -> "ReduceMin";
        };
        String out;
        if (opset >= 18 || onnxOp.equals("ReduceSum")) {
            out = add(onnxOp, n.name(), List.of(x.name, initLongs(n.name() + "/axes", ax)), attr("keepdims", keep ? 1 : 0));
        } else {
            out = add(onnxOp, n.name(), List.of(x.name), attrs("axes", ax), attr("keepdims", keep ? 1 : 0));
        }
        int outRank = rank < 0 ? -1 : keep ? rank : rank - axes.length;
        put(n, 0, new Val(out, outLayout, x.type, outRank));
    }

    private void reshape(Node n) {
        Val x = get(n.input(0), Layout.NATIVE, -1);
        Tensor s = constOf(n.input(1));
        String sn;
        int rank = -1;
        if (s != null) {
            sn = initLongs(n.input(1).node(), s.asLongs());
            rank = (int) s.numElements();
        } else {
            Val sv = get(n.input(1), Layout.NATIVE, -1);
            sn = sv.type == I64 ? sv.name : add("Cast", sv.name + "/int64", List.of(sv.name), attr("to", I64));
        }
        put(n, 0, new Val(add("Reshape", n.name(), List.of(x.name, sn)), Layout.NATIVE, x.type, rank));
    }

    private void squeeze(Node n) {
        Val x = get(n.input(0), Layout.NATIVE, -1);
        long[] axes = n.attrInts("squeeze_dims", n.attrInts("axis", new long[0]));
        String out = axes.length == 0 ? add("Squeeze", n.name(), List.of(x.name))
                : add("Squeeze", n.name(), List.of(x.name, initLongs(n.name() + "/axes", axes)));
        put(n, 0, new Val(out, Layout.NATIVE, x.type, x.rank < 0 || axes.length == 0 ? -1 : x.rank - axes.length));
    }

    private void transposeOp(Node n) {
        long[] perm = requireConst(n, 1, "perm").asLongs();
        Val x = get(n.input(0), Layout.ANY, -1);
        if (x.layout == Layout.NCHW && perm.length == 4) {
            long[] p = new long[4];
            for (int i = 0; i < 4; i++) {
                p[i] = NHWC_AXIS_IN_NCHW[(int) perm[i]];
            }
            perm = p;
        }
        put(n, 0, new Val(add("Transpose", n.name(), List.of(x.name), attrs("perm", perm)), Layout.NATIVE, x.type,
                perm.length));
    }

    private void concat(Node n) {
        int count = n.numDataInputs() - 1;
        long axis = requireConst(n, count, "axis").asLongs()[0];
        int ct = computeType(n);
        boolean anyNchw = false;
        boolean all4 = true;
        for (int i = 0; i < count; i++) {
            anyNchw |= layoutOf(n.input(i)) == Layout.NCHW;
            all4 &= rankOf(n.input(i)) == 4;
        }
        Layout use = anyNchw && all4 ? Layout.NCHW : Layout.NATIVE;
        if (use == Layout.NCHW) {
            axis = NHWC_AXIS_IN_NCHW[(int) (axis < 0 ? axis + 4 : axis)];
        }
        List<String> ins = new ArrayList<>();
        int type = 0;
        int rank = -1;
        for (int i = 0; i < count; i++) {
            Val v = get(n.input(i), use, ct);
            QuantParams q = ortInt8 ? quant(n, n.input(i)) : null;
            if (q != null) {
                v = qdq(v, q);
            }
            ins.add(v.name);
            type = v.type;
            rank = Math.max(rank, v.rank);
        }
        put(n, 0, new Val(add("Concat", n.name(), ins, attr("axis", axis)), use, type, rank));
    }

    private void pad(Node n) {
        Tensor p = requireConst(n, 1, "paddings");
        long[] pv = p.asLongs();
        int r = (int) p.shape().dim(0);
        Layout l = layoutOf(n.input(0)) == Layout.NCHW && r == 4 ? Layout.NCHW : Layout.NATIVE;
        int ct = computeType(n);
        Val x = get(n.input(0), l, ct);
        long[] pads = new long[2 * r];
        for (int i = 0; i < r; i++) {
            int src = l == Layout.NCHW ? TO_NCHW[i] : i;
            pads[i] = pv[2 * src];
            pads[r + i] = pv[2 * src + 1];
        }
        List<String> ins = new ArrayList<>(List.of(x.name, initLongs(n.name() + "/pads", pads)));
        if (n.op().equals("PadV2")) {
            ins.add(get(n.input(2), Layout.NATIVE, ct).name);
        }
        put(n, 0, new Val(add("Pad", n.name(), ins, attr("mode", "constant")), l, x.type, r));
    }

    private void slice(Node n) {
        Val x = get(n.input(0), Layout.NATIVE, -1);
        long[] begin = requireConst(n, 1, "begin").asLongs();
        long[] size = requireConst(n, 2, "size").asLongs();
        long[] ends = new long[begin.length];
        long[] axes = new long[begin.length];
        for (int i = 0; i < begin.length; i++) {
            ends[i] = size[i] < 0 ? Long.MAX_VALUE : begin[i] + size[i];
            axes[i] = i;
        }
        String out = add("Slice", n.name(), List.of(x.name, initLongs(n.name() + "/starts", begin),
                initLongs(n.name() + "/ends", ends), initLongs(n.name() + "/axes", axes)));
        put(n, 0, new Val(out, Layout.NATIVE, x.type, x.rank));
    }

    private void stridedSlice(Node n) {
        if (n.attrInt("ellipsis_mask", 0) != 0 || n.attrInt("new_axis_mask", 0) != 0) {
            throw KilnException.unsupported("node '" + n.name() + "' (StridedSlice): ellipsis_mask/new_axis_mask "
                    + "are not supported for ONNX export");
        }
        Val x = get(n.input(0), Layout.NATIVE, -1);
        long[] b = requireConst(n, 1, "begin").asLongs();
        long[] e = requireConst(n, 2, "end").asLongs();
        long[] s = requireConst(n, 3, "strides").asLongs();
        long bm = n.attrInt("begin_mask", 0);
        long em = n.attrInt("end_mask", 0);
        long sm = n.attrInt("shrink_axis_mask", 0);
        long[] starts = new long[b.length];
        long[] ends = new long[b.length];
        long[] axes = new long[b.length];
        List<Long> squeeze = new ArrayList<>();
        for (int i = 0; i < b.length; i++) {
            axes[i] = i;
            boolean pos = s[i] > 0;
            starts[i] = (bm >> i & 1) != 0 ? (pos ? 0 : Long.MAX_VALUE) : b[i];
            ends[i] = (em >> i & 1) != 0 ? (pos ? Long.MAX_VALUE : Long.MIN_VALUE) : e[i];
            if ((sm >> i & 1) != 0) {
                starts[i] = b[i];
                ends[i] = b[i] == -1 ? Long.MAX_VALUE : b[i] + 1;
                s[i] = 1;
                squeeze.add((long) i);
            }
        }
        String out = add("Slice", n.name() + (squeeze.isEmpty() ? "" : "/slice"), List.of(x.name,
                initLongs(n.name() + "/starts", starts), initLongs(n.name() + "/ends", ends),
                initLongs(n.name() + "/axes", axes), initLongs(n.name() + "/steps", s)));
        int rank = x.rank;
        if (!squeeze.isEmpty()) {
            out = add("Squeeze", n.name(), List.of(out, initLongs(n.name() + "/squeeze_axes",
                    squeeze.stream().mapToLong(Long::longValue).toArray())));
            rank = rank < 0 ? -1 : rank - squeeze.size();
        }
        put(n, 0, new Val(out, Layout.NATIVE, x.type, rank));
    }

    private void castOp(Node n) {
        DType to = n.attrType("DstT");
        Val x = get(n.input(0), Layout.ANY, -1);
        int t = OnnxTensors.onnxType(to);
        if (to == DType.FLOAT && cfg.precision() == Precision.FP16 && !cfg.keepFloat32().contains(n.name())
                && !cfg.keepFloat32().contains("Cast")) {
            t = F16;
        }
        if (t == x.type) {
            put(n, 0, x);
            return;
        }
        put(n, 0, new Val(add("Cast", n.name(), List.of(x.name), attr("to", t)), x.layout, t, x.rank));
    }

    private void pack(Node n) {
        long axis = n.attrInt("axis", 0);
        int ct = computeType(n);
        List<String> parts = new ArrayList<>();
        int type = 0;
        int rank = -1;
        String axes = null;
        for (int i = 0; i < n.numDataInputs(); i++) {
            Val v = get(n.input(i), Layout.NATIVE, ct);
            if (axes == null) {
                axes = initLongs(n.name() + "/axes", axis);
            }
            parts.add(add("Unsqueeze", n.name() + "/part" + i, List.of(v.name, axes)));
            type = v.type;
            rank = v.rank < 0 ? -1 : v.rank + 1;
        }
        String out = parts.size() == 1 ? add("Identity", n.name(), parts)
                : add("Concat", n.name(), parts, attr("axis", axis));
        put(n, 0, new Val(out, Layout.NATIVE, type, rank));
    }

    private void batchNorm(Node n) {
        if (n.attrBool("is_training", true)) {
            throw KilnException.unsupported("node '" + n.name() + "' (" + n.op() + ") has is_training=true; "
                    + "export needs an inference graph (run the passes first)");
        }
        boolean nhwc = nhwc(n);
        int ct = computeType(n);
        Val x = get(n.input(0), nhwc ? Layout.NCHW : Layout.NATIVE, ct);
        List<String> ins = new ArrayList<>(List.of(x.name));
        for (int i = 1; i <= 4; i++) {
            ins.add(get(n.input(i), Layout.NATIVE, ct).name);
        }
        String out = add("BatchNormalization", n.name(), ins, attr("epsilon", n.attrFloat("epsilon", 1e-3f)));
        put(n, 0, new Val(out, nhwc ? Layout.NCHW : Layout.NATIVE, ct, 4));
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
