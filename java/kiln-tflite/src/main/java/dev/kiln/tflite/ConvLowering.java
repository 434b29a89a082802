package dev.kiln.tflite;

import dev.kiln.KilnException;
import dev.kiln.graph.Node;
import dev.kiln.graph.Tensor;

import static dev.kiln.tflite.TfliteSchema.*;

/**
 * Conv2D → CONV_2D with weights [O,H,W,I]; DepthwiseConv2dNative → DEPTHWISE_CONV_2D with weights [1,H,W,I*M] (the
 * same bytes as TF's [H,W,I,M]). A fused BiasAdd and Relu/Relu6 ({@link FusedChain}) become the bias input and the
 * fused activation; EXPLICIT padding becomes a PAD before a VALID convolution.
 */
final class ConvLowering implements Lowering {
    @Override
    public void lower(Node n, TfliteEmitter e) {
        Windows.requireNhwc(n);
        boolean depthwise = n.op().equals("DepthwiseConv2dNative");
        Tensor f = e.requireConstant(n, 1, "filter");
        long[] d = f.shape().dims(); // [kh, kw, cin, cout] or [kh, kw, cin, multiplier]
        float[] w = f.asFloats();
        int x = e.input(n, 0);
        x = Windows.explicitPad(n, e, x);
        FusedChain chain = FusedChain.of(n, e.graph());
        int weights;
        int channels;
        if (depthwise) {
            channels = (int) (d[2] * d[3]);
            weights = e.weights(n.name() + "/filter", w, new long[] {1, d[0], d[1], channels}, 3, true);
        } else {
            channels = (int) d[3];
            weights = e.weights(n.name() + "/filter", transposeHwioToOhwi(w, d),
                    new long[] {d[3], d[0], d[1], d[2]}, 0, true);
        }
        int bias = chain.bias() != null
                ? e.bias(chain.bias().name() + "/bias", biasValues(chain.bias(), e, channels), x, weights)
                : e.zeroBias(n.name() + "/bias", channels, x, weights);
        chain.absorbInto(e);
        int out = e.output(chain.end());
        long[] strides = n.attrInts("strides");
        long[] dil = n.attrInts("dilations", new long[] {1, 1, 1, 1});
        byte padding = Windows.padding(n);
        BuiltinOptions o = depthwise
                ? BuiltinOptions.depthwiseConv2d(padding, (int) strides[2], (int) strides[1], (int) d[3],
                chain.activationCode(), (int) dil[2], (int) dil[1])
                : BuiltinOptions.conv2d(padding, (int) strides[2], (int) strides[1], chain.activationCode(),
                (int) dil[2], (int) dil[1]);
        e.op(depthwise ? DEPTHWISE_CONV_2D : CONV_2D, new int[] {x, weights, bias}, new int[] {out}, o);
    }

    static float[] biasValues(Node biasAdd, TfliteEmitter e, int channels) {
        Tensor b = e.requireConstant(biasAdd, 1, "bias");
        float[] v = b.asFloats();
        if (v.length != channels) {
            throw KilnException.unsupported("node '" + biasAdd.name() + "': bias has " + v.length
                    + " values for " + channels + " channels");
        }
        return v;
    }

    /** [kh, kw, cin, cout] → [cout, kh, kw, cin]. */
    static float[] transposeHwioToOhwi(float[] w, long[] d) {
        int kh = (int) d[0];
        int kw = (int) d[1];
        int ci = (int) d[2];
        int co = (int) d[3];
        float[] out = new float[w.length];
        for (int h = 0; h < kh; h++) {
            for (int x = 0; x < kw; x++) {
                for (int i = 0; i < ci; i++) {
                    for (int o = 0; o < co; o++) {
                        out[((o * kh + h) * kw + x) * ci + i] = w[((h * kw + x) * ci + i) * co + o];
                    }
                }
            }
        }
        return out;
    }
}
