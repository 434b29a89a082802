package dev.kiln.data;

import dev.kiln.KilnArgumentException;
import dev.kiln.graph.Shape;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Fits a data set's per-sample shape to a model input's declared shape. Data that differs only by flattening or by
 * size-1 dimensions is reshaped ([28,28,1] for [?,784] or [?,28,28]); anything else would silently reorder values
 * (an NCHW array for an NHWC input has the same element count) and is an error naming both shapes.
 */
public final class ShapeAdapter {
    private ShapeAdapter() {
    }

    /**
     * The per-sample shape the data is given to the model in, and a note when it differs from the data's.
     *
     * @param note null when no reshape happens, else e.g. "input 'x': data [28,28,1] reshaped to [784]"
     */
    public record Fit(Shape sampleShape, String note) {
        public boolean reshaped() {
            return note != null;
        }
    }

    /**
     * Fits {@code data} (one sample's shape) to the input {@code inputName} of declared shape {@code declared}
     * (axis 0 is the batch; -1 is unknown). {@code dataName} names the file in messages.
     */
    public static Fit fit(String inputName, String dataName, Shape data, Shape declared) {
        if (!declared.hasRank()) {
            return new Fit(data, null);
        }
        KilnArgumentException.check(declared.rank() > 0, "input '" + inputName + "' is a scalar (shape []);"
                + " it cannot take batches of samples from " + dataName);
        long[] want = Arrays.copyOfRange(declared.dims(), 1, declared.rank());
        long[] have = data.dims();
        if (matches(have, want)) {
            return new Fit(data, null);
        }
        long[] target = null;
        if (Shape.of(want).isFullyDefined()) {
            if (Shape.of(want).numElements() == data.numElements() && regroups(squeeze(have), squeeze(want))) {
                target = want;
            }
        } else {
            target = fillUnknown(have, want);
        }
        if (target == null) {
            throw new KilnArgumentException("input '" + inputName + "': data " + dataName + " has per-sample shape "
                    + data + " (" + data.numElements() + " elements), but the input expects " + Shape.of(want)
                    + describeCount(want) + " (input shape " + declared + "); only flattening and size-1"
                    + " dimensions are adapted");
        }
        Shape t = Shape.of(target);
        return new Fit(t, "input '" + inputName + "': data " + data + " reshaped to " + t);
    }

    private static String describeCount(long[] want) {
        Shape s = Shape.of(want);
        return s.isFullyDefined() ? " (" + s.numElements() + " elements)" : "";
    }

    private static boolean matches(long[] have, long[] want) {
        if (have.length != want.length) {
            return false;
        }
        for (int i = 0; i < have.length; i++) {
            if (want[i] >= 0 && want[i] != have[i]) {
                return false;
            }
        }
        return true;
    }

    private static long[] squeeze(long[] d) {
        return Arrays.stream(d).filter(x -> x != 1).toArray();
    }

    /**
     * Whether one list is the other with runs of consecutive dimensions merged (C order is kept by such a reshape:
     * [28,28] and [784] yes; [3,4] and [2,6] or [3,224,224] and [224,224,3] no).
     */
    static boolean regroups(long[] a, long[] b) {
        long[] fine = a.length >= b.length ? a : b;
        long[] coarse = a.length >= b.length ? b : a;
        int i = 0;
        for (long c : coarse) {
            long p = 1;
            while (i < fine.length && p < c) {
                p *= fine[i++];
            }
            if (p != c) {
                return false;
            }
        }
        return i == fine.length;
    }

    /** With unknown dimensions: allow only adding or removing size-1 dimensions; unknowns take the data's sizes. */
    private static long[] fillUnknown(long[] have, long[] want) {
        long[] h = squeeze(have);
        List<Integer> keep = new ArrayList<>();
        for (int i = 0; i < want.length; i++) {
            if (want[i] != 1) {
                keep.add(i);
            }
        }
        if (keep.size() != h.length) {
            return null;
        }
        long[] target = want.clone();
        for (int k = 0; k < h.length; k++) {
            int i = keep.get(k);
            if (want[i] >= 0 && want[i] != h[k]) {
                return null;
            }
            target[i] = h[k];
        }
        return target;
    }
}
