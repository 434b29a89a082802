package dev.kiln.quant;

import java.util.Arrays;

/**
 * Quantization parameters of one tensor, ONNX/TensorRT style: real = (q - zeroPoint) * scale. Per tensor when
 * {@code axis == -1} (one scale), per channel along {@code axis} otherwise. {@code bits} 2..16, {@code signed}
 * (int8 style) or unsigned (uint8), {@code narrowRange} drops the most negative code ([-127, 127] for int8).
 */
public record QuantParams(float[] scale, int[] zeroPoint, int axis, int bits, boolean signed, boolean narrowRange) {

    public QuantParams {
        if (scale == null || zeroPoint == null || scale.length == 0 || scale.length != zeroPoint.length) {
            throw new IllegalArgumentException("scale and zeroPoint must be non-empty and of equal length");
        }
        if (axis < 0 && scale.length != 1) {
            throw new IllegalArgumentException("per-tensor params (axis -1) need exactly one scale, got "
                    + scale.length);
        }
        if (bits < 2 || bits > 16) {
            throw new IllegalArgumentException("bits must be in 2..16, got " + bits);
        }
        for (float s : scale) {
            if (!(s > 0) || Float.isInfinite(s)) {
                throw new IllegalArgumentException("scale must be finite and > 0, got " + s);
            }
        }
        scale = scale.clone();
        zeroPoint = zeroPoint.clone();
    }

    /** Symmetric int8 per tensor with zero point 0 and range [-127, 127] (TensorRT's convention): scale = amax/127. */
    public static QuantParams symmetricInt8(float amax) {
        return new QuantParams(new float[] {scaleFor(amax)}, new int[] {0}, -1, 8, true, true);
    }

    /** Symmetric int8 per channel along {@code axis}, zero points 0, range [-127, 127]. */
    public static QuantParams symmetricInt8PerChannel(float[] amax, int axis) {
        float[] s = new float[amax.length];
        for (int i = 0; i < s.length; i++) {
            s[i] = scaleFor(amax[i]);
        }
        return new QuantParams(s, new int[amax.length], axis, 8, true, true);
    }

    /** amax / 127, with a tiny positive scale for an all-zero tensor so the scale stays valid. */
    private static float scaleFor(float amax) {
        return amax > 0 ? amax / 127f : Float.MIN_NORMAL;
    }

    public boolean perChannel() {
        return axis >= 0;
    }

    public int qmin() {
        if (signed) {
            return narrowRange ? -(1 << (bits - 1)) + 1 : -(1 << (bits - 1));
        }
        return narrowRange ? 1 : 0;
    }

    public int qmax() {
        return signed ? (1 << (bits - 1)) - 1 : (1 << bits) - 1;
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
        return o instanceof QuantParams q && Arrays.equals(scale, q.scale) && Arrays.equals(zeroPoint, q.zeroPoint)
                && axis == q.axis && bits == q.bits && signed == q.signed && narrowRange == q.narrowRange;
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(scale) * 31 + Arrays.hashCode(zeroPoint);
    }

    @Override
    public String toString() {
        return "QuantParams" + (perChannel() ? "[axis " + axis + ", " + scale.length + " channels]"
                : "[scale " + scale[0] + ", zp " + zeroPoint[0] + "]") + " int" + bits;
    }
}
