package dev.kiln.tensorrt;

import dev.kiln.KilnArgumentException;

import java.util.Arrays;
import java.util.stream.Collectors;

/**
 * The shapes of one input in one optimization profile: the smallest the engine accepts, the one TensorRT tunes for,
 * and the largest. Validated on creation: same rank, every dimension >= 0 and min <= opt <= max.
 */
public final class ShapeRange {
    private final long[] min;
    private final long[] opt;
    private final long[] max;

    private ShapeRange(String input, long[] min, long[] opt, long[] max) {
        KilnArgumentException.check(min != null && opt != null && max != null,
                "input '" + input + "': min, opt and max shapes are all needed");
        KilnArgumentException.check(min.length == opt.length && opt.length == max.length, "input '" + input
                + "': min " + format(min) + ", opt " + format(opt) + " and max " + format(max)
                + " must have the same rank");
        for (int i = 0; i < min.length; i++) {
            KilnArgumentException.check(min[i] >= 0, "input '" + input + "': min dimension " + i + " is " + min[i]
                    + "; profile dimensions are >= 0");
            KilnArgumentException.check(min[i] <= opt[i], "input '" + input + "': min > opt in dimension " + i
                    + " (min " + format(min) + ", opt " + format(opt) + ")");
            KilnArgumentException.check(opt[i] <= max[i], "input '" + input + "': opt > max in dimension " + i
                    + " (opt " + format(opt) + ", max " + format(max) + ")");
        }
        this.min = min.clone();
        this.opt = opt.clone();
        this.max = max.clone();
    }

    /** A range for {@code input} (named in errors). */
    public static ShapeRange of(String input, long[] min, long[] opt, long[] max) {
        return new ShapeRange(input, min, opt, max);
    }

    /** One fixed shape: min = opt = max. */
    public static ShapeRange fixed(String input, long... shape) {
        return new ShapeRange(input, shape, shape, shape);
    }

    public long[] min() {
        return min.clone();
    }

    public long[] opt() {
        return opt.clone();
    }

    public long[] max() {
        return max.clone();
    }

    public int rank() {
        return min.length;
    }

    /** True when {@code shape} lies within min..max in every dimension. */
    public boolean contains(long[] shape) {
        if (shape.length != min.length) {
            return false;
        }
        for (int i = 0; i < shape.length; i++) {
            if (shape[i] < min[i] || shape[i] > max[i]) {
                return false;
            }
        }
        return true;
    }

    /** trtexec's dims syntax: {@code 1x3x224x224}. */
    public static String format(long[] dims) {
        return Arrays.stream(dims).mapToObj(Long::toString).collect(Collectors.joining("x"));
    }

    /** Parses {@code 1x3x224x224} (a scalar input is the empty string); errors name {@code what}. */
    public static long[] parseDims(String text, String what) {
        KilnArgumentException.check(text != null, what + ": shape missing");
        String t = text.trim();
        if (t.isEmpty()) {
            return new long[0];
        }
        String[] parts = t.split("x", -1);
        long[] dims = new long[parts.length];
        for (int i = 0; i < parts.length; i++) {
            try {
                dims[i] = Long.parseLong(parts[i].trim());
            } catch (NumberFormatException e) {
                throw new KilnArgumentException(what + ": '" + text + "' is not a shape like 1x3x224x224");
            }
        }
        return dims;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ShapeRange r && Arrays.equals(min, r.min) && Arrays.equals(opt, r.opt)
                && Arrays.equals(max, r.max);
    }

    @Override
    public int hashCode() {
        return 31 * (31 * Arrays.hashCode(min) + Arrays.hashCode(opt)) + Arrays.hashCode(max);
    }

    @Override
    public String toString() {
        return "min " + format(min) + ", opt " + format(opt) + ", max " + format(max);
    }
}
