package dev.kiln.quant;

import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;
import dev.kiln.calib.ThresholdMethod;
import dev.kiln.graph.AttrValue;
import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.Shape;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.graph.TensorType;
import dev.kiln.kernels.AxisView;
import dev.kiln.passes.GraphPass;
import dev.kiln.passes.PassResult;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Makes a graph that TensorFlow runs to simulate the INT8 model Kiln exports (ONNX QDQ for TensorRT or ONNX Runtime):
 * the quantization becomes explicit TensorFlow ops, so the result can be written as a SavedModel and run anywhere TF
 * runs.
 *
 * <p><b>Activations.</b> Every tensor {@code T} with per-tensor parameters in {@link Graph#quantization()} gets a
 * {@code FakeQuantWithMinMaxVars(T, min, max)} node ({@code num_bits = bits}, min and max as Const inputs) named
 * {@code <T>/fake_quant}, and every data consumer of {@code T} reads it instead, except consumers kept in float
 * (see {@link Builder#keepFloat}) and signature outputs, which keep reading {@code T}. With {@code q = [qmin, qmax]},
 * zero point {@code z} and scale {@code s}: {@code min = (qmin - z) * s}, {@code max = (qmax - z) * s},
 * {@code narrow_range = narrow}. So symmetric int8 ([-127, 127], z = 0) gives {@code [-127 s, 127 s]} with narrow
 * range (255 levels, step s) and asymmetric uint8 ([0, 255]) gives {@code [-z s, (255 - z) s]} without; TF's nudging
 * then leaves the grid where ONNX puts it (the zero point is already an integer).
 *
 * <p><b>Weights.</b> The float32 Const filter of every Conv2D (HWIO: output channel last), DepthwiseConv2dNative
 * ({@code [H, W, C, M]}: output channel {@code c * M + m}) and MatMul (input 1, {@code [K, N]}, or {@code [N, K]} with
 * {@code transpose_b}) is replaced by its dequantized symmetric per-output-channel INT8 value
 * ({@link WeightFakeQuant}, {@code qmax} 127 or 64, amax per channel by {@link Builder#weightMethod}, default max
 * |w|), which is bit for bit what the ONNX export computes with. A Const
 * also read by something else gets a new Const {@code <weight>/fake_quant} instead. With
 * {@link Builder#explicitWeights(boolean)}, Conv2D, DepthwiseConv2dNative and MatMul without transpose_b keep their
 * float weights behind a {@code FakeQuantWithMinMaxVarsPerChannel} node (depthwise filters through a Reshape to
 * {@code [H, W, C * M]} and back, since that op works on the last axis), so that the SavedModel shows the
 * quantization; MatMul with transpose_b has its output channel first and keeps the Java-computed values, and so do
 * 7-bit weights with a clipping weight method (TF's 8-bit range cannot clamp codes to ±64).
 *
 * <p><b>Rounding.</b> ONNX QuantizeLinear (and so TensorRT and ONNX Runtime) rounds half to even; TensorFlow's fake
 * quant rounds half away from zero ({@code floor(x + 0.5)}) and computes from its nudged min/max. The inserted
 * activation fake quant therefore differs from the INT8 model only on exact ties ({@code x / s} halfway between two
 * integers), which continuous activations almost never hit; the weights computed in Java match ONNX exactly (the
 * explicit per-channel nodes follow TF's rounding instead).
 *
 * <p>Apply once: a tensor already read by a fake-quant node is skipped, but weights would be quantized again (a
 * no-op up to ties). Quantization annotations are left in place.
 *
 * <pre>{@code
 * Graph fq = FakeQuantInsertion.builder().weightQmax(64).keepFloat(Set.of("logits")).build().transform(g);
 * }</pre>
 */
public final class FakeQuantInsertion implements GraphPass {
    /** The op inserted after each quantized activation. */
    public static final String FAKE_QUANT = "FakeQuantWithMinMaxVars";
    /** The op inserted on weights with {@link Builder#explicitWeights(boolean)}. */
    public static final String FAKE_QUANT_PER_CHANNEL = "FakeQuantWithMinMaxVarsPerChannel";

    private static final Set<String> WEIGHTED = Set.of("Conv2D", "DepthwiseConv2dNative", "MatMul");
    // FuseBiasActivation's marks (kiln-core passes): a chain broken by a fake quant must lose them
    private static final String FUSED_BIAS = "_kiln_fused_bias";
    private static final String FUSED_ACTIVATION = "_kiln_fused_activation";
    private static final String FUSED_INTO = "_kiln_fused_into";

    private final int weightQmax;
    private final ThresholdMethod weightMethod;
    private final Set<String> keepFloat;
    private final boolean explicitWeights;

    private FakeQuantInsertion(Builder b) {
        this.weightQmax = b.weightQmax;
        this.weightMethod = b.weightMethod;
        this.keepFloat = Set.copyOf(b.keepFloat);
        this.explicitWeights = b.explicitWeights;
    }

    /** Full-range weights ([-127, 127], TensorRT's convention), nothing kept in float, weights folded in Java. */
    public static FakeQuantInsertion standard() {
        return builder().build();
    }

    public static Builder builder() {
        return new Builder();
    }

    /** The largest weight code: 127 (full range) or 64 (7-bit weights, ONNX Runtime's reduced range). */
    public int weightQmax() {
        return weightQmax;
    }

    /** How each output channel's weight range (amax) is chosen: by default max |w| ({@link WeightRanges}). */
    public ThresholdMethod weightMethod() {
        return weightMethod;
    }

    /** Node names and op types whose weights and input activations stay in float. */
    public Set<String> keepFloat() {
        return keepFloat;
    }

    public boolean explicitWeights() {
        return explicitWeights;
    }

    @Override
    public String name() {
        return "fake-quant";
    }

    /** A fake-quantized copy of {@code source}; {@code source} is not changed. */
    public Graph transform(Graph source) {
        Graph g = source.copy();
        apply(g);
        return g;
    }

    @Override
    public PassResult apply(Graph graph) {
        int before = graph.size();
        List<String> notes = new ArrayList<>();
        int added = insertActivations(graph, notes);
        int[] weights = quantizeWeights(graph, notes);
        return new PassResult(name(), before, graph.size(), 0, weights[0], 0, added + weights[1], notes);
    }

    // ---- activations ----

    private int insertActivations(Graph g, List<String> notes) {
        int added = 0;
        for (Map.Entry<String, QuantParams> e : new ArrayList<>(g.quantization().entrySet())) {
            TensorRef t = TensorRef.parse(e.getKey());
            QuantParams q = e.getValue();
            Node producer = g.find(t.node());
            if (producer == null) {
                throw KilnException.invalidModel("quantization parameters for tensor '" + e.getKey()
                        + "', whose node is not in the graph");
            }
            List<Node> readers = new ArrayList<>();
            boolean done = false;
            for (Node n : g.dataConsumers(t)) {
                done |= n.op().startsWith("FakeQuant");
                if (!kept(n)) {
                    readers.add(n);
                }
            }
            if (done || readers.isEmpty()) {
                continue;
            }
            if (!q.perTensor()) {
                throw KilnException.unsupported("tensor '" + t + "' of node '" + producer.name() + "' ("
                        + producer.op() + ") has per-channel activation parameters; fake quant supports per tensor");
            }
            TensorType type = g.typeOf(t);
            if (type != null && type.dtype() != DType.FLOAT) {
                throw KilnException.unsupported("tensor '" + t + "' of node '" + producer.name() + "' is "
                        + type.dtype() + "; FakeQuantWithMinMaxVars needs float32");
            }
            String name = g.uniqueName((t.index() == 0 ? t.node() : t.node() + "_" + t.index()) + "/fake_quant");
            float s = q.scale()[0];
            int z = q.zeroPoint()[0];
            g.add(floatConst(name + "/min", Shape.scalar(), (q.qmin() - z) * s));
            g.add(floatConst(name + "/max", Shape.scalar(), (q.qmax() - z) * s));
            Node.Builder fq = Node.builder(name, FAKE_QUANT).input(t).input(name + "/min").input(name + "/max")
                    .attr("num_bits", (long) q.bits()).attr("narrow_range", q.narrow());
            if (type != null) {
                fq.outputType(type);
            }
            g.add(fq.build());
            added += 3;
            for (Node r : readers) {
                rewire(g, r.name(), t, TensorRef.of(name, 0));
            }
            notes.add("fake quant '" + name + "' on '" + t + "' for " + readers.size() + " reader(s), " + q);
        }
        return added;
    }

    /** Makes data inputs of {@code node} that read {@code from} read {@code to}; unmarks a fused chain it breaks. */
    private static void rewire(Graph g, String node, TensorRef from, TensorRef to) {
        Node n = g.node(node);
        List<String> ins = new ArrayList<>(n.inputs());
        for (int i = 0; i < ins.size(); i++) {
            if (!ins.get(i).startsWith("^") && TensorRef.parse(ins.get(i)).equals(from)) {
                ins.set(i, to.toString());
            }
        }
        g.replace(n.withInputs(ins));
        String into = n.attrString(FUSED_INTO, null);
        if (into != null) {
            unfuse(g, into);
        }
    }

    /** Removes FuseBiasActivation's marks from the chain led by {@code producer}. */
    private static void unfuse(Graph g, String producer) {
        for (Node n : new ArrayList<>(g.nodes())) {
            if (n.name().equals(producer)) {
                g.replace(n.withAttr(FUSED_BIAS, null).withAttr(FUSED_ACTIVATION, null));
            } else if (producer.equals(n.attrString(FUSED_INTO, null))) {
                g.replace(n.withAttr(FUSED_INTO, null));
            }
        }
    }

    private boolean kept(Node n) {
        return keepFloat.contains(n.name()) || keepFloat.contains(n.op());
    }

    // ---- weights ----

    /** A weight read: its consumer and how to see the filter as [outer, output channels, inner]. */
    private record Use(Node consumer, AxisView view, boolean explicitable) { }

    /** Returns {weights quantized, nodes added}. */
    private int[] quantizeWeights(Graph g, List<String> notes) {
        Map<String, List<Use>> byConst = new LinkedHashMap<>();
        for (Node n : new ArrayList<>(g.nodes())) {
            if (!WEIGHTED.contains(n.op()) || kept(n) || n.numDataInputs() < 2) {
                continue;
            }
            TensorRef wr = n.input(1);
            Tensor w = g.constantValue(wr);
            if (w == null || w.dtype() != DType.FLOAT) {
                notes.add("kept '" + n.name() + "' (" + n.op() + ") weights in float: input 1 is not a float32 Const");
                continue;
            }
            byConst.computeIfAbsent(wr.node(), k -> new ArrayList<>()).add(use(n, w, explicitClamps()));
        }
        int quantized = 0;
        int added = 0;
        for (Map.Entry<String, List<Use>> e : byConst.entrySet()) {
            Node c = g.node(e.getKey());
            Tensor w = c.attrTensor("value");
            // replace the Const itself only when nothing else reads it and all its readers want the same values
            AxisView first = e.getValue().get(0).view();
            boolean inPlace = readsOnly(g, e.getKey(), e.getValue()) && e.getValue().stream()
                    .allMatch(u -> u.view().equals(first) && !(explicitWeights && u.explicitable()));
            Map<AxisView, String> made = new LinkedHashMap<>();
            for (Use u : e.getValue()) {
                if (explicitWeights && u.explicitable()) {
                    added += explicit(g, u, w);
                    notes.add("per-channel fake quant on the weights of '" + u.consumer().name() + "'");
                } else {
                    String target = made.get(u.view());
                    if (target == null) {
                        Tensor fq = Tensor.ofFloats(w.shape(), WeightFakeQuant.apply(w.floats(), u.view(), weightQmax,
                                weightMethod));
                        if (inPlace) {
                            g.replace(c.withAttr("value", AttrValue.of(fq)));
                            target = c.name();
                        } else {
                            target = g.uniqueName(c.name() + "/fake_quant");
                            g.add(c.toBuilder().name(target).attr("value", AttrValue.of(fq)).build());
                            added++;
                        }
                        made.put(u.view(), target);
                        quantized++;
                        notes.add("weights '" + c.name() + "' quantized per channel (" + u.view().channels()
                                + " channels, qmax " + weightQmax + ", " + weightMethod + ") for '"
                                + u.consumer().name() + "'");
                    }
                    if (!target.equals(c.name())) {
                        g.setDataInput(u.consumer().name(), 1, TensorRef.of(target, 0));
                    }
                }
            }
        }
        return new int[] {quantized, added};
    }

    /**
     * Whether TF's per-channel fake quant (8-bit narrow range, step = scale) clamps where ONNX does: always with max
     * |w| (nothing is clamped), otherwise only for full-range codes.
     */
    private boolean explicitClamps() {
        return weightQmax == 127 || weightMethod instanceof ThresholdMethod.MinMax;
    }

    private static Use use(Node n, Tensor w, boolean explicitable) {
        long[] d = w.shape().dims();
        int rank = d.length;
        switch (n.op()) {
            case "Conv2D" -> {
                requireRank(n, rank, 4);
                return new Use(n, AxisView.of(d, 3), explicitable);
            }
            case "DepthwiseConv2dNative" -> {
                requireRank(n, rank, 4);
                return new Use(n, new AxisView(d[0] * d[1], d[2] * d[3], 1), explicitable);
            }
            default -> { // MatMul
                requireRank(n, rank, 2);
                boolean tb = n.attrBool("transpose_b", false);
                return new Use(n, AxisView.of(d, tb ? 0 : 1), explicitable && !tb);
            }
        }
    }

    private static void requireRank(Node n, int rank, int want) {
        if (rank != want) {
            throw KilnException.invalidModel("node '" + n.name() + "' (" + n.op() + ") has weights of rank " + rank
                    + ", expected " + want);
        }
    }

    /** Whether the data readers of {@code constNode} are exactly the uses (and no signature output is bound to it). */
    private static boolean readsOnly(Graph g, String constNode, List<Use> uses) {
        for (SignatureTensor s : g.outputs()) {
            if (s.tensor().node().equals(constNode)) {
                return false;
            }
        }
        return g.dataReaderCount(constNode) == uses.size();
    }

    /** FakeQuantWithMinMaxVarsPerChannel on the float weights of {@code u}; returns the number of nodes added. */
    private int explicit(Graph g, Use u, Tensor w) {
        Node n = u.consumer();
        TensorRef wr = n.input(1);
        float[] s = WeightFakeQuant.scales(w.floats(), u.view(), weightQmax, weightMethod);
        float[] min = new float[s.length];
        float[] max = new float[s.length];
        for (int c = 0; c < s.length; c++) {
            min[c] = -127 * s[c]; // 8-bit narrow range: step s; |w| <= qmax * s, so 64 needs no other bit width
            max[c] = 127 * s[c];
        }
        String name = g.uniqueName(n.name() + "/weights/fake_quant");
        int added = 0;
        TensorRef in = wr;
        boolean reshape = n.op().equals("DepthwiseConv2dNative");
        long[] d = w.shape().dims();
        Shape flat = reshape ? Shape.of(d[0], d[1], d[2] * d[3]) : w.shape();
        if (reshape) { // per-channel fake quant works on the last axis: [H, W, C, M] -> [H, W, C * M]
            g.add(Node.builder(name + "/flat_shape", "Const").attr("dtype", AttrValue.of(DType.INT32))
                    .attr("value", AttrValue.of(Tensor.ofInts(Shape.of(3), (int) d[0], (int) d[1],
                            (int) (d[2] * d[3])))).outputType(TensorType.of(DType.INT32, 3)).build());
            g.add(Node.builder(name + "/flat", "Reshape").input(wr).input(name + "/flat_shape")
                    .attr("T", AttrValue.of(DType.FLOAT)).attr("Tshape", AttrValue.of(DType.INT32))
                    .outputType(new TensorType(DType.FLOAT, flat)).build());
            in = TensorRef.of(name + "/flat", 0);
            added += 2;
        }
        g.add(floatConst(name + "/min", Shape.of(s.length), min));
        g.add(floatConst(name + "/max", Shape.of(s.length), max));
        g.add(Node.builder(name, FAKE_QUANT_PER_CHANNEL).input(in).input(name + "/min").input(name + "/max")
                .attr("num_bits", 8L).attr("narrow_range", true).outputType(new TensorType(DType.FLOAT, flat))
                .build());
        added += 3;
        TensorRef out = TensorRef.of(name, 0);
        if (reshape) {
            g.add(Node.builder(name + "/shape", "Const").attr("dtype", AttrValue.of(DType.INT32))
                    .attr("value", AttrValue.of(Tensor.ofInts(Shape.of(4), (int) d[0], (int) d[1], (int) d[2],
                            (int) d[3]))).outputType(TensorType.of(DType.INT32, 4)).build());
            g.add(Node.builder(name + "/filter", "Reshape").input(out).input(name + "/shape")
                    .attr("T", AttrValue.of(DType.FLOAT)).attr("Tshape", AttrValue.of(DType.INT32))
                    .outputType(w.type()).build());
            out = TensorRef.of(name + "/filter", 0);
            added += 2;
        }
        g.setDataInput(n.name(), 1, out);
        return added;
    }

    private static Node floatConst(String name, Shape shape, float... values) {
        Tensor t = Tensor.ofFloats(shape, values);
        return Node.builder(name, "Const").attr("dtype", AttrValue.of(DType.FLOAT)).attr("value", AttrValue.of(t))
                .outputType(t.type()).build();
    }

    /** Options of {@link FakeQuantInsertion}; immutable once built. */
    public static final class Builder {
        private int weightQmax = 127;
        private ThresholdMethod weightMethod = WeightRanges.defaultMethod();
        private Set<String> keepFloat = Set.of();
        private boolean explicitWeights;

        private Builder() {
        }

        /** Largest weight code, 1..127: 127 (default, TensorRT) or 64 (7-bit, ONNX Runtime's reduced range). */
        public Builder weightQmax(int qmax) {
            KilnArgumentException.check(qmax >= 1 && qmax <= 127, "weightQmax must be in [1, 127], got " + qmax);
            this.weightQmax = qmax;
            return this;
        }

        /**
         * How each output channel's weight range is chosen: {@link ThresholdMethod#minmax()} (default, max |w|), or
         * percentile, mse or entropy over a histogram of the channel's |w| ({@link WeightRanges}); give the ONNX
         * export the same method so that both compute with the same weights.
         */
        public Builder weightMethod(ThresholdMethod method) {
            KilnArgumentException.check(method != null, "weightMethod must not be null");
            this.weightMethod = method;
            return this;
        }

        /** Node names and op types kept in float: no fake quant on their weights or input activations. */
        public Builder keepFloat(Set<String> namesOrOps) {
            KilnArgumentException.check(namesOrOps != null, "keepFloat must not be null");
            this.keepFloat = Set.copyOf(namesOrOps);
            return this;
        }

        /**
         * Whether weights keep their float values behind FakeQuantWithMinMaxVarsPerChannel nodes (TF's rounding)
         * instead of being replaced by the exact INT8 values computed in Java (default false).
         */
        public Builder explicitWeights(boolean explicit) {
            this.explicitWeights = explicit;
            return this;
        }

        public FakeQuantInsertion build() {
            return new FakeQuantInsertion(this);
        }
    }
}
