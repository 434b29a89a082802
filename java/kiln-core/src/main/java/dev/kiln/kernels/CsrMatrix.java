package dev.kiln.kernels;

import dev.kiln.KilnArgumentException;

/**
 * A {@code rows x cols} float matrix in CSR form (see {@code kiln_csr_pack}): {@code rowPtr[rows + 1]},
 * {@code colIdx[nnz]} and {@code values[nnz]}, row-major. The arrays are owned by the record (not copied: they can
 * be large); do not modify them.
 */
public record CsrMatrix(int rows, int cols, long[] rowPtr, int[] colIdx, float[] values) {

    public CsrMatrix {
        KilnArgumentException.check(rows >= 1, "rows must be >= 1, got " + rows);
        KilnArgumentException.check(cols >= 1, "cols must be >= 1, got " + cols);
        KilnArgumentException.check(rowPtr != null, "rowPtr must not be null");
        KilnArgumentException.check(colIdx != null, "colIdx must not be null");
        KilnArgumentException.check(values != null, "values must not be null");
        KilnArgumentException.check(rowPtr.length == rows + 1L, "rowPtr length must be rows + 1 = " + (rows + 1L)
                + ", got " + rowPtr.length);
        KilnArgumentException.check(colIdx.length == values.length, "colIdx and values must have the same length");
        KilnArgumentException.check(rowPtr[0] == 0 && rowPtr[rows] == values.length,
                "rowPtr must start at 0 and end at nnz = " + values.length);
        for (int r = 0; r < rows; r++) {
            KilnArgumentException.check(rowPtr[r] <= rowPtr[r + 1], "rowPtr must be non-decreasing (row " + r + ")");
            for (long k = rowPtr[r]; k < rowPtr[r + 1]; k++) {
                int c = colIdx[(int) k];
                KilnArgumentException.check(c >= 0 && c < cols, "colIdx[" + k + "] = " + c + " out of range");
                KilnArgumentException.check(k == rowPtr[r] || colIdx[(int) k - 1] < c,
                        "colIdx must be strictly increasing within row " + r);
            }
        }
    }

    /** Number of stored elements. */
    public int nnz() {
        return values.length;
    }
}
