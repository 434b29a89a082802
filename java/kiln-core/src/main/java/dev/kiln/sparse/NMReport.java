package dev.kiln.sparse;

import java.util.Arrays;
import java.util.List;

/**
 * Whether a weight satisfies N:M along its input-channel axis, and where it does not: the number of violating
 * groups and the multi-dimensional index of the first element of up to {@code maxReport} of them.
 */
public record NMReport(int n, int m, long nbGroups, long nbBad, List<long[]> firstBad) {
    public boolean ok() {
        return nbBad == 0;
    }

    @Override
    public String toString() {
        if (ok()) {
            return "satisfies " + n + ":" + m + " (" + nbGroups + " groups)";
        }
        StringBuilder sb = new StringBuilder(nbBad + " of " + nbGroups + " groups have more than " + n
                + " non-zeros in " + m + "; first at");
        for (long[] idx : firstBad) {
            sb.append(' ').append(Arrays.toString(idx));
        }
        return sb.toString();
    }
}
