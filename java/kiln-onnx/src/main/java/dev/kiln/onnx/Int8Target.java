package dev.kiln.onnx;

/**
 * Which runtime an {@link Precision#INT8} export is laid out for. Both write explicit QuantizeLinear/DequantizeLinear
 * with per-channel symmetric int8 weights (zero point 0); they differ in where activations get Q/DQ.
 */
public enum Int8Target {
    /**
     * TensorRT's placement (the default): Q/DQ only on the inputs of Conv, MatMul and residual Add, none on their
     * outputs; weights as QuantizeLinear(float initializer) → DequantizeLinear. TensorRT propagates the scales and
     * fuses Conv+bias+activation with the next Q itself. Meant for symmetric int8 activations (zero point 0), which
     * {@link MinMaxCalibration#minMax} writes. ONNX Runtime runs this layout correctly but slowly: without a Q right
     * after each Conv its CPU provider cannot form QDQ groups and executes DequantizeLinear + float Conv.
     */
    TENSORRT,
    /**
     * ONNX Runtime's CPU placement (as its own quantizer writes): Q/DQ on the inputs <em>and</em> the output of every
     * quantized op (Conv, MatMul, Add of two activations, MaxPool/AvgPool, Concat), the output taken after the op's
     * BiasAdd and Relu/Relu6, so that ORT fuses each DQ → Conv → Q group into QLinearConv (the Relu folds into the Q
     * range); weights as int8 initializers → DequantizeLinear; Conv biases as int32 initializers with scale
     * input scale × weight scale → DequantizeLinear. Meant for asymmetric uint8 activations (ORT's fastest U8S8
     * kernels), which {@link MinMaxCalibration#minMax(dev.kiln.graph.Graph, java.util.Map, java.util.function.Function,
     * Int8Target)} writes for this target. TensorRT also parses this layout, but wants symmetric int8 activations.
     */
    ONNXRUNTIME
}
