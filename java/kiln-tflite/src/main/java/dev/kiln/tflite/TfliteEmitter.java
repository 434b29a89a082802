package dev.kiln.tflite;

import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;
import dev.kiln.calib.CalibrationTable;
import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.Shape;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.graph.TensorType;
import dev.kiln.quant.Float16;
import dev.kiln.quant.QuantParams;
import dev.kiln.tflite.TfliteModelBuilder.Quantization;
import dev.kiln.tflite.TfliteModelBuilder.TensorSpec;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static dev.kiln.tflite.TfliteSchema.*;

/**
 * One export: walks the live part of the graph in topological order, lets each node's {@link Lowering} emit its
 * operators, and owns what they share: the TFLite tensor of every TF tensor, constants (written per precision: float32,
 * float16 + DEQUANTIZE, int8 per channel, int32 biases), and under full INT8 every activation's quantization.
 *
 * <p>Layout: TFLite is NHWC like TensorFlow, so tensors keep their TF shapes; only weights are rearranged (CONV_2D
 * [O,H,W,I], DEPTHWISE_CONV_2D [1,H,W,I*M], FULLY_CONNECTED [O,I]).
 */
final class TfliteEmitter {
    private final TfliteExporter cfg;
    private final Graph g;
    private final TflitePrecision precision;
    private final TfliteModelBuilder mb = new TfliteModelBuilder();
    /** TF tensor (reference text) → TFLite tensor holding it (int8 under INT8 for float activations). */
    private final Map<String, Integer> values = new HashMap<>();
    /** Identity-like outputs → the tensor they pass on. */
    private final Map<String, TensorRef> aliases = new HashMap<>();
    /** Nodes emitted as part of another's operator (a fused bias or activation). */
    private final Set<String> absorbed = new HashSet<>();
    /** INT8 weight tensors → their per-channel scales (for the int32 bias scales). */
    private final Map<Integer, float[]> weightScales = new HashMap<>();
    /** int8 tensor → its float32 DEQUANTIZE (float-only ops under INT8), made once. */
    private final Map<Integer, Integer> dequantized = new HashMap<>();
    private final Set<String> names = new HashSet<>();
    /** Under INT8: true while lowering an op that TFLite has no int8 kernel for (computed in float32). */
    private boolean floatIsland;

    TfliteEmitter(TfliteExporter cfg, Graph g) {
        this.cfg = cfg;
        this.g = g;
        this.precision = cfg.precision();
    }

    Graph graph() {
        return g;
    }

    TflitePrecision precision() {
        return precision;
    }

    TfliteModelBuilder model() {
        return mb;
    }

    private boolean int8() {
        return precision == TflitePrecision.INT8;
    }

    // ---- the walk ----

    TfliteModelBuilder emit() {
        if (g.outputs().isEmpty()) {
            throw KilnException.invalidModel("graph has no outputs to export");
        }
        List<Node> live = liveNodes();
        check(live);
        Set<String> inputNodes = inputNodes();
        for (SignatureTensor s : g.inputs()) {
            input(s);
        }
        for (Node n : live) {
            if (inputNodes.contains(n.name()) || absorbed.contains(n.name()) || n.op().equals("Const")
                    || n.op().equals("NoOp")) {
                continue;
            }
            Lowering l = Lowerings.get(n.op());
            floatIsland = int8() && !Lowerings.int8Capable(n.op());
            try {
                l.lower(n, this);
            } catch (KilnException e) {
                throw e;
            } catch (RuntimeException e) {
                throw KilnException.unsupported("cannot export node '" + n.name() + "' (" + n.op() + ") to TFLite: "
                        + e.getMessage());
            } finally {
                floatIsland = false;
            }
        }
        for (SignatureTensor s : g.outputs()) {
            output(s);
        }
        mb.signatureKey(g.metadata().getOrDefault("signature", "serving_default"));
        mb.description("Kiln " + precision + " export" + (g.metadata().containsKey("source")
                ? " of " + fileName(g.metadata().get("source")) : ""));
        mb.metadata("min_runtime_version", TfliteModelBuilder.runtimeVersion(minRuntimeVersion()));
        return mb;
    }

    private static String fileName(String source) {
        return java.nio.file.Path.of(source).getFileName() == null ? source
                : java.nio.file.Path.of(source).getFileName().toString();
    }

