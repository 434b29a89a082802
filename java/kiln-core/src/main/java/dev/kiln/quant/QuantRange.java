package dev.kiln.quant;

import dev.kiln.kernels.ValidatingKernels;

/** Integer ranges of quantized types from bits (2..16), signedness and narrow range. */
public final class QuantRange {
    private QuantRange() {
    }

    /** Lowest value: signed -2^(bits-1) (+1 when narrow); unsigned 0 (1 when narrow, as TensorFlow's fake quant). */
    public static int qmin(int bits, boolean signed, boolean narrow) {
        ValidatingKernels.checkBits(bits);
        int base = signed ? -(1 << (bits - 1)) : 0;
        return narrow ? base + 1 : base;
    }

    /** Highest value: signed 2^(bits-1) - 1; unsigned 2^bits - 1. */
    public static int qmax(int bits, boolean signed) {
        ValidatingKernels.checkBits(bits);
        return signed ? (1 << (bits - 1)) - 1 : (1 << bits) - 1;
    }
}
