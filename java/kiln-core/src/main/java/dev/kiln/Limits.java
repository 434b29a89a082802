package dev.kiln;

import dev.kiln.graph.Shape;

/**
 * The sizes Kiln accepts from a file before it allocates anything for them, so that a model or data file declaring
 * absurd sizes (a tensor of 2^40 elements, a million nodes) is refused with the limit named, instead of ending in an
 * OutOfMemoryError or an arithmetic overflow. Readers check a declared size here first, then compare it with the
 * bytes the file actually holds.
 */
public final class Limits {
    /** The largest tensor: what one Java byte buffer holds (2 GiB), less a margin the JVM keeps. */
    public static final long MAX_TENSOR_BYTES = Integer.MAX_VALUE - 64;
    /** Overrides {@link #DEFAULT_MAX_NODES}. */
    public static final String MAX_NODES_PROPERTY = "kiln.maxNodes";
    /** Graphs in the wild have up to tens of thousands of nodes; more than this is a corrupt or hostile file. */
    public static final int DEFAULT_MAX_NODES = 500_000;

    private Limits() {
    }

    /**
     * The bytes of a tensor of {@code shape} (fully defined) with {@code elementBytes} per element; a
     * {@link ErrorCode#RESOURCE_LIMIT} error naming {@code what} when the count overflows, exceeds
     * {@link #MAX_TENSOR_BYTES}, or exceeds the Java heap.
     */
    public static long tensorBytes(String what, Shape shape, long elementBytes) {
        long elements = 1;
        for (long d : shape.dims()) {
            if (d < 0) {
                throw new KilnException(ErrorCode.INVALID_MODEL, what + ": negative dimension " + d + " in shape "
                        + shape);
            }
            elements = d == 0 || elements == 0 ? 0 : multiply(what, shape, elements, d);
        }
        long bytes = multiply(what, shape, elements, Math.max(1, elementBytes));
        if (bytes > MAX_TENSOR_BYTES) {
            throw tooLarge(what, shape, bytes, "Kiln's limit of " + MAX_TENSOR_BYTES + " bytes (2 GiB) per tensor");
        }
        long heap = Runtime.getRuntime().maxMemory();
        if (bytes > heap) {
            throw tooLarge(what, shape, bytes, "the Java heap (-Xmx, " + heap + " bytes): give Kiln more memory "
                    + "with KILN_JAVA_OPTS=-Xmx<size> (the kiln launcher) or java -Xmx<size>");
        }
        return bytes;
    }

    /** Refuses a graph of {@code count} nodes over {@link #maxNodes()}; {@code what} names the file or graph. */
    public static void checkNodes(String what, long count) {
        int max = maxNodes();
        if (count > max) {
            throw new KilnException(ErrorCode.RESOURCE_LIMIT, what + " declares " + count + " nodes, over Kiln's limit"
                    + " of " + max + " (-D" + MAX_NODES_PROPERTY + "=N raises it)");
        }
    }

    /** {@code -Dkiln.maxNodes}, else {@link #DEFAULT_MAX_NODES}. */
    public static int maxNodes() {
        String v = System.getProperty(MAX_NODES_PROPERTY);
        if (v == null || v.isBlank()) {
            return DEFAULT_MAX_NODES;
        }
        try {
            int n = Integer.parseInt(v.trim());
            if (n > 0) {
                return n;
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new KilnArgumentException("-D" + MAX_NODES_PROPERTY + " must be a positive whole number, got '" + v
                + "'");
    }

    private static long multiply(String what, Shape shape, long a, long b) {
        long r = Math.multiplyHigh(a, b) == 0 ? a * b : -1;
        if (r < 0) {
            throw tooLarge(what, shape, -1, "Kiln's limit of " + MAX_TENSOR_BYTES + " bytes (2 GiB) per tensor");
        }
        return r;
    }

    private static KilnException tooLarge(String what, Shape shape, long bytes, String limit) {
        return new KilnException(ErrorCode.RESOURCE_LIMIT, what + ": shape " + shape + " is "
                + (bytes < 0 ? "more than 2^63" : String.valueOf(bytes)) + " bytes, over " + limit);
    }
}
