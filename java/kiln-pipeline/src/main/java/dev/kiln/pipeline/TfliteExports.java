package dev.kiln.pipeline;

import dev.kiln.calib.CalibrationTable;
import dev.kiln.calib.Calibrator;
import dev.kiln.calib.ThresholdMethod;
import dev.kiln.data.RepresentativeData;
import dev.kiln.graph.Graph;
import dev.kiln.onnx.Precision;
import dev.kiln.tensorflow.TfRunner;
import dev.kiln.tflite.TfliteExporter;
import dev.kiln.tflite.TfliteInt8Placement;
import dev.kiln.tflite.TflitePrecision;

import java.util.Locale;
import java.util.Map;
import java.util.function.Consumer;

/**
 * What the jobs share for TFLite: the precision names Kiln's other formats use mapped to TFLite's, file names, and the
 * calibration of a full-INT8 TFLite export (every activation, symmetric int8 ranges, from TensorFlow runs).
 */
final class TfliteExports {
    private TfliteExports() {
    }

    static TflitePrecision precision(Precision p) {
        return switch (p) {
            case FP32 -> TflitePrecision.FP32;
            case FP16 -> TflitePrecision.FP16;
            case INT8_WEIGHTS_ONLY -> TflitePrecision.DYNAMIC_RANGE;
            case INT8 -> TflitePrecision.INT8;
        };
    }

    static String fileName(Precision p) {
        return switch (p) {
            case FP32 -> "model.tflite";
            case INT8_WEIGHTS_ONLY -> "model_int8_dynamic.tflite";
            default -> "model_" + p.name().toLowerCase(Locale.ROOT) + ".tflite";
        };
    }

    /** The exporter for {@code p}; INT8 takes {@code table}. */
    static TfliteExporter exporter(Precision p, CalibrationTable table, boolean int8IO) {
        TfliteExporter.Builder b = TfliteExporter.builder().precision(precision(p)).int8IO(int8IO);
        if (p == Precision.INT8) {
            b.table(table);
        }
        return b.build();
    }

    /**
     * Calibrates every tensor a full-INT8 TFLite export quantizes ({@link TfliteInt8Placement#tensors}) over
     * {@code data} with TensorFlow, symmetric ranges (scale amax / 127, zero point 0) by {@code method} (per tensor
     * overrides in {@code methods}, by tensor or node name).
     */
    static CalibrationTable calibrate(Graph optimized, RepresentativeData data, ThresholdMethod method,
                                      Map<String, ThresholdMethod> methods, String fingerprint, Consumer<String> log) {
        var tensors = TfliteInt8Placement.tensors(optimized);
        log.accept("calibrate  " + tensors.size() + " tensors for TFLite INT8 over " + data.description()
                + (data.isRandom() ? " (RANDOM data: a smoke run, not a calibration)" : ""));
        Calibrator.Result r = Calibrator.builder().build().collect(optimized, tensors, data, TfRunner::of,
                (done, total) -> { });
        return CalibrationTable.compute(r.statistics(), t -> methods.getOrDefault(t,
                        methods.getOrDefault(dev.kiln.graph.TensorRef.parse(t).node(), method)), true,
                CalibrationTable.Metadata.of(fingerprint, data.content(), data.isRandom()));
    }
}
