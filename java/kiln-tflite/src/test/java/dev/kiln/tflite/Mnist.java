package dev.kiln.tflite;

import dev.kiln.calib.CalibrationTable;
import dev.kiln.calib.Calibrator;
import dev.kiln.calib.ThresholdMethod;
import dev.kiln.data.DataSources;
import dev.kiln.data.FloatConversion;
import dev.kiln.data.NpyFile;
import dev.kiln.data.RepresentativeData;
import dev.kiln.eval.ModelRunner;
import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import dev.kiln.tensorflow.TfRunner;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The real MNIST test set of ../shared/data/mnist with the project's convention (images 0-999 calibrate, 5000-9999
 * evaluate, pixels / 255), calibration for TFLite, and top-1 of any runner, int8 inputs included.
 */
final class Mnist {
    private Mnist() {
    }

    static Path dir() {
        return SharedModels.shared().resolve("data/mnist");
    }

    static RepresentativeData images(Graph g, long start, long count) {
        return DataSources.parse(dir().resolve("images_u8.npy").toString(), Path.of(""), g.inputs(),
                FloatConversion.scale(1.0 / 255)).range(start, count).batchSize(100).build();
    }

    static long[] labels(long start, int count) {
        try (NpyFile f = NpyFile.open(dir().resolve("labels_u8.npy"))) {
            return f.read(start, count).asLongs();
        }
    }

    /** A symmetric table (amax / 127) of every tensor a full-INT8 TFLite export needs, from TensorFlow runs. */
    static CalibrationTable calibrate(Graph optimized, RepresentativeData data, ThresholdMethod method) {
        Calibrator.Result r = Calibrator.builder().build().collect(optimized, TfliteInt8Placement.tensors(optimized),
                data, TfRunner::of, (done, total) -> { });
        return CalibrationTable.compute(r.statistics(), t -> method, true,
                CalibrationTable.Metadata.of("", data.content(), data.isRandom()));
    }

    /**
     * Top-1 of {@code runner} over {@code data}: argmax of the first output's last axis. A TFLite model with int8
     * inputs gets them quantized with the file's own scale and zero point.
     */
    static double top1(ModelRunner runner, RepresentativeData data, long[] labels) {
        long ok = 0;
        long seen = 0;
        try (RepresentativeData.Batches b = data.iterator()) {
            while (b.hasNext()) {
                Map<String, Tensor> in = b.next();
                if (runner instanceof TfliteRunner t) {
                    in = quantizeInt8Inputs(t, in);
                }
                Tensor p = runner.run(in).values().iterator().next();
                float[] v = p.asFloats();
                int rows = (int) p.shape().dim(0);
                int cols = v.length / rows;
                for (int r = 0; r < rows; r++) {
                    int best = 0;
                    for (int c = 1; c < cols; c++) {
                        if (v[r * cols + c] > v[r * cols + best]) {
                            best = c;
                        }
                    }
                    ok += best == labels[(int) seen + r] ? 1 : 0;
                }
                seen += rows;
            }
        }
        return (double) ok / seen;
    }

    /** q = clamp(round(x / scale) + zero_point, -128, 127) for every int8 input, as a TFLite user does. */
    static Map<String, Tensor> quantizeInt8Inputs(TfliteRunner r, Map<String, Tensor> in) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (Map.Entry<String, Tensor> e : in.entrySet()) {
            if (r.inputType(e.getKey()) != DType.INT8) {
                out.put(e.getKey(), e.getValue());
                continue;
            }
            float[] q = r.quantization(e.getKey());
            float[] x = e.getValue().asFloats();
            byte[] b = new byte[x.length];
            for (int i = 0; i < x.length; i++) {
                b[i] = (byte) Math.max(-128, Math.min(127, Math.round(x[i] / q[0]) + (int) q[1]));
            }
            Shape s = e.getValue().shape();
            out.put(e.getKey(), Tensor.ofBytes(DType.INT8, s, b));
        }
        return out;
    }
}
