package dev.kiln.kernels;

import dev.kiln.KilnArgumentException;

/**
 * The 2:4 compressed form of a {@code rows x cols} matrix (see {@code kiln_pack_2_4}): per group of 4 along a row,
 * the 2 kept values in increasing position order in {@code values[rows * cols / 2]}, and their positions
 * {@code p0 < p1} as the nibble {@code p0 | p1 << 2} in {@code meta[rows * ceil(cols / 8)]}, two groups per byte, the
 * even group in the low nibble. The arrays are owned by the record (not copied); do not modify them.
 */
public record Packed24(int rows, int cols, float[] values, byte[] meta) {

    public Packed24 {
        KilnArgumentException.check(rows >= 1, "rows must be >= 1, got " + rows);
        KilnArgumentException.check(cols >= 4 && cols % 4 == 0, "cols must be a positive multiple of 4, got " + cols);
        KilnArgumentException.check(values != null, "values must not be null");
        KilnArgumentException.check(meta != null, "meta must not be null");
        KilnArgumentException.check(values.length == valuesLength(rows, cols),
                "values length must be rows * cols / 2 = " + valuesLength(rows, cols) + ", got " + values.length);
        KilnArgumentException.check(meta.length == metaLength(rows, cols),
                "meta length must be rows * ceil(cols / 8) = " + metaLength(rows, cols) + ", got " + meta.length);
    }

    /** Length of the values array for a {@code rows x cols} matrix. */
    public static long valuesLength(long rows, long cols) {
        return rows * (cols / 2);
    }

    /** Bytes of metadata per row. */
    public static long metaRowBytes(long cols) {
        return (cols + 7) / 8;
    }

    /** Length of the metadata array for a {@code rows x cols} matrix. */
    public static long metaLength(long rows, long cols) {
        return rows * metaRowBytes(cols);
    }
}
