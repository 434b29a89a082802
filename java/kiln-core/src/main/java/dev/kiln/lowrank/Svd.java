package dev.kiln.lowrank;

import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.SingularOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.SingularValueDecomposition_F64;

/**
 * The thin SVD {@code W = U diag(s) Vᵀ} of a row-major m×n matrix in double precision, singular values in descending
 * order. Computed by LAPACK's divide-and-conquer {@code dgesdd} (OpenBLAS, through JavaCPP's openblas preset) where
 * that native library loads, else by EJML in pure Java; {@code -Dkiln.svd=lapack|ejml} forces one. LAPACK is the
 * default because it measured about 10 times faster (docs/lowrank.md). Only {@link #factors(int)} is needed by the
 * pass; the rest is for reports and tests.
 */
public final class Svd {
    /** Who computes the decomposition. */
    public enum Engine {
        /** OpenBLAS's LAPACK {@code dgesdd}: native, multithreaded. */
        LAPACK,
        /** EJML's {@code SvdImplicitQrDecompose_DDRM}: pure Java, one thread. */
        EJML;

        /** The engine {@link #of(double[], int, int)} uses: {@code kiln.svd} if set, else LAPACK where it loads. */
        public static Engine preferred() {
            String forced = System.getProperty("kiln.svd", "");
            if (!forced.isEmpty()) {
                try {
                    Engine e = valueOf(forced.toUpperCase(java.util.Locale.ROOT));
                    if (e == LAPACK && !LapackSvd.available()) {
                        throw new KilnArgumentException("-Dkiln.svd=lapack: OpenBLAS does not load here: "
                                + LapackSvd.unavailableReason());
                    }
                    return e;
                } catch (IllegalArgumentException bad) {
                    throw new KilnArgumentException("-Dkiln.svd=" + forced + ": expected lapack or ejml");
                }
            }
            return LapackSvd.available() ? LAPACK : EJML;
        }
    }

    private final int rows;
    private final int cols;
    private final double[] s;  // descending, length k = min(m, n)
    private final double[] u;  // m × k, row-major
    private final double[] vt; // k × n, row-major
    private final Engine engine;

    Svd(int rows, int cols, double[] s, double[] u, double[] vt, Engine engine) {
        this.rows = rows;
        this.cols = cols;
        this.s = s;
        this.u = u;
        this.vt = vt;
        this.engine = engine;
    }

    /** Decomposes the row-major {@code rows × cols} matrix {@code w} (widened from float32). */
    public static Svd of(float[] w, int rows, int cols) {
        double[] d = new double[w.length];
        for (int i = 0; i < w.length; i++) {
            d[i] = w[i];
        }
        return of(d, rows, cols);
    }

    /** Decomposes the row-major {@code rows × cols} matrix {@code w}; {@code w} is not changed. */
    public static Svd of(double[] w, int rows, int cols) {
        return of(w, rows, cols, Engine.preferred());
    }

    /** Decomposes with the given engine (benchmarks and tests compare them). */
    public static Svd of(double[] w, int rows, int cols, Engine engine) {
        if (rows < 1 || cols < 1 || (long) rows * cols != w.length) {
            throw new IllegalArgumentException(rows + "x" + cols + " does not match " + w.length + " values");
        }
        return engine == Engine.LAPACK ? LapackSvd.decompose(w, rows, cols) : ejml(w, rows, cols);
    }

    private static Svd ejml(double[] w, int rows, int cols) {
        DMatrixRMaj m = DMatrixRMaj.wrap(rows, cols, w.clone());
        SingularValueDecomposition_F64<DMatrixRMaj> svd = DecompositionFactory_DDRM.svd(rows, cols, true, true, true);
        if (!svd.decompose(m)) {
            throw KilnException.invalidModel("SVD did not converge on a " + rows + "x" + cols + " matrix");
        }
        DMatrixRMaj u = svd.getU(null, false);
        DMatrixRMaj wDiag = svd.getW(null);
        DMatrixRMaj vt = svd.getV(null, true);
        // EJML does not promise an order: sort so that truncation keeps the largest values
        SingularOps_DDRM.descendingOrder(u, false, wDiag, vt, true);
        int k = Math.min(rows, cols);
        double[] s = new double[k];
        for (int i = 0; i < k; i++) {
            s[i] = wDiag.get(i, i);
        }
        // thin forms, row-major: U is m × k, Vᵀ is k × n
        double[] uk = new double[rows * k];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < k; j++) {
                uk[i * k + j] = u.get(i, j);
            }
        }
        double[] vtk = new double[k * cols];
        for (int j = 0; j < k; j++) {
            for (int i = 0; i < cols; i++) {
                vtk[j * cols + i] = vt.get(j, i);
            }
        }
        return new Svd(rows, cols, s, uk, vtk, Engine.EJML);
    }

    /** Who computed this decomposition. */
    public Engine engine() {
        return engine;
    }

    public int rows() {
        return rows;
    }

    public int cols() {
        return cols;
    }

    /** The singular values, largest first (a copy). */
    public double[] singularValues() {
        return s.clone();
    }

    /** The share of the squared Frobenius norm held by the first {@code rank} singular values (1 for a zero matrix). */
    public double energy(int rank) {
        double total = 0;
        double kept = 0;
        for (int i = 0; i < s.length; i++) {
            total += s[i] * s[i];
            if (i < rank) {
                kept += s[i] * s[i];
            }
        }
        return total == 0 ? 1 : kept / total;
    }

    /**
     * The two factors of the rank-{@code r} truncation, split evenly: {@code A = U_r sqrt(S_r)} (rows × r) and
     * {@code B = sqrt(S_r) V_rᵀ} (r × cols), row-major float32, so that neither factor's scale dominates.
     */
    public float[][] factors(int r) {
        if (r < 1 || r > s.length) {
            throw new IllegalArgumentException("rank " + r + " outside [1, " + s.length + "]");
        }
        float[] a = new float[rows * r];
        float[] b = new float[r * cols];
        for (int j = 0; j < r; j++) {
            double root = Math.sqrt(s[j]);
            for (int i = 0; i < rows; i++) {
                a[i * r + j] = (float) (u[i * s.length + j] * root);
            }
            for (int i = 0; i < cols; i++) {
                b[j * cols + i] = (float) (vt[j * cols + i] * root);
            }
        }
        return new float[][] {a, b};
    }
}
