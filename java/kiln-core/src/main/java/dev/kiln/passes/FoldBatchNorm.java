package dev.kiln.passes;

import dev.kiln.graph.AttrValue;
import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.graph.TensorType;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;

/**
 * Folds inference batch normalization into the preceding Conv2D, DepthwiseConv2dNative or MatMul, optionally through
 * a BiasAdd in between: {@code bn(conv(x, W) [+ b])} becomes {@code BiasAdd(conv(x, W * s), b * s + o)} with per
 * output channel {@code s} and {@code o}.
 *
 * <p>Recognised: FusedBatchNorm, FusedBatchNormV2, FusedBatchNormV3 with is_training false ({@code s = gamma /
 * sqrt(var + eps)}, {@code o = beta - mean * s}); BatchNormWithGlobalNormalization; and the arithmetic form Keras and
 * TF1 write, which after constant folding is {@code Add|AddV2(Mul(y, C1), C2)} (or {@code Sub(Mul(y, C1), C2)}, or
 * a lone {@code Mul(y, C1)}) with C1, C2 scalars or per-channel constants on the last axis. Weights are scaled per
 * output channel (Conv2D HWIO: last axis; depthwise [h, w, in, multiplier]: channel in * multiplier + m; MatMul [in,
 * out], or [out, in] with transpose_b), computing in double and storing float32.
 *
 * <p>Folds only when the conv/matmul (and BiasAdd) output has no other reader, the weights and BN parameters are
 * float32 constants and the BN's other outputs are unused. The BN node is replaced by a BiasAdd of the same name and
 * output type, so its consumers and signature outputs are untouched. {@link #findPatterns} reports every pattern,
 * foldable or not (e.g. a graph whose variables were never loaded).
 */
public final class FoldBatchNorm implements GraphPass {

    /** A batch-norm pattern after a conv/matmul; {@code reason} says why it cannot be folded (null when it can). */
    public record Match(String bn, String bnOp, String producer, String producerOp, String biasAdd, String mul,
                        String reason) {
        public boolean foldable() {
            return reason == null;
        }
    }

    private static final Set<String> PRODUCERS = Set.of("Conv2D", "DepthwiseConv2dNative", "MatMul");
    private static final Set<String> FUSED = Set.of("FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3");

    @Override
    public String name() {
        return "fold-batch-norm";
    }

    /** Every batch-norm pattern the pass recognises, with whether (and why not) it can be folded. */
    public static List<Match> findPatterns(Graph graph) {
        List<Match> out = new ArrayList<>();
        GraphEdits.Uses uses = new GraphEdits.Uses(graph);
        for (Node n : graph.nodes()) {
            Match m = match(graph, n, uses);
            if (m != null) {
                out.add(m);
            }
        }
        return out;
    }

    @Override
    public PassResult apply(Graph graph) {
        Report r = new Report(name(), graph);
        // valid throughout: a fold keeps the readers of every tensor a later match asks about
        GraphEdits.Uses uses = new GraphEdits.Uses(graph);
        for (Node n : new ArrayList<>(graph.nodes())) {
            if (graph.find(n.name()) == null) {
                continue;
            }
            Match m = match(graph, graph.node(n.name()), uses);
            if (m == null) {
                continue;
            }
            if (!m.foldable()) {
                r.note("not folded: " + m.bnOp() + " '" + m.bn() + "' after " + m.producerOp() + " '" + m.producer()
                        + "': " + m.reason());
                continue;
            }
            fold(graph, m, uses);
            r.folded("folded " + m.bnOp() + " '" + m.bn() + "' into " + m.producerOp() + " '" + m.producer() + "'");
        }
        List<String> dead = GraphEdits.removeDead(graph, x -> x.op().equals("Const"));
        r.removed += dead.size();
        return r.finish(graph);
    }

    // ------------------------------------------------------------------ matching

