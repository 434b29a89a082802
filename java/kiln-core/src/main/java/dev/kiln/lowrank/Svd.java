package dev.kiln.lowrank;

import dev.kiln.KilnException;
import org.ejml.data.DMatrixRMaj;
import org.ejml.dense.row.SingularOps_DDRM;
import org.ejml.dense.row.factory.DecompositionFactory_DDRM;
import org.ejml.interfaces.decomposition.SingularValueDecomposition_F64;

/**
 * The thin SVD {@code W = U diag(s) Vᵀ} of a row-major m×n matrix, singular values in descending order, computed by
 * EJML in double precision. Only {@link #factors(int)} is needed by the pass; the rest is for reports and tests.
 */
public final class Svd {
    private final int rows;
    private final int cols;
    private final double[] s;     // descending, length min(m, n)
    private final DMatrixRMaj u;  // m × min(m, n)
    private final DMatrixRMaj vt; // min(m, n) × n

    private Svd(int rows, int cols, double[] s, DMatrixRMaj u, DMatrixRMaj vt) {
        this.rows = rows;
        this.cols = cols;
        this.s = s;
        this.u = u;
        this.vt = vt;
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
        if ((long) rows * cols != w.length) {
            throw new IllegalArgumentException(rows + "x" + cols + " does not match " + w.length + " values");
        }
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
        return new Svd(rows, cols, s, u, vt);
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
                a[i * r + j] = (float) (u.get(i, j) * root);
            }
            for (int i = 0; i < cols; i++) {
                b[j * cols + i] = (float) (vt.get(j, i) * root);
            }
        }
        return new float[][] {a, b};
    }
}
