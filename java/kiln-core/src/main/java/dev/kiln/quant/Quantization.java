package dev.kiln.quant;

import dev.kiln.KilnArgumentException;
import dev.kiln.kernels.AxisView;
import dev.kiln.kernels.KernelBackends;
import dev.kiln.kernels.Kernels;

/** Quantize / dequantize a tensor with {@link QuantParams} on the kernel backend. */
public final class Quantization {
    private Quantization() {
    }

    private static AxisView view(long[] shape, QuantParams p) {
        KilnArgumentException.check(shape != null, "shape must not be null");
        if (p.perTensor()) {
            long n = 1;
            for (long d : shape) {
                KilnArgumentException.check(d >= 1, "shape has a zero-sized or negative dimension");
                n = Math.multiplyExact(n, d);
            }
            return AxisView.perTensor(n);
        }
        AxisView v = AxisView.of(shape, p.axis());
        KilnArgumentException.check(v.channels() == p.scale().length, "axis " + p.axis() + " has " + v.channels()
                + " channels but the parameters have " + p.scale().length + " scales");
        return v;
    }

    public static int[] quantize(float[] x, long[] shape, QuantParams p) {
        return quantize(KernelBackends.get(), x, shape, p);
    }

    public static int[] quantize(Kernels k, float[] x, long[] shape, QuantParams p) {
        KilnArgumentException.check(p != null, "params must not be null");
        return k.quantize(x, view(shape, p), p.scale(), p.zeroPoint(), p.qmin(), p.qmax());
    }

    public static float[] dequantize(int[] q, long[] shape, QuantParams p) {
        return dequantize(KernelBackends.get(), q, shape, p);
    }

    public static float[] dequantize(Kernels k, int[] q, long[] shape, QuantParams p) {
        KilnArgumentException.check(p != null, "params must not be null");
        return k.dequantize(q, view(shape, p), p.scale(), p.zeroPoint());
    }
}
