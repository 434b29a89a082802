package dev.kiln.quant;

import dev.kiln.kernels.KernelBackends;

/** IEEE binary16 conversion of float32 arrays through the kernel backend (round to nearest even, see kiln.h). */
public final class Float16 {
    private Float16() {
    }

    public static short[] fromFloats(float[] x) {
        return KernelBackends.get().toHalf(x);
    }

    public static float[] toFloats(short[] h) {
        return KernelBackends.get().fromHalf(h);
    }
}
