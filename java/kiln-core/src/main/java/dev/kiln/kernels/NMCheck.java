package dev.kiln.kernels;

import dev.kiln.KilnArgumentException;

import java.util.Arrays;

/**
 * Result of an N:M check (see {@code kiln_check_n_m}): the number of groups with more than {@code n} non-zeros and
 * the flat index of the first element of up to {@code maxReport} of them, in increasing order.
 */
public record NMCheck(int n, int m, long nbBad, long[] firstBad) {

    public NMCheck {
        KilnArgumentException.check(nbBad >= 0, "nbBad must be >= 0");
        KilnArgumentException.check(firstBad != null, "firstBad must not be null");
        KilnArgumentException.check(firstBad.length <= nbBad, "firstBad has more entries than nbBad");
        firstBad = firstBad.clone();
    }

    /** Whether every group satisfies N:M. */
    public boolean ok() {
        return nbBad == 0;
    }

    @Override
    public long[] firstBad() {
        return firstBad.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof NMCheck c && c.n == n && c.m == m && c.nbBad == nbBad && Arrays.equals(c.firstBad, firstBad);
    }

    @Override
    public int hashCode() {
        return Long.hashCode(nbBad) * 31 + Arrays.hashCode(firstBad) + 7 * n + 13 * m;
    }

    @Override
    public String toString() {
        return ok() ? n + ":" + m + " satisfied"
                : nbBad + " groups violate " + n + ":" + m + "; first at flat indices " + Arrays.toString(firstBad);
    }
}