    /**
     * The oldest TFLite runtime that has every op version this precision writes: hybrid per-channel convolutions and
     * FULLY_CONNECTED with asymmetric input quantization came in 2.3 (dynamic range), per-channel int8 and float16
     * DEQUANTIZE in 1.15/2.1.
     */
    private String minRuntimeVersion() {
        return switch (precision) {
            case FP32 -> "1.14.0";
            case FP16 -> "1.15.0";
            case DYNAMIC_RANGE -> "2.3.0";
            case INT8 -> "2.1.0";
        };
    }

    private Set<String> inputNodes() {
        Set<String> s = new HashSet<>();
        for (SignatureTensor in : g.inputs()) {
            s.add(in.tensor().node());
        }
        return s;
    }

    /** The nodes the outputs depend on (through the inputs each lowering reads), in topological order. */
    private List<Node> liveNodes() {
        Set<String> live = new HashSet<>();
        Deque<String> todo = new ArrayDeque<>();
        for (SignatureTensor s : g.outputs()) {
            todo.add(s.tensor().node());
        }
        Set<String> inputNodes = inputNodes();
        while (!todo.isEmpty()) {
            String name = todo.poll();
            if (!live.add(name)) {
                continue;
            }
            Node n = g.node(name);
            if (inputNodes.contains(name)) {
                continue;
            }
            Lowering l = Lowerings.get(n.op());
            int[] used = l == null ? allInputs(n) : l.usedInputs(n, g);
            for (int i : used) {
                todo.add(n.input(i).node());
            }
        }
        List<Node> out = new ArrayList<>();
        for (Node n : g.topologicalOrder()) {
            if (live.contains(n.name())) {
                out.add(n);
            }
        }
        return out;
    }

    private static int[] allInputs(Node n) {
        int[] all = new int[n.numDataInputs()];
        for (int i = 0; i < all.length; i++) {
            all[i] = i;
        }
        return all;
    }

    /** Every problem that stops the export, in one error, before anything is emitted or written. */
    private void check(List<Node> live) {
        Set<String> inputNodes = inputNodes();
        List<String> problems = new ArrayList<>();
        for (Node n : live) {
            if (inputNodes.contains(n.name()) || n.op().equals("Const") || n.op().equals("NoOp")) {
                continue;
            }
            if (n.op().equals("Placeholder")) {
                problems.add("Placeholder node '" + n.name() + "' is not a signature input");
            } else if (dev.kiln.graph.RecurrentCall.of(n) != null) {
                problems.add("node '" + n.name() + "' is a " + dev.kiln.graph.RecurrentCall.of(n).describe()
                        + " kept whole, which Kiln's TFLite writer does not map; unroll it: give its time steps "
                        + "(--input-shapes NAME[-1,STEPS,FEATURES]) and leave --rnn at auto, or use --rnn unroll");
            } else if (Lowerings.get(n.op()) == null) {
                String why = Lowerings.noBuiltinReason(n.op());
                problems.add("op '" + n.op() + "' (node '" + n.name() + "') has no TFLite mapping"
                        + (why == null ? "" : ": " + why));
            }
        }
        if (int8() && cfg.table() == null) {
            problems.add("INT8 needs a calibration table (activation ranges)");
        }
        if (int8() && cfg.table() != null && cfg.table().metadata().numBits() != 8) {
            problems.add("the calibration table has " + cfg.table().metadata().numBits()
                    + "-bit ranges; TFLite's integer kernels take 8-bit activations only");
        }
        if (!problems.isEmpty()) {
            throw KilnException.unsupported("cannot export to TFLite, nothing written: " + problems.size()
                    + " problem(s): " + String.join("; ", problems));
        }
    }

    // ---- signature inputs and outputs ----

    private void input(SignatureTensor s) {
        TensorType t = s.type();
        byte type = tfliteType(t.dtype());
        String ref = s.tensor().toString();
        if (int8() && t.dtype() == DType.FLOAT) {
            Quantization q = activation(s.tensor(), "input '" + s.name() + "'");
            if (cfg.int8IO()) {
                int idx = tensor(s.name(), INT8, t, 0, q);
                mb.addInput(s.name(), idx);
                values.put(ref, idx);
            } else {
                int f = tensor(s.name(), FLOAT32, t, 0, null);
                mb.addInput(s.name(), f);
                int idx = tensor(s.name() + "/quantized", INT8, t, 0, q);
                op(QUANTIZE, new int[] {f}, new int[] {idx}, BuiltinOptions.empty(OPT_QUANTIZE));
                values.put(ref, idx);
            }
            return;
        }
        int idx = tensor(s.name(), type, t, 0, null);
        mb.addInput(s.name(), idx);
        values.put(ref, idx);
    }