    private static Match match(Graph g, Node bn, GraphEdits.Uses uses) {
        String op = bn.op();
        TensorRef x;
        String mul = null;
        if (FUSED.contains(op) || op.equals("BatchNormWithGlobalNormalization")) {
            if (bn.numDataInputs() != 5) {
                return null;
            }
            x = bn.input(0);
        } else if ((op.equals("Add") || op.equals("AddV2") || op.equals("Sub")) && bn.numDataInputs() == 2) {
            int mulSide = mulSide(g, bn);
            if (mulSide < 0) {
                return null;
            }
            Node m = g.node(bn.input(mulSide).node());
            mul = m.name();
            x = m.input(mulInputSide(g, m));
        } else if (op.equals("Mul") && bn.numDataInputs() == 2) {
            int side = mulInputSide(g, bn);
            if (side < 0) {
                return null;
            }
            // a Mul that feeds an Add-of-constant is matched from the Add
            List<String> readers = uses.readers(TensorRef.of(bn.name(), 0));
            if (readers.size() == 1 && g.find(readers.get(0)) != null && mulSide(g, g.node(readers.get(0))) >= 0) {
                return null;
            }
            x = bn.input(side);
        } else {
            return null;
        }
        if (x.index() != 0) {
            return null;
        }
        Node xNode = g.find(x.node());
        if (xNode == null) {
            return null;
        }
        String biasAdd = null;
        Node producer = xNode;
        if (xNode.op().equals("BiasAdd") && xNode.numDataInputs() == 2) {
            biasAdd = xNode.name();
            producer = g.find(xNode.input(0).node());
            if (producer == null || xNode.input(0).index() != 0) {
                return null;
            }
        }
        if (!PRODUCERS.contains(producer.op())) {
            return null;
        }
        Match m = new Match(bn.name(), op, producer.name(), producer.op(), biasAdd, mul, null);
        String reason = whyNot(g, bn, m, uses);
        return reason == null ? m : new Match(bn.name(), op, producer.name(), producer.op(), biasAdd, mul, reason);
    }

    /** For Add/Sub(Mul(y, c1), c2) or Add(c2, Mul(y, c1)): the input index of the Mul, else -1. */
    private static int mulSide(Graph g, Node add) {
        String op = add.op();
        if (!(op.equals("Add") || op.equals("AddV2") || op.equals("Sub")) || add.numDataInputs() != 2) {
            return -1;
        }
        for (int side = 0; side < 2; side++) {
            if (op.equals("Sub") && side == 1) {
                break;
            }
            Node m = g.find(add.input(side).node());
            if (m != null && m.op().equals("Mul") && add.input(side).index() == 0 && mulInputSide(g, m) >= 0
                    && isParameter(g, add.input(1 - side))) {
                return side;
            }
        }
        return -1;
    }

    /** For Mul(y, c) or Mul(c, y) with c constant and y a conv/matmul/BiasAdd: the index of y, else -1. */
    private static int mulInputSide(Graph g, Node mul) {
        if (!mul.op().equals("Mul") || mul.numDataInputs() != 2) {
            return -1;
        }
        for (int side = 0; side < 2; side++) {
            Node y = g.find(mul.input(side).node());
            if (y != null && isParameter(g, mul.input(1 - side))
                    && (PRODUCERS.contains(y.op()) || y.op().equals("BiasAdd"))) {
                return side;
            }
        }
        return -1;
    }

    /**
     * Whether {@code ref} is computed from parameters only (constants, variables), not from any signature input or
     * placeholder: after freezing and constant folding such a value is a Const; before (or without weights) the
     * pattern is still recognised and reported as not foldable.
     */
    private static boolean isParameter(Graph g, TensorRef ref) {
        if (g.constantValue(ref) != null) {
            return true;
        }
        Set<String> sigInputs = GraphEdits.signatureInputNodes(g);
        java.util.Deque<String> work = new java.util.ArrayDeque<>();
        Set<String> seen = new java.util.HashSet<>();
        work.add(ref.node());
        while (!work.isEmpty()) {
            String name = work.poll();
            if (!seen.add(name)) {
                continue;
            }
            Node n = g.find(name);
            if (n == null || sigInputs.contains(name) || n.op().startsWith("Placeholder")
                    || PRODUCERS.contains(n.op()) || seen.size() > 64) {
                return false;
            }
            for (TensorRef in : n.dataInputs()) {
                work.add(in.node());
            }
        }
        return true;
    }

