package dev.kiln.onnx;

import dev.kiln.graph.Node;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.graph.TensorType;
import dev.kiln.onnx.OnnxEmitter.Layout;
import dev.kiln.onnx.OnnxEmitter.Val;

import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Layer normalization as TensorFlow writes it, lowered to one ONNX LayerNormalization (opset 17): the form of
 * {@code tf.nn.moments} + {@code tf.nn.batch_normalization} (Keras' LayerNormalization in general)
 * <pre>
 *   mean = Mean(x, axes, keep_dims); var = Mean(SquaredDifference(x, mean), axes, keep_dims)
 *   inv = Rsqrt(var + eps) [* gamma];  y = x * inv + (beta - mean * inv)
 * </pre>
 * and Keras' fused form, a training-mode FusedBatchNormV3 over a [1, rows, features, 1] NCHW view with unit scale and
 * zero offset, reshaped back, then {@code * gamma + beta}. The normalized axes must be the trailing ones with static
 * sizes, and gamma and beta constants that vary only along them.
 */
final class LayerNormFusion {
    private LayerNormFusion() {
    }

    /** The fusion rooted at {@code root} (the final Add), or null. */
    static OnnxFusions.Fusion match(PatternView v, Node root) {
        if (!(root.op().equals("AddV2") || root.op().equals("Add")) || !PatternView.floatNode(root)) {
            return null;
        }
        for (int i = 0; i < 2; i++) {
            OnnxFusions.Fusion f = moments(v, root, root.input(i), root.input(1 - i));
            if (f == null) {
                f = fusedBatchNorm(v, root, root.input(i), root.input(1 - i));
            }
            if (f == null) {
                f = centered(v, root, root.input(i), root.input(1 - i));
            }
            if (f != null) {
                return f;
            }
        }
        return null;
    }

    /** y = x * inv + (beta - mean * inv), with {@code scaled} = x * inv and {@code shift} = beta - mean * inv. */
    private static OnnxFusions.Fusion moments(PatternView v, Node root, TensorRef scaled, TensorRef shift) {
        Set<String> members = new HashSet<>(Set.of(root.name()));
        Node mulX = v.producer(scaled, "Mul", members);
        Node sub = v.producer(shift, "Sub", members);
        if (mulX == null || sub == null) {
            return null;
        }
        Tensor beta = v.constant(sub.input(0));
        Node mulMean = v.producer(sub.input(1), "Mul", members);
        if (beta == null || mulMean == null) {
            return null;
        }
        members.add(mulX.name());
        members.add(sub.name());
        members.add(mulMean.name());
        // mul_x = x * inv and mul_mean = mean * inv share inv
        for (int a = 0; a < 2; a++) {
            for (int b = 0; b < 2; b++) {
                if (!v.same(mulX.input(1 - a), mulMean.input(1 - b))) {
                    continue;
                }
                Set<String> m = new HashSet<>(members);
                OnnxFusions.Fusion f = fromMoments(v, root, m, mulX.input(a), mulMean.input(b), mulX.input(1 - a),
                        beta);
                if (f != null) {
                    return f;
                }
            }
        }
        return null;
    }

    private static OnnxFusions.Fusion fromMoments(PatternView v, Node root, Set<String> members, TensorRef x,
                                                  TensorRef meanRef, TensorRef invRef, Tensor beta) {
        Node mean = v.producer(meanRef, "Mean", members);
        if (mean == null || !v.same(mean.input(0), x) || !mean.attrBool("keep_dims", false)) {
            return null;
        }
        // inv = Rsqrt(var + eps) * gamma, or Rsqrt(var + eps)
        Tensor gamma = null;
        Node rsqrt = v.producer(invRef, "Rsqrt", members);
        if (rsqrt == null) {
            Node mulG = v.producer(invRef, "Mul", members);
            if (mulG == null) {
                return null;
            }
            members.add(mulG.name());
            for (int i = 0; i < 2 && rsqrt == null; i++) {
                rsqrt = v.producer(mulG.input(i), "Rsqrt", members);
                gamma = rsqrt == null ? null : v.constant(mulG.input(1 - i));
            }
            if (rsqrt == null || gamma == null) {
                return null;
            }
        }
        members.add(rsqrt.name());
        Node addEps = v.producer(rsqrt.input(0), "AddV2", members);
        if (addEps == null) {
            addEps = v.producer(rsqrt.input(0), "Add", members);
        }
        if (addEps == null) {
            return null;
        }
        members.add(addEps.name());
        for (int i = 0; i < 2; i++) {
            Double eps = v.scalar(addEps.input(1 - i));
            Node var = v.producer(addEps.input(i), "Mean", members);
            if (eps == null || var == null || !var.attrBool("keep_dims", false)) {
                continue;
            }
            Node sq = v.producer(var.input(0), "SquaredDifference", members);
            int meanSide = sq == null ? -1 : v.same(sq.input(0), x) && v.same(sq.input(1), meanRef) ? 1
                    : v.same(sq.input(1), x) && v.same(sq.input(0), meanRef) ? 0 : -1;
            if (meanSide < 0) {
                continue;
            }
            v.through(sq.input(meanSide), members); // tf.nn.moments' StopGradient on the mean
            Tensor ax1 = v.constant(mean.input(1));
            Tensor ax2 = v.constant(var.input(1));
            int axis = trailingAxis(v, x, ax1);
            if (axis < 0 || ax2 == null || trailingAxis(v, x, ax2) != axis) {
                continue;
            }
            members.add(var.name());
            members.add(sq.name());
            members.add(mean.name());
            return fusion(v, root, members, x, axis, eps.floatValue(), gamma, beta);
        }
        return null;
    }

    /**
     * The hand-written form of many TF models (the official Transformer, OpenNMT): d = x - mean,
     * var = Mean(Square(d)) (or Mean(SquaredDifference(x, mean))), root = d * Rsqrt(var + eps) [* gamma] + beta, or
     * d / Sqrt(var + eps) [* gamma] + beta, the products in any order.
     */
    private static OnnxFusions.Fusion centered(PatternView v, Node root, TensorRef scaled, TensorRef betaRef) {
        Tensor beta = v.constant(betaRef);
        Set<String> members = new HashSet<>(Set.of(root.name()));
        Node mul = v.producer(scaled, "Mul", members);
        Node div = mul == null ? v.producer(scaled, "RealDiv", members) : null;
        if (beta == null || mul == null && div == null) {
            return null;
        }
        List<TensorRef> factors = mul != null ? v.factors(mul, members, 3) : List.of(scaled);
        if (factors == null) {
            return null;
        }
        members.add((mul != null ? mul : div).name());
        Tensor gamma = null;
        Node sub = null;
        Node root2 = null; // Rsqrt(var + eps), or Sqrt(var + eps) under a RealDiv
        for (TensorRef f : factors) {
            Tensor c = v.constant(f);
            Node rs = v.producer(f, "Rsqrt", members);
            Node d = v.producer(f, "Sub", members);
            Node q = v.producer(f, "RealDiv", members);
            if (c != null && gamma == null) {
                gamma = c;
            } else if (rs != null && root2 == null) {
                root2 = rs;
            } else if (d != null && sub == null) {
                sub = d;
            } else if (q != null && sub == null && root2 == null) {
                members.add(q.name());
                sub = v.producer(q.input(0), "Sub", members);
                root2 = v.producer(q.input(1), "Sqrt", members);
            } else {
                return null;
            }
        }
        if (sub == null || root2 == null) {
            return null;
        }
        members.add(sub.name());
        members.add(root2.name());
        TensorRef x = sub.input(0);
        Node mean = v.producer(sub.input(1), "Mean", members);
        Node addEps = v.producer(root2.input(0), "AddV2", members);
        if (addEps == null) {
            addEps = v.producer(root2.input(0), "Add", members);
        }
        if (mean == null || addEps == null || !v.same(mean.input(0), x) || !mean.attrBool("keep_dims", false)) {
            return null;
        }
        members.add(mean.name());
        members.add(addEps.name());
        for (int i = 0; i < 2; i++) {
            Double eps = v.scalar(addEps.input(1 - i));
            Node var = v.producer(addEps.input(i), "Mean", members);
            if (eps == null || var == null || !var.attrBool("keep_dims", false)) {
                continue;
            }
            if (!squaredDeviation(v, var.input(0), x, sub, members)) {
                continue;
            }
            Tensor ax2 = v.constant(var.input(1));
            int axis = trailingAxis(v, x, v.constant(mean.input(1)));
            if (axis < 0 || ax2 == null || trailingAxis(v, x, ax2) != axis) {
                continue;
            }
            members.add(var.name());
            return fusion(v, root, members, x, axis, eps.floatValue(), gamma, beta);
        }
        return null;
    }

    /** Whether {@code r} is (x - mean)² as Square(d) (d the same Sub, or another of x and the same mean) or
     * SquaredDifference(x, mean); its nodes join {@code members}. */
    private static boolean squaredDeviation(PatternView v, TensorRef r, TensorRef x, Node sub, Set<String> members) {
        Node sq = v.producer(r, "Square", members);
        if (sq != null) {
            Node d = v.producer(sq.input(0), "Sub", members);
            if (d == null || !v.same(d.input(0), x) || !v.same(d.input(1), sub.input(1))) {
                return false;
            }
            members.add(sq.name());
            members.add(d.name());
            return true;
        }
        Node sd = v.producer(r, "SquaredDifference", members);
        if (sd == null || !(v.same(sd.input(0), x) && v.same(sd.input(1), sub.input(1))
                || v.same(sd.input(1), x) && v.same(sd.input(0), sub.input(1)))) {
            return false;
        }
        members.add(sd.name());
        return true;
    }

    /**
     * Keras' fused form: root = Mul(Reshape(FusedBatchNormV3(Reshape(x))), gamma) + beta, the batch norm in
     * training mode over NCHW with unit scale and zero offset.
     */
    private static OnnxFusions.Fusion fusedBatchNorm(PatternView v, Node root, TensorRef scaled, TensorRef betaRef) {
        Tensor beta = v.constant(betaRef);
        Set<String> members = new HashSet<>(Set.of(root.name()));
        Node mul = v.producer(scaled, "Mul", members);
        if (beta == null || mul == null) {
            return null;
        }
        members.add(mul.name());
        for (int i = 0; i < 2; i++) {
            Tensor gamma = v.constant(mul.input(1 - i));
            Node back = v.producer(mul.input(i), "Reshape", members);
            if (gamma == null || back == null) {
                continue;
            }
            Node bn = v.producer(back.input(0), "FusedBatchNormV3", members);
            if (bn == null || !bn.attrBool("is_training", false) || !"NCHW".equals(bn.attrString("data_format",
                    "NHWC")) || !allEqual(v.constant(bn.input(1)), 1) || !allEqual(v.constant(bn.input(2)), 0)) {
                continue;
            }
            Node view = v.producer(bn.input(0), "Reshape", members);
            TensorType viewType = view == null ? null : v.typeOf(TensorRef.of(view.name(), 0));
            if (viewType == null || viewType.shape().rank() != 4) {
                continue;
            }
            long features = viewType.shape().dim(2);
            TensorRef x = view.input(0);
            TensorType xt = v.typeOf(x);
            TensorType yt = v.typeOf(TensorRef.of(back.name(), 0));
            if (features <= 0 || viewType.shape().dim(3) != 1 || xt == null || yt == null
                    || !xt.shape().hasRank() || !yt.shape().equals(xt.shape())) {
                continue;
            }
            int axis = axisWithTrailingSize(xt.shape(), features);
            if (axis < 0) {
                continue;
            }
            members.add(back.name());
            members.add(bn.name());
            members.add(view.name());
            return fusion(v, root, members, x, axis, bn.attrFloat("epsilon", 1e-3f), gamma, beta);
        }
        return null;
    }

    private static OnnxFusions.Fusion fusion(PatternView v, Node root, Set<String> members, TensorRef x, int axis,
                                             float eps, Tensor gamma, Tensor beta) {
        if (!v.closed(members, root.name())) {
            return null; // an inner value is read elsewhere: keep the ops
        }
        long[] d = v.typeOf(x).shape().dims();
        if (gamma == null) {
            gamma = Tensor.scalar(1f); // no scale
        }
        long[] norm = java.util.Arrays.copyOfRange(d, axis, d.length);
        float[] scale = broadcast(gamma, d.length, axis, norm);
        float[] bias = broadcast(beta, d.length, axis, norm);
        if (scale == null || bias == null) {
            return null;
        }
        int rank = d.length;
        return new OnnxFusions.Fusion(root.name(), members, List.of(x), (e, n) -> {
            int ct = e.computeType(n);
            Val in = e.get(x, Layout.NATIVE, ct);
            String s = e.init(n.name() + "/gamma", typed(ct, Tensor.ofFloats(Shape.of(norm), scale)));
            String b = e.init(n.name() + "/beta", typed(ct, Tensor.ofFloats(Shape.of(norm), bias)));
            String out = e.add("LayerNormalization", n.name(), List.of(in.name(), s, b),
                    OnnxEmitter.attr("axis", (long) axis), OnnxEmitter.attr("epsilon", eps));
            e.put(n, 0, new Val(out, Layout.NATIVE, ct, rank));
        });
    }

    private static Tensor typed(int onnxType, Tensor t) {
        return onnxType == OnnxEmitter.F16 ? OnnxTensors.toHalf(t) : t;
    }

    /**
     * The first normalized axis when {@code axes} (a constant) are exactly the trailing axes of {@code x}, with
     * static sizes; else -1.
     */
    private static int trailingAxis(PatternView v, TensorRef x, Tensor axes) {
        TensorType t = v.typeOf(x);
        if (axes == null || t == null || !t.shape().hasRank()) {
            return -1;
        }
        int rank = t.shape().rank();
        long[] a = axes.asLongs();
        boolean[] seen = new boolean[rank];
        for (long ax : a) {
            long p = ax < 0 ? ax + rank : ax;
            if (p < 0 || p >= rank || seen[(int) p]) {
                return -1;
            }
            seen[(int) p] = true;
        }
        int first = rank - a.length;
        for (int i = 0; i < rank; i++) {
            if (seen[i] != (i >= first) || i >= first && t.shape().dim(i) <= 0) {
                return -1;
            }
        }
        return a.length == 0 ? -1 : first;
    }

    /** The axis from which the trailing static dims of {@code s} multiply to {@code size}, or -1. */
    private static int axisWithTrailingSize(Shape s, long size) {
        long p = 1;
        for (int i = s.rank() - 1; i >= 1; i--) {
            if (s.dim(i) <= 0) {
                return -1;
            }
            p *= s.dim(i);
            if (p == size) {
                return i;
            }
            if (p > size) {
                return -1;
            }
        }
        return -1;
    }

    /**
     * {@code t} (gamma or beta) as values over the normalized dims {@code norm}, when it broadcasts against the input
     * (rank {@code rank}) varying only along the normalized axes; else null.
     */
    private static float[] broadcast(Tensor t, int rank, int axis, long[] norm) {
        long[] td = t.shape().dims();
        if (td.length > rank) {
            return null;
        }
        long[] full = new long[rank]; // t's dims aligned right
        java.util.Arrays.fill(full, 1);
        System.arraycopy(td, 0, full, rank - td.length, td.length);
        for (int i = 0; i < rank; i++) {
            boolean ok = i < axis ? full[i] == 1 : full[i] == 1 || full[i] == norm[i - axis];
            if (!ok) {
                return null;
            }
        }
        double[] src = t.asDoubles();
        int n = 1;
        for (long k : norm) {
            n *= (int) k;
        }
        float[] out = new float[n];
        int k = norm.length;
        int[] idx = new int[k];
        for (int o = 0; o < n; o++) {
            int off = 0;
            for (int j = 0; j < k; j++) { // offset into t: its own strides, 0 along broadcast dims
                off = off * (int) full[axis + j] + (full[axis + j] == 1 ? 0 : idx[j]);
            }
            out[o] = (float) src[off];
            for (int j = k - 1; j >= 0; j--) {
                if (++idx[j] < norm[j]) {
                    break;
                }
                idx[j] = 0;
            }
        }
        return out;
    }

    private static boolean allEqual(Tensor t, double v) {
        if (t == null) {
            return false;
        }
        for (double d : t.asDoubles()) {
            if (d != v) {
                return false;
            }
        }
        return true;
    }
}