    private void output(SignatureTensor s) {
        int idx = value(s.tensor());
        TensorSpec spec = mb.tensor(idx);
        if (int8() && s.type().dtype() == DType.FLOAT && spec.type() == INT8 && !cfg.int8IO()) {
            int f = tensor(s.name(), FLOAT32, s.type(), 0, null);
            op(DEQUANTIZE, new int[] {idx}, new int[] {f}, BuiltinOptions.empty(OPT_DEQUANTIZE));
            idx = f;
        }
        mb.addOutput(s.name(), idx);
    }

    // ---- what lowerings use ----

    /** Marks {@code node} as emitted inside the current operator (a fused bias or activation). */
    void absorb(String node) {
        absorbed.add(node);
    }

    /** Makes {@code out} another name for {@code in} (Identity and friends). */
    void alias(TensorRef out, TensorRef in) {
        aliases.put(out.toString(), in);
    }

    /** {@code ref} after following aliases. */
    TensorRef resolve(TensorRef ref) {
        TensorRef r = ref;
        for (int i = 0; i < 10_000 && aliases.containsKey(r.toString()); i++) {
            r = aliases.get(r.toString());
        }
        return r;
    }

    /** The constant value of {@code ref} (through aliases and Identity nodes), or null. */
    Tensor constant(TensorRef ref) {
        TensorRef r = resolve(ref);
        for (int i = 0; i < 10_000; i++) {
            Tensor t = g.constantValue(r);
            if (t != null) {
                return t;
            }
            Node n = g.find(r.node());
            if (n == null || !Lowerings.isIdentity(n.op()) || r.index() != 0 || n.numDataInputs() == 0) {
                return null;
            }
            r = n.input(0);
        }
        return null;
    }

    /** The constant value of data input {@code i} of {@code n}; an error naming it when not constant. */
    Tensor requireConstant(Node n, int i, String what) {
        Tensor t = constant(n.input(i));
        if (t == null) {
            throw KilnException.unsupported("node '" + n.name() + "' (" + n.op() + "): the " + what + " (input " + i
                    + ", '" + n.input(i) + "') must be a constant for TFLite");
        }
        return t;
    }

    /** The TFLite tensor for data input {@code i} of {@code n}, float32 in a float island under INT8. */
    int input(Node n, int i) {
        int idx = value(n.input(i));
        if (floatIsland && mb.tensor(idx).type() == INT8) {
            return dequantize(idx);
        }
        return idx;
    }

    /** The TFLite tensor holding {@code ref}: an earlier output, a graph input or a constant (emitted now). */
    int value(TensorRef ref) {
        TensorRef r = resolve(ref);
        Integer idx = values.get(r.toString());
        if (idx != null) {
            return idx;
        }
        Tensor c = constant(r);
        if (c != null) {
            int t = constantOperand(r.toString(), c);
            values.put(r.toString(), t);
            return t;
        }
        throw KilnException.internal("tensor '" + ref + "' is read before it is produced", null);
    }

    /** The IR type of {@code ref}, or null. */
    TensorType typeOf(TensorRef ref) {
        return g.typeOf(resolve(ref));
    }

    /** The rank of {@code ref} from the IR, or -1 when unknown. */
    int rankOf(TensorRef ref) {
        TensorType t = typeOf(ref);
        return t == null ? -1 : t.shape().rank();
    }

    /**
     * A new tensor for the TF tensor {@code ref} (an op's result): float32 or, under INT8, int8 with its calibrated
     * range; other dtypes as they are.
     */
    int output(TensorRef ref) {
        return output(ref, null);
    }

    /** A new tensor of dtype {@code dt} for {@code ref}, whatever the IR says (indices an op's attribute types). */
    int outputOfType(TensorRef ref, DType dt) {
        int idx = tensor(ref.toString(), tfliteType(dt), typeOf(ref), 0, null);
        values.put(ref.toString(), idx);
        return idx;
    }

    /** Like {@link #output(TensorRef)}, with the quantization of the int8 tensor {@code like} (pass-through ops). */
    int outputLike(TensorRef ref, int like) {
        TensorSpec l = mb.tensor(like);
        return output(ref, l.type() == INT8 ? l.quantization() : null);
    }

    /** Like {@link #output(TensorRef)}, with fixed int8 parameters (SOFTMAX, LOGISTIC, TANH outputs). */
    int outputFixed(TensorRef ref, float scale, int zeroPoint) {
        return output(ref, Quantization.perTensor(scale, zeroPoint));
    }

