package dev.kiln.tensorflow.shapes;

import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/** The shape rule of every op Kiln types itself, one family per class, looked up by TensorFlow op name. */
final class ShapeRules {
    private static final Map<String, ShapeRule> RULES = build();

    private ShapeRules() {
    }

    private static Map<String, ShapeRule> build() {
        Map<String, ShapeRule> m = new HashMap<>();
        ElementwiseShapes.register(m);
        NnShapes.register(m);
        ReductionShapes.register(m);
        ArrayShapes.register(m);
        return Map.copyOf(m);
    }

    static ShapeRule of(String op) {
        return RULES.get(op);
    }

    static Set<String> ops() {
        return RULES.keySet();
    }
}
