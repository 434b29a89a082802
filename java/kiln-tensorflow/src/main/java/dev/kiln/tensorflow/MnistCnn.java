package dev.kiln.tensorflow;

import dev.kiln.graph.Shape;
import org.tensorflow.Output;
import org.tensorflow.proto.DataType;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The architecture of {@link ExampleModels#trainedMnistCnn}, written once for the training and the serving graph:
 * image [-1,28,28,1] → Conv2D 3×3 1→16 + BiasAdd → FusedBatchNormV3 → Relu → MaxPool 2×2 → DepthwiseConv2dNative
 * 3×3 + BiasAdd → Relu6 → MaxPool 2×2 → Conv2D 1×1 16→32 + BiasAdd → Relu → Reshape [-1,1568] → MatMul + BiasAdd
 * ({@code logits}).
 */
final class MnistCnn {
    static final int CHANNELS = 16;
    static final int WIDTH = 32;
    static final int FLAT = 7 * 7 * WIDTH;

    /** The trainable parameters and their shapes, in the order the graph creates them. */
    static final Map<String, Shape> TRAINABLE = trainable();
    /** The batch norm's population statistics: computed after training, used only by the serving graph. */
    static final String BN_MEAN = "bn1/moving_mean";
    static final String BN_VARIANCE = "bn1/moving_variance";
    static final float BN_EPSILON = 0.001f;

    private MnistCnn() {
    }

    private static Map<String, Shape> trainable() {
        Map<String, Shape> m = new LinkedHashMap<>();
        m.put("conv1/kernel", Shape.of(3, 3, 1, CHANNELS));
        m.put("conv1/bias", Shape.of(CHANNELS));
        m.put("bn1/gamma", Shape.of(CHANNELS));
        m.put("bn1/beta", Shape.of(CHANNELS));
        m.put("dw2/depthwise_kernel", Shape.of(3, 3, CHANNELS, 1));
        m.put("dw2/bias", Shape.of(CHANNELS));
        m.put("conv3/kernel", Shape.of(1, 1, CHANNELS, WIDTH));
        m.put("conv3/bias", Shape.of(WIDTH));
        m.put("logits/kernel", Shape.of(FLAT, 10));
        m.put("logits/bias", Shape.of(10));
        return m;
    }

    /**
     * Adds the network to {@code b} and returns the logits. Every parameter is a variable initialised from
     * {@code values}. With {@code training} the batch norm normalises with the batch's statistics; without, with
     * {@link #BN_MEAN} and {@link #BN_VARIANCE} (the inference form that Kiln folds).
     */
    static Output<?> logits(ExampleModels.Builder b, Output<?> image, Map<String, float[]> values, boolean training) {
        Output<?> h = b.op("BiasAdd", "conv1/BiasAdd", conv(b, image, "conv1/Conv2D", var(b, "conv1/kernel", values)),
                var(b, "conv1/bias", values));
        h = batchNorm(b, h, values, training);
        h = b.op("Relu", "relu1", h);
        h = b.pool("MaxPool", "pool1", h, 2);
        Output<?> dw = b.ob("DepthwiseConv2dNative", "dw2/depthwise").addInput(h)
                .addInput(var(b, "dw2/depthwise_kernel", values)).setAttr("T", DataType.DT_FLOAT)
                .setAttr("strides", new long[] {1, 1, 1, 1}).setAttr("padding", "SAME").build().output(0);
        h = b.op("Relu6", "relu6_2", b.op("BiasAdd", "dw2/BiasAdd", dw, var(b, "dw2/bias", values)));
        h = b.pool("MaxPool", "pool2", h, 2);
        h = b.op("BiasAdd", "conv3/BiasAdd", conv(b, h, "conv3/Conv2D", var(b, "conv3/kernel", values)),
                var(b, "conv3/bias", values));
        h = b.op("Relu", "relu3", h);
        h = b.reshape(h, "flatten", -1, FLAT);
        return b.op("BiasAdd", "logits", b.matmul(h, var(b, "logits/kernel", values), "logits/MatMul"),
                var(b, "logits/bias", values));
    }

    private static Output<?> var(ExampleModels.Builder b, String name, Map<String, float[]> values) {
        Shape shape = name.equals(BN_MEAN) || name.equals(BN_VARIANCE) ? Shape.of(CHANNELS) : TRAINABLE.get(name);
        return b.variable(name, shape, values.get(name));
    }

    private static Output<?> conv(ExampleModels.Builder b, Output<?> x, String name, Output<?> w) {
        return b.ob("Conv2D", name).addInput(x).addInput(w).setAttr("T", DataType.DT_FLOAT)
                .setAttr("strides", new long[] {1, 1, 1, 1}).setAttr("padding", "SAME").build().output(0);
    }

    private static Output<?> batchNorm(ExampleModels.Builder b, Output<?> x, Map<String, float[]> values,
                                       boolean training) {
        // training mode takes empty mean/variance and normalises with the batch's own statistics
        Output<?> mean = training ? b.constTensor("bn1/empty_mean", dev.kiln.graph.Tensor.ofFloats(Shape.of(0)))
                : var(b, BN_MEAN, values);
        Output<?> variance = training ? b.constTensor("bn1/empty_variance",
                dev.kiln.graph.Tensor.ofFloats(Shape.of(0))) : var(b, BN_VARIANCE, values);
        return b.ob("FusedBatchNormV3", "bn1/FusedBatchNormV3").addInput(x).addInput(var(b, "bn1/gamma", values))
                .addInput(var(b, "bn1/beta", values)).addInput(mean).addInput(variance)
                .setAttr("T", DataType.DT_FLOAT).setAttr("U", DataType.DT_FLOAT).setAttr("epsilon", BN_EPSILON)
                .setAttr("is_training", training).setAttr("data_format", "NHWC").build().output(0);
    }
}