    private int output(TensorRef ref, Quantization fixed) {
        TensorType t = typeOf(ref);
        DType dt = t == null ? DType.FLOAT : t.dtype();
        String name = ref.toString();
        int idx;
        if (int8() && dt == DType.FLOAT && floatIsland) {
            int f = tensor(name + "/float", FLOAT32, t, 0, null);
            int q = tensor(name, INT8, t, 0, activation(ref, "tensor '" + name + "'"));
            pendingQuantize.add(new int[] {f, q});
            values.put(name, q);
            return f;
        }
        if (int8() && dt == DType.FLOAT) {
            Quantization q = fixed != null ? fixed : activation(ref, "tensor '" + name + "'");
            idx = tensor(name, INT8, t, 0, q);
        } else {
            idx = tensor(name, tfliteType(dt), t, 0, null);
        }
        values.put(name, idx);
        return idx;
    }

    /** Float outputs of a float island, quantized once the island's operator is emitted. */
    private final List<int[]> pendingQuantize = new ArrayList<>();

    /** Adds an operator (its version from the tensor types); quantizes a float island's outputs after it. */
    void op(int builtin, int[] in, int[] out, BuiltinOptions options) {
        mb.addOperator(builtin, OpVersions.version(builtin, in, mb), in, out, options);
        for (int[] fq : new ArrayList<>(pendingQuantize)) {
            for (int o : out) {
                if (o == fq[0]) {
                    pendingQuantize.remove(fq);
                    op(QUANTIZE, new int[] {fq[0]}, new int[] {fq[1]}, BuiltinOptions.empty(OPT_QUANTIZE));
                }
            }
        }
    }

    /** A fresh intermediate tensor of {@code like}'s type and quantization (for ops lowered to several operators). */
    int intermediate(String name, int like, TensorType shape) {
        TensorSpec l = mb.tensor(like);
        return tensor(name, l.type(), shape, 0, l.quantization());
    }

