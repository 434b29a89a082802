package dev.kiln.lowrank;

import dev.kiln.KilnException;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.openblas.global.openblas;

/** {@link Svd} by OpenBLAS's LAPACK {@code dgesdd} (divide and conquer), loaded once on first use. */
final class LapackSvd {
    private static final String UNAVAILABLE = probe();

    private LapackSvd() {
    }

    private static String probe() {
        try {
            Loader.load(openblas.class);
            return null;
        } catch (Throwable t) { // UnsatisfiedLinkError, NoClassDefFoundError: no natives for this platform
            return t.toString();
        }
    }

    static boolean available() {
        return UNAVAILABLE == null;
    }

    static String unavailableReason() {
        return UNAVAILABLE == null ? "" : UNAVAILABLE;
    }

    static Svd decompose(double[] w, int rows, int cols) {
        if (!available()) {
            throw KilnException.internal("OpenBLAS does not load here: " + UNAVAILABLE, null);
        }
        int k = Math.min(rows, cols);
        double[] a = w.clone(); // dgesdd overwrites its input
        double[] s = new double[k];
        double[] u = new double[rows * k];
        double[] vt = new double[k * cols];
        // row-major, jobz 'S': the thin U (m × k, leading dimension k) and Vᵀ (k × n, leading dimension n)
        int info = openblas.LAPACKE_dgesdd(openblas.LAPACK_ROW_MAJOR, (byte) 'S', rows, cols, a, cols, s, u, k, vt,
                cols);
        if (info > 0) {
            throw KilnException.invalidModel("SVD did not converge on a " + rows + "x" + cols + " matrix (LAPACK dgesdd "
                    + "info " + info + ")");
        }
        if (info < 0) {
            throw KilnException.internal("LAPACK dgesdd rejected argument " + (-info) + " for a " + rows + "x" + cols
                    + " matrix", null);
        }
        return new Svd(rows, cols, s, u, vt, Svd.Engine.LAPACK);
    }
}
