package dev.kiln.graph;

/**
 * A reference to one output of a node, written the TensorFlow way: {@code "node"} (output 0), {@code "node:2"}, or
 * {@code "^node"} for a control dependency (no data).
 */
public record TensorRef(String node, int index, boolean control) {

    public static TensorRef of(String node, int index) {
        return new TensorRef(node, index, false);
    }

    public static TensorRef control(String node) {
        return new TensorRef(node, -1, true);
    }

    /** Parses {@code "node"}, {@code "node:k"} or {@code "^node"}. */
    public static TensorRef parse(String ref) {
        if (ref.startsWith("^")) {
            return control(ref.substring(1));
        }
        int colon = ref.lastIndexOf(':');
        if (colon > 0) {
            String tail = ref.substring(colon + 1);
            if (!tail.isEmpty() && tail.chars().allMatch(Character::isDigit)) {
                return of(ref.substring(0, colon), Integer.parseInt(tail));
            }
        }
        return of(ref, 0);
    }

    /** The canonical text: {@code "node"} for output 0, {@code "node:k"} otherwise, {@code "^node"} for control. */
    @Override
    public String toString() {
        if (control) {
            return "^" + node;
        }
        return index == 0 ? node : node + ":" + index;
    }
}
