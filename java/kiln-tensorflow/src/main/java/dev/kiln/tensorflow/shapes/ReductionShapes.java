package dev.kiln.tensorflow.shapes;

import dev.kiln.graph.Shape;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/** Reductions over constant axes (Mean, Sum, Max ...), and ArgMax/ArgMin. */
final class ReductionShapes {
    static final List<String> REDUCTIONS = List.of("Mean", "Sum", "Max", "Min", "Prod", "All", "Any",
            "EuclideanNorm");

    private ReductionShapes() {
    }

    static void register(Map<String, ShapeRule> rules) {
        REDUCTIONS.forEach(op -> rules.put(op, ReductionShapes::reduce));
        rules.put("ArgMax", ReductionShapes::argExtreme);
        rules.put("ArgMin", ReductionShapes::argExtreme);
    }

    private static List<Shape> reduce(NodeShapes n) {
        int r = n.rank(0);
        long[] axes = n.exactValue(1);
        boolean[] reduced = new boolean[r];
        for (long a : axes) {
            reduced[n.axis(a, r)] = true;
        }
        boolean keep = n.boolAttr("keep_dims");
        long[] x = n.shape(0).dims();
        List<Long> out = new ArrayList<>();
        for (int i = 0; i < r; i++) {
            if (!reduced[i]) {
                out.add(x[i]);
            } else if (keep) {
                out.add(1L);
            }
        }
        return NodeShapes.one(out.stream().mapToLong(Long::longValue).toArray());
    }

    private static List<Shape> argExtreme(NodeShapes n) {
        int r = n.rank(0);
        IntValue v = n.value(1);
        if (!v.scalar() || !v.isExact()) {
            throw n.giveUp("the axis is not a known scalar");
        }
        int axis = n.axis(v.get(0), r);
        long[] x = n.shape(0).dims();
        long[] out = new long[r - 1];
        for (int i = 0, k = 0; i < r; i++) {
            if (i != axis) {
                out[k++] = x[i];
            }
        }
        return NodeShapes.one(out);
    }
}
