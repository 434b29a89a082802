package dev.kiln.pipeline;

import dev.kiln.calib.CalibrationTable;
import dev.kiln.calib.ThresholdMethod;
import dev.kiln.graph.Graph;
import dev.kiln.onnx.ExportResult;
import dev.kiln.onnx.Int8Placement;
import dev.kiln.onnx.Int8Target;
import dev.kiln.onnx.Int8WeightRange;
import dev.kiln.onnx.OnnxExporter;
import dev.kiln.onnx.Precision;
import dev.kiln.quant.FakeQuantInsertion;
import dev.kiln.quant.WeightRanges;
import dev.kiln.tensorflow.TfExporter;

import java.nio.file.Path;
import java.util.EnumMap;
import java.util.Locale;
import java.util.Map;
import java.util.Set;

/**
 * The INT8 models made from one optimized graph and its calibration tables: a QDQ ONNX per target (its activation
 * parameters from the target's table, weights per output channel) and a fake-quantized SavedModel that TensorFlow
 * runs to simulate the INT8 model. Both take the weights' range and method from the same arguments, so the SavedModel
 * computes with the ONNX model's weights. A null weight method is max |w| ({@link WeightRanges#defaultMethod()}).
 */
final class Int8Exports {
    private Int8Exports() {
    }

    /** The optimized graph with the activation parameters of {@code target} from {@code table}. */
    static Graph quantized(Graph optimized, CalibrationTable table, Int8Target target) {
        Graph g = optimized.copy();
        Int8Placement.apply(table, g, target, Int8Placement.quantizable(g, target));
        return g;
    }

    /** The exporter for one target with max |w| weight ranges. */
    static OnnxExporter exporter(Int8Target target, Int8WeightRange range, Set<String> keepFloat, int opset) {
        return exporter(target, range, null, keepFloat, opset);
    }

    /**
     * The exporter for one target: its layout, weight range (default per target unless given), weight method and
     * float layers.
     */
    static OnnxExporter exporter(Int8Target target, Int8WeightRange range, ThresholdMethod weightMethod,
                                 Set<String> keepFloat, int opset) {
        OnnxExporter.Builder b = OnnxExporter.builder().opset(opset).precision(Precision.INT8).int8Target(target)
                .keepFloat32(keepFloat).int8WeightMethod(orDefault(weightMethod));
        if (range != null) {
            b.int8WeightRange(range);
        }
        return b.build();
    }

    static String fileName(Int8Target target) {
        return "model_int8_" + target.name().toLowerCase(Locale.ROOT) + ".onnx";
    }

    /** Writes one QDQ ONNX per target into {@code dir}; returns the export results by target. */
    static Map<Int8Target, ExportResult> writeOnnx(Graph optimized, Map<Int8Target, CalibrationTable> tables,
                                                   Int8WeightRange range, ThresholdMethod weightMethod,
                                                   Set<String> keepFloat, int opset, Path dir) {
        Map<Int8Target, ExportResult> out = new EnumMap<>(Int8Target.class);
        for (Map.Entry<Int8Target, CalibrationTable> e : tables.entrySet()) {
            Graph g = quantized(optimized, e.getValue(), e.getKey());
            out.put(e.getKey(), exporter(e.getKey(), range, weightMethod, keepFloat, opset).export(g, dir.resolve(
                    fileName(e.getKey()))));
        }
        return out;
    }

    /**
     * The fake-quantized graph for {@code target}: FakeQuantWithMinMaxVars on every quantized activation, weights
     * replaced by their dequantized per-channel int8 values, with the weight range that target's ONNX export uses.
     */
    static Graph fakeQuantized(Graph optimized, CalibrationTable table, Int8Target target, Int8WeightRange range,
                               ThresholdMethod weightMethod, Set<String> keepFloat) {
        Int8WeightRange r = range != null ? range : Int8WeightRange.defaultFor(target);
        return FakeQuantInsertion.builder().weightQmax(r.qmax()).weightMethod(orDefault(weightMethod))
                .keepFloat(keepFloat).build()
                .transform(quantized(optimized, table, target));
    }

    /** Writes the fake-quantized SavedModel for {@code target} to {@code dir}. */
    static Graph writeFakeQuantSavedModel(Graph optimized, CalibrationTable table, Int8Target target,
                                          Int8WeightRange range, ThresholdMethod weightMethod,
                                          Set<String> keepFloat, Path dir) {
        Graph fq = fakeQuantized(optimized, table, target, range, weightMethod, keepFloat);
        TfExporter.writeSavedModel(fq, dir);
        return fq;
    }

    static ThresholdMethod orDefault(ThresholdMethod weightMethod) {
        return weightMethod != null ? weightMethod : WeightRanges.defaultMethod();
    }
}
