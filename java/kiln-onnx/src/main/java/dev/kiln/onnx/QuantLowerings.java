package dev.kiln.onnx;

import dev.kiln.KilnException;
import dev.kiln.graph.DType;
import dev.kiln.graph.Node;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import dev.kiln.kernels.JavaKernels;
import dev.kiln.onnx.OnnxEmitter.Layout;
import dev.kiln.onnx.OnnxEmitter.Val;
import dev.kiln.onnx.proto.Onnx.AttributeProto;

import java.util.List;

import static dev.kiln.onnx.OnnxEmitter.F32;
import static dev.kiln.onnx.OnnxEmitter.attr;

/**
 * TF's fake quantization (quantization-aware training) as QuantizeLinear/DequantizeLinear, the way tf2onnx writes
 * it, so that a runtime can run the quantized ops in INT8: TF's nudged range gives a uint8 scale and zero point; a
 * clamp to that range first keeps narrow ranges and fewer than 8 bits. Ties round to even in ONNX, half up in TF.
 */
final class QuantLowerings {
    private QuantLowerings() {
    }

    static void register(OnnxLowerings.Table t) {
        t.add("FakeQuantWithMinMaxArgs", "Clip + QuantizeLinear + DequantizeLinear (uint8, TF's nudged range)", 13,
                (e, n) -> fakeQuant(e, n, new float[] {n.attrFloat("min", -6f)}, new float[] {n.attrFloat("max", 6f)}));
        t.add("FakeQuantWithMinMaxVars", "Clip + QuantizeLinear + DequantizeLinear (uint8, TF's nudged range)", 13,
                (e, n) -> fakeQuant(e, n, floats(e, n, 1, "min"), floats(e, n, 2, "max")));
        t.add("FakeQuantWithMinMaxVarsPerChannel", "Max + Min + per-channel QuantizeLinear + DequantizeLinear (last "
                + "axis)", 13, (e, n) -> fakeQuant(e, n, floats(e, n, 1, "min"), floats(e, n, 2, "max")));
    }

    private static float[] floats(OnnxEmitter e, Node n, int input, String what) {
        return OnnxTensors.floats(e.requireConst(n, input, what));
    }

    private static void fakeQuant(OnnxEmitter e, Node n, float[] min, float[] max) {
        int bits = (int) n.attrInt("num_bits", 8);
        boolean narrow = n.attrBool("narrow_range", false);
        if (bits < 2 || bits > 8) {
            throw KilnException.unsupported("node '" + n.name() + "' (" + n.op() + "): num_bits " + bits
                    + " does not fit ONNX's uint8 quantization");
        }
        int c = min.length;
        float[] lo = new float[c];
        float[] hi = new float[c];
        float[] scale = new float[c];
        byte[] zero = new byte[c];
        for (int i = 0; i < c; i++) {
            float[] p = JavaKernels.nudge(min[i], max[i], bits, narrow);
            if (p == null) {
                throw KilnException.unsupported("node '" + n.name() + "' (" + n.op() + "): min and max are both 0 "
                        + "(channel " + i + "), which quantizes everything to 0");
            }
            lo[i] = p[0];
            hi[i] = p[1];
            scale[i] = p[2];
            zero[i] = (byte) (int) p[4];
        }
        boolean perChannel = n.op().endsWith("PerChannel");
        Val x = e.get(n.input(0), perChannel ? Layout.NATIVE : Layout.ANY, F32);
        Shape s = perChannel ? Shape.of(c) : Shape.scalar();
        String name = n.name();
        // 8 bits over the full range: QuantizeLinear's saturation to 0..255 is the clamp to the nudged range.
        // Otherwise clamp first (Clip takes scalar bounds only: per channel, Max and Min along the last axis).
        String clipped = bits == 8 && !narrow ? x.name() : perChannel
                ? e.add("Min", name + "/below_max", List.of(e.add("Max", name + "/above_min", List.of(x.name(),
                e.init(name + "/min", Tensor.ofFloats(s, lo)))), e.init(name + "/max", Tensor.ofFloats(s, hi))))
                : e.add("Clip", name + "/clip", List.of(x.name(), e.init(name + "/min", Tensor.ofFloats(s, lo)),
                e.init(name + "/max", Tensor.ofFloats(s, hi))));
        String sc = e.init(name + "/scale", Tensor.ofFloats(s, scale));
        String zp = e.init(name + "/zero_point", Tensor.ofBytes(DType.UINT8, s, zero));
        AttributeProto[] axis = perChannel ? new AttributeProto[] {attr("axis", -1L)} : new AttributeProto[0];
        String q = e.add("QuantizeLinear", name + "/quantized", List.of(clipped, sc, zp), axis);
        String y = e.add("DequantizeLinear", name, List.of(q, sc, zp), axis);
        e.put(n, 0, new Val(y, x.layout(), F32, x.rank()));
    }
}