    private static String whyNot(Graph g, Node bn, Match m, GraphEdits.Uses uses) {
        Node producer = g.node(m.producer());
        if (FUSED.contains(bn.op()) && bn.attrBool("is_training", true)) {
            return "is_training is true";
        }
        int other = uses.nonZeroOutputRead(bn.name());
        if (other > 0) {
            return "its output " + other + " is read";
        }
        List<String> chain = new ArrayList<>();
        chain.add(m.producer());
        if (m.biasAdd() != null) {
            chain.add(m.biasAdd());
        }
        if (m.mul() != null) {
            chain.add(m.mul());
        }
        for (String c : chain) {
            if (uses.count(TensorRef.of(c, 0)) != 1) {
                return "the output of '" + c + "' has other readers";
            }
        }
        String format = producer.attrString("data_format", "NHWC");
        boolean fusedForm = FUSED.contains(bn.op());
        if (fusedForm && !bn.attrString("data_format", "NHWC").equals(format)) {
            return "data_format of the batch norm differs from the convolution's";
        }
        if (!fusedForm && !format.equals("NHWC")) {
            return "only NHWC is supported for this form";
        }
        if (m.biasAdd() != null && !g.node(m.biasAdd()).attrString("data_format", "NHWC").equals(format)) {
            return "BiasAdd data_format differs from the convolution's";
        }
        Tensor w = producer.numDataInputs() == 2 ? g.constantValue(producer.input(1)) : null;
        if (w == null) {
            return "the weights of '" + producer.name() + "' are not a constant";
        }
        if (w.dtype() != DType.FLOAT) {
            return "the weights are " + w.dtype() + ", not float32";
        }
        int channels = channels(producer, w);
        if (channels < 0) {
            return "unexpected weight shape " + w.shape();
        }
        try {
            params(g, bn, m, channels);
        } catch (IllegalArgumentException e) {
            return e.getMessage();
        }
        return null;
    }

    /** Output channels of the producer given its weights, or -1. */
    static int channels(Node producer, Tensor w) {
        Shape s = w.shape();
        switch (producer.op()) {
            case "Conv2D":
                return s.rank() == 4 ? (int) s.dim(3) : -1;
            case "DepthwiseConv2dNative":
                return s.rank() == 4 ? (int) (s.dim(2) * s.dim(3)) : -1;
            case "MatMul":
                if (s.rank() != 2) {
                    return -1;
                }
                return (int) (producer.attrBool("transpose_b", false) ? s.dim(0) : s.dim(1));
            default:
                return -1;
        }
    }

    /** Per-channel scale (row 0) and offset (row 1) of the normalization; throws with the reason when impossible. */
    private static double[][] params(Graph g, Node bn, Match m, int c) {
        double[] scale;
        double[] offset;
        switch (bn.op()) {
            case "FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3" -> {
                double[] gamma = perChannel(g, bn.input(1), c, "scale");
                double[] beta = perChannel(g, bn.input(2), c, "offset");
                double[] mean = perChannel(g, bn.input(3), c, "mean");
                double[] var = perChannel(g, bn.input(4), c, "variance");
                double eps = bn.attrFloat("epsilon", 1e-4f);
                scale = new double[c];
                offset = new double[c];
                for (int i = 0; i < c; i++) {
                    scale[i] = gamma[i] / Math.sqrt(var[i] + eps);
                    offset[i] = beta[i] - mean[i] * scale[i];
                }
            }
            case "BatchNormWithGlobalNormalization" -> {
                double[] mean = perChannel(g, bn.input(1), c, "mean");
                double[] var = perChannel(g, bn.input(2), c, "variance");
                double[] beta = perChannel(g, bn.input(3), c, "beta");
                double[] gamma = perChannel(g, bn.input(4), c, "gamma");
                double eps = bn.attrFloat("variance_epsilon");
                boolean useGamma = bn.attrBool("scale_after_normalization", false);
                scale = new double[c];
                offset = new double[c];
                for (int i = 0; i < c; i++) {
                    scale[i] = (useGamma ? gamma[i] : 1.0) / Math.sqrt(var[i] + eps);
                    offset[i] = beta[i] - mean[i] * scale[i];
                }
            }
            default -> {
                Node mul = m.mul() != null ? g.node(m.mul()) : bn;
                int ySide = mulInputSide(g, mul);
                int maxRank = m.producerOp().equals("MatMul") ? 2 : 4;
                scale = perChannel(g, mul.input(1 - ySide), c, "multiplier", maxRank);
                if (m.mul() == null) {
                    offset = new double[c];
                } else {
                    int side = mulSide(g, bn);
                    offset = perChannel(g, bn.input(1 - side), c, "addend", maxRank);
                    if (bn.op().equals("Sub")) {
                        for (int i = 0; i < c; i++) {
                            offset[i] = -offset[i];
                        }
                    }
                }
                TensorType outType = bn.outputType(0);
                TensorType yType = g.typeOf(mul.input(ySide));
                if (outType != null && yType != null && outType.shape().hasRank() && yType.shape().hasRank()
                        && outType.shape().rank() != yType.shape().rank()) {
                    throw new IllegalArgumentException("the constants change the rank");
                }
            }
        }
        return new double[][] {scale, offset};
    }

