package dev.kiln.onnx;

import dev.kiln.graph.Node;
import dev.kiln.graph.TensorRef;
import dev.kiln.onnx.OnnxEmitter.Layout;
import dev.kiln.onnx.OnnxEmitter.Val;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * GELU as {@code tf.nn.gelu} and Keras write it, lowered to one ONNX Gelu (opset 20):
 * exact, {@code 0.5 * x * (1 + erf(x / sqrt 2))} (the division or a multiplication by 1/sqrt 2), or the tanh
 * approximation {@code 0.5 * x * (1 + tanh(sqrt(2/pi) * (x + 0.044715 * x^3)))} (Pow(x, 3) or x * x * x). The
 * products may nest in any order.
 */
final class GeluFusion {
    private static final double SQRT2 = Math.sqrt(2);
    private static final double SQRT_2_OVER_PI = Math.sqrt(2 / Math.PI);

    private GeluFusion() {
    }

    /** The fusion rooted at {@code root} (the outer Mul), or null. */
    static OnnxFusions.Fusion match(PatternView v, Node root) {
        if (!root.op().equals("Mul") || !PatternView.floatNode(root)) {
            return null;
        }
        Set<String> members = new HashSet<>(Set.of(root.name()));
        List<TensorRef> f = v.factors(root, members, 3);
        if (f == null || f.size() != 3) {
            return null;
        }
        for (int half = 0; half < 3; half++) {
            if (!v.isScalar(f.get(half), 0.5)) {
                continue;
            }
            for (int s = 0; s < 3; s++) {
                if (s == half) {
                    continue;
                }
                TensorRef x = f.get(3 - half - s);
                Set<String> m = new HashSet<>(members);
                String approximate = onePlus(v, f.get(s), x, m);
                if (approximate != null && v.closed(m, root.name())) {
                    int rank = v.typeOf(x) == null || !v.typeOf(x).shape().hasRank() ? -1
                            : v.typeOf(x).shape().rank();
                    return new OnnxFusions.Fusion(root.name(), m, List.of(x), (e, n) -> {
                        Val in = e.get(x, Layout.ANY, e.computeType(n));
                        String out = e.add("Gelu", n.name(), List.of(in.name()),
                                OnnxEmitter.attr("approximate", approximate));
                        e.put(n, 0, new Val(out, in.layout(), in.type(), rank < 0 ? in.rank() : rank));
                    });
                }
            }
        }
        return null;
    }

    /** For {@code s} = 1 + erf(..) or 1 + tanh(..) of {@code x}: "none" or "tanh"; else null. */
    private static String onePlus(PatternView v, TensorRef s, TensorRef x, Set<String> m) {
        Node add = v.producer(s, "AddV2", m);
        if (add == null) {
            add = v.producer(s, "Add", m);
        }
        if (add == null) {
            return null;
        }
        m.add(add.name());
        for (int i = 0; i < 2; i++) {
            if (!v.isScalar(add.input(1 - i), 1)) {
                continue;
            }
            Node erf = v.producer(add.input(i), "Erf", m);
            if (erf != null && scaledBy(v, erf.input(0), x, 1 / SQRT2, m)) {
                m.add(erf.name());
                return "none";
            }
            Node tanh = v.producer(add.input(i), "Tanh", m);
            if (tanh != null && tanhArgument(v, tanh.input(0), x, m)) {
                m.add(tanh.name());
                return "tanh";
            }
        }
        return null;
    }

    /** Whether {@code r} = x * c or x / (1 / c). */
    private static boolean scaledBy(PatternView v, TensorRef r, TensorRef x, double c, Set<String> m) {
        Node div = v.producer(r, "RealDiv", m);
        if (div != null) {
            m.add(div.name());
            return v.same(div.input(0), x) && v.isScalar(div.input(1), 1 / c);
        }
        Node mul = v.producer(r, "Mul", m);
        if (mul == null) {
            return false;
        }
        m.add(mul.name());
        List<TensorRef> f = v.factors(mul, m, 2);
        return f != null && f.size() == 2 && (v.same(f.get(0), x) && v.isScalar(f.get(1), c)
                || v.same(f.get(1), x) && v.isScalar(f.get(0), c));
    }

    /** Whether {@code r} = sqrt(2/pi) * (x + 0.044715 * x^3). */
    private static boolean tanhArgument(PatternView v, TensorRef r, TensorRef x, Set<String> m) {
        Node mul = v.producer(r, "Mul", m);
        if (mul == null) {
            return false;
        }
        m.add(mul.name());
        List<TensorRef> f = v.factors(mul, m, 2);
        if (f == null || f.size() != 2) {
            return false;
        }
        for (int i = 0; i < 2; i++) {
            if (!v.isScalar(f.get(1 - i), SQRT_2_OVER_PI)) {
                continue;
            }
            Node sum = v.producer(f.get(i), "AddV2", m);
            if (sum == null) {
                sum = v.producer(f.get(i), "Add", m);
            }
            if (sum == null) {
                return false;
            }
            m.add(sum.name());
            for (int j = 0; j < 2; j++) {
                if (v.same(sum.input(j), x) && cubeTerm(v, sum.input(1 - j), x, m)) {
                    return true;
                }
            }
        }
        return false;
    }

    /** Whether {@code r} = 0.044715 * x^3, the cube as Pow(x, 3) or x * x * x. */
    private static boolean cubeTerm(PatternView v, TensorRef r, TensorRef x, Set<String> m) {
        Node mul = v.producer(r, "Mul", m);
        if (mul == null) {
            return false;
        }
        m.add(mul.name());
        List<TensorRef> f = v.factors(mul, m, 4);
        if (f == null) {
            return false;
        }
        List<TensorRef> rest = new ArrayList<>(f);
        if (!rest.removeIf(t -> v.isScalar(t, 0.044715)) || rest.isEmpty()) {
            return false;
        }
        if (rest.size() == 3) {
            return rest.stream().allMatch(t -> v.same(t, x));
        }
        if (rest.size() != 1) {
            return false;
        }
        Node pow = v.producer(rest.get(0), "Pow", m);
        if (pow == null || !v.same(pow.input(0), x) || !v.isScalar(pow.input(1), 3)) {
            return false;
        }
        m.add(pow.name());
        return true;
    }
}
