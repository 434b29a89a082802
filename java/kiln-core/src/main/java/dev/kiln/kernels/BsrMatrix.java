package dev.kiln.kernels;

import dev.kiln.KilnArgumentException;

/**
 * A {@code rows x cols} float matrix in BSR form with {@code blockRows x blockCols} blocks (see
 * {@code kiln_bsr_pack}): {@code blockRowPtr[rows / blockRows + 1]}, {@code blockCol[nbBlocks]} (block column index)
 * and {@code values[nbBlocks * blockRows * blockCols]}, blocks row-major and each block's values row-major. The
 * arrays are owned by the record (not copied); do not modify them.
 */
public record BsrMatrix(int rows, int cols, int blockRows, int blockCols, long[] blockRowPtr, int[] blockCol,
                        float[] values) {

    public BsrMatrix {
        KilnArgumentException.check(rows >= 1, "rows must be >= 1, got " + rows);
        KilnArgumentException.check(cols >= 1, "cols must be >= 1, got " + cols);
        KilnArgumentException.check(blockRows >= 1 && rows % blockRows == 0,
                "blockRows must be >= 1 and divide rows " + rows + ", got " + blockRows);
        KilnArgumentException.check(blockCols >= 1 && cols % blockCols == 0,
                "blockCols must be >= 1 and divide cols " + cols + ", got " + blockCols);
        KilnArgumentException.check(blockRowPtr != null, "blockRowPtr must not be null");
        KilnArgumentException.check(blockCol != null, "blockCol must not be null");
        KilnArgumentException.check(values != null, "values must not be null");
        int blockRowCount = rows / blockRows;
        int blockColCount = cols / blockCols;
        KilnArgumentException.check(blockRowPtr.length == blockRowCount + 1,
                "blockRowPtr length must be rows / blockRows + 1 = " + (blockRowCount + 1));
        KilnArgumentException.check((long) blockCol.length * blockRows * blockCols == values.length,
                "values length must be nbBlocks * blockRows * blockCols");
        KilnArgumentException.check(blockRowPtr[0] == 0 && blockRowPtr[blockRowCount] == blockCol.length,
                "blockRowPtr must start at 0 and end at nbBlocks = " + blockCol.length);
        for (int r = 0; r < blockRowCount; r++) {
            KilnArgumentException.check(blockRowPtr[r] <= blockRowPtr[r + 1],
                    "blockRowPtr must be non-decreasing (block row " + r + ")");
            for (long k = blockRowPtr[r]; k < blockRowPtr[r + 1]; k++) {
                int c = blockCol[(int) k];
                KilnArgumentException.check(c >= 0 && c < blockColCount, "blockCol[" + k + "] = " + c + " out of range");
                KilnArgumentException.check(k == blockRowPtr[r] || blockCol[(int) k - 1] < c,
                        "blockCol must be strictly increasing within block row " + r);
            }
        }
    }

    /** Number of stored blocks. */
    public int nbBlocks() {
        return blockCol.length;
    }
}