    /** An int32 constant of the given shape (axes, shapes, paddings, begin/end/strides). */
    int int32(String name, int[] values, long... dims) {
        ByteBuffer b = ByteBuffer.allocate(4 * values.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asIntBuffer().put(values);
        return tensor(name, INT32, new TensorType(DType.INT32, Shape.of(dims)), mb.addBuffer(b), null);
    }

    /** An int32 vector constant. */
    int int32(String name, int[] values) {
        return int32(name, values, values.length);
    }

    /** A weight tensor of a CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED per precision. */
    int weights(String name, float[] w, long[] dims, int channelAxis, boolean perChannel) {
        TensorType t = new TensorType(DType.FLOAT, Shape.of(dims));
        switch (precision) {
            case FP32 -> {
                return floatConstant(name, t, w);
            }
            case FP16 -> {
                return halfConstant(name, t, w);
            }
            default -> {
                float[] scales = perChannel ? symmetricScales(w, dims, channelAxis) : new float[] {maxAbs(w) / 127f};
                if (scales.length == 1 && scales[0] == 0f) {
                    scales[0] = 1f;
                }
                byte[] q = new byte[w.length];
                long inner = 1;
                for (int i = channelAxis + 1; i < dims.length; i++) {
                    inner *= dims[i];
                }
                for (int i = 0; i < w.length; i++) {
                    int c = perChannel ? (int) ((i / inner) % dims[channelAxis]) : 0;
                    q[i] = (byte) Math.max(-127, Math.min(127, Math.rint(w[i] / scales[c])));
                }
                long[] zero = new long[scales.length];
                int idx = tensor(name, INT8, t, mb.addBuffer(ByteBuffer.wrap(q)),
                        new Quantization(scales, zero, perChannel ? channelAxis : -1));
                weightScales.put(idx, scales);
                return idx;
            }
        }
    }

    /**
     * The bias of a CONV_2D / DEPTHWISE_CONV_2D / FULLY_CONNECTED: float (float16 + DEQUANTIZE under FP16), or under
     * INT8 int32 with scale input scale × weight scale per channel. A bias too large for int32 at that scale is an
     * error naming it (TFLite cannot express it).
     */
    int bias(String name, float[] b, int inputTensor, int weightTensor) {
        TensorType t = new TensorType(DType.FLOAT, Shape.of(b.length));
        if (precision == TflitePrecision.FP16) {
            return halfConstant(name, t, b);
        }
        TensorSpec in = mb.tensor(inputTensor);
        if (!int8() || in.type() != INT8) {
            return floatConstant(name, t, b);
        }
        float inScale = in.quantization().scale()[0];
        float[] ws = weightScales.get(weightTensor);
        float[] scales = new float[b.length];
        int[] q = new int[b.length];
        for (int c = 0; c < b.length; c++) {
            scales[c] = inScale * ws[ws.length == 1 ? 0 : c];
            double v = Math.rint(b[c] / (double) scales[c]);
            if (Math.abs(v) > Integer.MAX_VALUE) {
                throw KilnException.unsupported("bias '" + name + "' channel " + c + " (" + b[c] + ") does not fit "
                        + "int32 at scale " + scales[c] + " (input scale " + inScale + " × weight scale): TFLite "
                        + "cannot express this quantization; recalibrate or keep the model float");
            }
            q[c] = (int) v;
        }
        ByteBuffer buf = ByteBuffer.allocate(4 * q.length).order(ByteOrder.LITTLE_ENDIAN);
        buf.asIntBuffer().put(q);
        // per tensor like the weights when they are per tensor (XNNPACK refuses a per-channel bias there)
        Quantization bq = ws.length == 1 ? Quantization.perTensor(scales[0], 0)
                : new Quantization(scales, new long[b.length], 0);
        return tensor(name, INT32, new TensorType(DType.INT32, Shape.of(b.length)), mb.addBuffer(buf), bq);
    }

    /** A zero bias for a convolution or FULLY_CONNECTED without one (TFLite's kernels and XNNPACK expect one). */
    int zeroBias(String name, int channels, int inputTensor, int weightTensor) {
        return bias(name, new float[channels], inputTensor, weightTensor);
    }

    /** Requantizes an int8 tensor to {@code q} (QUANTIZE int8 → int8), or returns it when it already has {@code q}. */
    int requantize(int tensor, Quantization q, TensorType shape) {
        TensorSpec s = mb.tensor(tensor);
        if (s.type() != INT8 || q == null || sameQuantization(s.quantization(), q)) {
            return tensor;
        }
        int out = tensor(s.name() + "/requantized", INT8, shape, 0, q);
        op(QUANTIZE, new int[] {tensor}, new int[] {out}, BuiltinOptions.empty(OPT_QUANTIZE));
        return out;
    }

    static boolean sameQuantization(Quantization a, Quantization b) {
        return a != null && b != null && java.util.Arrays.equals(a.scale(), b.scale())
                && java.util.Arrays.equals(a.zeroPoint(), b.zeroPoint());
    }

    // ---- constants ----

    /** A constant made by a lowering (folded batch-norm factors), written like any constant operand. */
    int constantTensor(String name, Tensor t) {
        return constantOperand(name, t);
    }

    /** A constant read as an ordinary operand (ADD's addend, PAD's value ...), written per precision. */
    private int constantOperand(String name, Tensor c) {
        TensorType t = c.type();
        if (c.dtype() == DType.FLOAT) {
            float[] v = c.floats();
            if (precision == TflitePrecision.FP16) {
                return halfConstant(name, t, v);
            }
            if (int8() && !floatIsland) {
                float amax = maxAbs(v);
                float scale = amax == 0f ? 1f : amax / 127f;
                byte[] q = new byte[v.length];
                for (int i = 0; i < v.length; i++) {
                    q[i] = (byte) Math.max(-127, Math.min(127, Math.rint(v[i] / scale)));
                }
                return tensor(name, INT8, t, mb.addBuffer(ByteBuffer.wrap(q)), Quantization.perTensor(scale, 0));
            }
            return floatConstant(name, t, v);
        }
        if (c.dtype() == DType.INT64) {
            // TFLite's shape-like inputs are int32; int64 constants here are shapes, axes or indices
            long[] l = c.longs();
            int[] v = new int[l.length];
            for (int i = 0; i < l.length; i++) {
                v[i] = Math.toIntExact(l[i]);
            }
            return int32(name, v, c.shape().dims());
        }
        byte type = tfliteType(c.dtype());
        return tensor(name, type, t, mb.addBuffer(c.bytes()), null);
    }

    private int floatConstant(String name, TensorType t, float[] v) {
        ByteBuffer b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(v);
        return tensor(name, FLOAT32, t, mb.addBuffer(b), null);
    }

    /** float16 constant + DEQUANTIZE to a float32 tensor, as TensorFlow's converter writes FP16 models. */
    private int halfConstant(String name, TensorType t, float[] v) {
        short[] h = Float16.fromFloats(v);
        ByteBuffer b = ByteBuffer.allocate(2 * h.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asShortBuffer().put(h);
        int half = tensor(name + "/fp16", FLOAT16, t, mb.addBuffer(b), null);
        int f = tensor(name, FLOAT32, t, 0, null);
        mb.addOperator(DEQUANTIZE, 3, new int[] {half}, new int[] {f}, BuiltinOptions.NONE);
        return f;
    }

    private int dequantize(int int8Tensor) {
        return dequantized.computeIfAbsent(int8Tensor, k -> {
            TensorSpec s = mb.tensor(k);
            int f = mb.addTensor(new TensorSpec(unique(s.name() + "/dequantized"), FLOAT32, s.shape(), s.signature(),
                    0, null));
            mb.addOperator(DEQUANTIZE, 2, new int[] {k}, new int[] {f}, BuiltinOptions.NONE);
            return f;
        });
    }

    // ---- tensors and quantization ----

    private int tensor(String name, byte type, TensorType t, int buffer, Quantization q) {
        int[] shape = null;
        int[] signature = null;
        if (t != null && t.shape().hasRank()) {
            long[] d = t.shape().dims();
            shape = new int[d.length];
            boolean unknown = false;
            for (int i = 0; i < d.length; i++) {
                shape[i] = d[i] < 0 ? 1 : Math.toIntExact(d[i]);
                unknown |= d[i] < 0;
            }
            if (unknown) {
                signature = new int[d.length];
                for (int i = 0; i < d.length; i++) {
                    signature[i] = (int) Math.max(-1, d[i]);
                }
            }
        }
        return mb.addTensor(new TensorSpec(unique(name), type, shape, signature, buffer, q));
    }

    private String unique(String base) {
        if (names.add(base)) {
            return base;
        }
        for (int i = 1; ; i++) {
            if (names.add(base + "_" + i)) {
                return base + "_" + i;
            }
        }
    }

    /**
     * The int8 parameters of an activation from the calibration table: symmetric tables give scale amax / 127 and
     * zero point 0; asymmetric (uint8) ones their scale and zero point - 128. A tensor the table lacks is an error
     * naming it.
     */
    private Quantization activation(TensorRef ref, String what) {
        CalibrationTable table = cfg.table();
        String key = resolve(ref).toString();
        CalibrationTable.Entry e = table.entries().get(key);
        if (e == null) {
            e = table.entries().get(ref.toString());
            key = ref.toString();
        }
        if (e == null) {
            throw new KilnArgumentException("the calibration table has no range for " + what + " ('" + key
                    + "'), which the INT8 TFLite export quantizes: calibrate it (TfliteInt8Placement.tensors)");
        }
        QuantParams p = table.quantParams(key);
        if (!p.perTensor()) {
            throw KilnException.unsupported(what + ": per-channel activation ranges cannot be expressed in TFLite");
        }
        int zp = p.signed() ? p.zeroPoint()[0] : p.zeroPoint()[0] - 128;
        return Quantization.perTensor(p.scale()[0], zp);
    }

    static float[] symmetricScales(float[] w, long[] dims, int axis) {
        int channels = (int) dims[axis];
        long inner = 1;
        for (int i = axis + 1; i < dims.length; i++) {
            inner *= dims[i];
        }
        float[] amax = new float[channels];
        for (int i = 0; i < w.length; i++) {
            int c = (int) ((i / inner) % channels);
            amax[c] = Math.max(amax[c], Math.abs(w[i]));
        }
        for (int c = 0; c < channels; c++) {
            amax[c] = amax[c] == 0f ? 1f : amax[c] / 127f;
        }
        return amax;
    }

    private static float maxAbs(float[] v) {
        float m = 0f;
        for (float x : v) {
            m = Math.max(m, Math.abs(x));
        }
        return m;
    }

    static byte tfliteType(DType d) {
        return switch (d) {
            case FLOAT -> FLOAT32;
            case HALF -> FLOAT16;
            case INT32 -> INT32;
            case UINT8 -> UINT8;
            case INT64 -> INT64;
            case BOOL -> BOOL;
            case INT16 -> INT16;
            case INT8 -> INT8;
            default -> throw KilnException.unsupported("dtype " + d + " has no TFLite tensor type in Kiln's export");
        };
    }

    /** The integer values of a constant (shapes, axes, paddings), as int32. */
    static int[] ints(Tensor t) {
        long[] l = t.asLongs();
        int[] v = new int[l.length];
        for (int i = 0; i < l.length; i++) {
            v[i] = Math.toIntExact(l[i]);
        }
        return v;
    }

}
