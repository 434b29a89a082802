package dev.kiln.quant;

import dev.kiln.KilnArgumentException;
import dev.kiln.kernels.ValidatingKernels;

import java.util.Arrays;

/**
 * Quantization parameters of one tensor, ONNX QuantizeLinear style: {@code q = clamp(rint(x / scale) + zeroPoint,
 * qmin, qmax)}. Per tensor ({@code scale.length == 1}, {@code axis == -1}) or per channel along {@code axis}.
 * {@code bits} 2..16, {@code signed} (int8-like) or unsigned (uint8-like), {@code narrow} drops the lowest value
 * (int8 [-127, 127], TensorRT's and Kiln's weight convention).
 */
public record QuantParams(float[] scale, int[] zeroPoint, int axis, int bits, boolean signed, boolean narrow) {

    public QuantParams {
        KilnArgumentException.check(scale != null && scale.length > 0, "scale must not be null or empty");
        KilnArgumentException.check(zeroPoint != null, "zeroPoint must not be null");
        KilnArgumentException.check(zeroPoint.length == scale.length,
                "zeroPoint length " + zeroPoint.length + " must equal scale length " + scale.length);
        ValidatingKernels.checkBits(bits);
        KilnArgumentException.check(scale.length == 1 || axis >= 0,
                "per-channel parameters need an axis >= 0, got " + axis);
        KilnArgumentException.check(axis >= -1, "axis must be >= 0, or -1 for per tensor, got " + axis);
        int lo = QuantRange.qmin(bits, signed, narrow);
        int hi = QuantRange.qmax(bits, signed);
        for (int c = 0; c < scale.length; c++) {
            KilnArgumentException.check(Float.isFinite(scale[c]) && scale[c] > 0,
                    "scale[" + c + "] must be finite and > 0, got " + scale[c]);
            KilnArgumentException.check(zeroPoint[c] >= lo && zeroPoint[c] <= hi,
                    "zeroPoint[" + c + "] = " + zeroPoint[c] + " is outside [" + lo + ", " + hi + "]");
        }
        scale = scale.clone();
        zeroPoint = zeroPoint.clone();
    }

    /** Symmetric per-tensor int8 for an activation: scale = amax / 127, zero point 0, [-127, 127]. */
    public static QuantParams int8Symmetric(float amax) {
        return Scales.symmetric(new float[] {amax}, -1, 8, true);
    }

    /** Symmetric per-channel int8 for weights along {@code axis}: scale[c] = amax[c] / 127, [-127, 127]. */
    public static QuantParams int8PerChannel(float[] amax, int axis) {
        return Scales.symmetric(amax, axis, 8, true);
    }

    /** Whether the parameters are bound to an axis (per channel), even when that axis has one channel. */
    public boolean perChannel() {
        return axis >= 0;
    }

    public boolean perTensor() {
        return scale.length == 1;
    }

    public int qmin() {
        return QuantRange.qmin(bits, signed, narrow);
    }

    public int qmax() {
        return QuantRange.qmax(bits, signed);
    }

    @Override
    public float[] scale() {
        return scale.clone();
    }

    @Override
    public int[] zeroPoint() {
        return zeroPoint.clone();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof QuantParams p && p.axis == axis && p.bits == bits && p.signed == signed
                && p.narrow == narrow && Arrays.equals(p.scale, scale) && Arrays.equals(p.zeroPoint, zeroPoint);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(scale) * 31 + Arrays.hashCode(zeroPoint) + axis * 7 + bits * 13 + (signed ? 1 : 0)
                + (narrow ? 2 : 0);
    }

    @Override
    public String toString() {
        return "QuantParams[" + (signed ? "int" : "uint") + bits + (narrow ? " narrow" : "") + " ["
                + qmin() + ", " + qmax() + "], " + (perTensor() ? "per tensor" : "axis " + axis) + ", scale "
                + (scale.length <= 8 ? Arrays.toString(scale) : scale.length + " values") + ", zeroPoint "
                + (zeroPoint.length <= 8 ? Arrays.toString(zeroPoint) : zeroPoint.length + " values") + "]";
    }
}