    /** A constant of c values or one value (broadcast), only on the last axis; throws with the reason otherwise. */
    private static double[] perChannel(Graph g, TensorRef ref, int c, String what) {
        return perChannel(g, ref, c, what, 4);
    }

    private static double[] perChannel(Graph g, TensorRef ref, int c, String what, int maxRank) {
        Tensor t = g.constantValue(ref);
        if (t == null) {
            throw new IllegalArgumentException("the " + what + " is not a constant");
        }
        if (t.dtype() != DType.FLOAT) {
            throw new IllegalArgumentException("the " + what + " is " + t.dtype() + ", not float32");
        }
        long[] d = t.shape().dims();
        for (int i = 0; i < d.length - 1; i++) {
            if (d[i] != 1) {
                throw new IllegalArgumentException("the " + what + " " + t.shape() + " is not per channel");
            }
        }
        if (d.length > maxRank) {
            throw new IllegalArgumentException("the " + what + " " + t.shape() + " has rank > " + maxRank);
        }
        double[] v = t.asDoubles();
        if (v.length == c) {
            return v;
        }
        if (v.length == 1) {
            double[] out = new double[c];
            java.util.Arrays.fill(out, v[0]);
            return out;
        }
        throw new IllegalArgumentException("the " + what + " " + t.shape() + " does not match " + c + " channels");
    }

    // ------------------------------------------------------------------ folding

    private static void fold(Graph g, Match m, GraphEdits.Uses uses) {
        Node bn = g.node(m.bn());
        Node producer = g.node(m.producer());
        Tensor w = g.constantValue(producer.input(1));
        int c = channels(producer, w);
        double[][] p = params(g, bn, m, c);
        double[] scale = p[0];
        double[] offset = p[1];

        // read the weights in place and write the folded ones straight into the new tensor's buffer: the weights may
        // be large, and float[] round trips would hold them three times
        FloatBuffer wv = w.bytes().asFloatBuffer();
        int n = wv.remaining();
        boolean rowMajorOut = producer.op().equals("MatMul") && producer.attrBool("transpose_b", false);
        int inner = rowMajorOut ? n / c : 1;
        ByteBuffer folded = ByteBuffer.allocate(Math.multiplyExact(n, 4)).order(ByteOrder.LITTLE_ENDIAN);
        FloatBuffer nw = folded.asFloatBuffer();
        for (int i = 0; i < n; i++) {
            int ch = rowMajorOut ? i / inner : i % c;
            nw.put(i, (float) (wv.get(i) * scale[ch]));
        }
        double[] bias = new double[c];
        List<String> controls = new ArrayList<>(bn.controlInputs());
        if (m.biasAdd() != null) {
            Node ba = g.node(m.biasAdd());
            double[] b = perChannel(g, ba.input(1), c, "bias");
            System.arraycopy(b, 0, bias, 0, c);
            controls.addAll(ba.controlInputs());
        }
        if (m.mul() != null) {
            controls.addAll(g.node(m.mul()).controlInputs());
        }
        float[] nb = new float[c];
        for (int i = 0; i < c; i++) {
            nb[i] = (float) (bias[i] * scale[i] + offset[i]);
        }

        String wName = g.uniqueName(producer.name() + "/kiln_folded_weights");
        g.add(GraphEdits.constNode(wName, Tensor.wrap(DType.FLOAT, w.shape(), folded), List.of()));
        List<String> pins = new ArrayList<>(producer.inputs());
        pins.set(1, wName);
        g.replace(producer.withInputs(pins));

        String bName = g.uniqueName(bn.name() + "/kiln_folded_bias");
        g.add(GraphEdits.constNode(bName, Tensor.ofFloats(Shape.of(c), nb), List.of()));
        TensorType outType = bn.outputType(0) != null ? bn.outputType(0) : producer.outputType(0);
        Node.Builder b = Node.builder(bn.name(), "BiasAdd").input(TensorRef.of(producer.name(), 0)).input(bName)
                .attr("T", AttrValue.of(DType.FLOAT))
                .attr("data_format", AttrValue.of(producer.attrString("data_format", "NHWC")))
                .device(bn.device());
        for (String ctl : new LinkedHashSet<>(controls)) {
            b.input("^" + ctl);
        }
        if (outType != null) {
            b.outputType(outType);
        }
        g.replace(b.build());
        for (String gone : new String[] {m.mul(), m.biasAdd()}) {
            if (gone == null) {
                continue;
            }
            if (uses.isControlTarget(gone)) {
                GraphEdits.removeForwardingControl(g, gone, true);
            } else {
                g.remove(gone);
            }
        }
    }
}
