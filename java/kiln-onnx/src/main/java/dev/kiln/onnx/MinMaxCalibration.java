package dev.kiln.onnx;

import dev.kiln.calib.CalibrationStatistics;
import dev.kiln.calib.CalibrationTable;
import dev.kiln.calib.Calibrator;
import dev.kiln.calib.ThresholdMethod;
import dev.kiln.data.RepresentativeData;
import dev.kiln.eval.ModelRunner;
import dev.kiln.graph.Graph;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.quant.QuantParams;
import dev.kiln.quant.Scales;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.LinkedHashSet;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

/**
 * Min-max activation scales from one batch, for tests and benchmarks: a thin adapter over Kiln's one calibration path
 * ({@link Calibrator}, {@link CalibrationTable}, {@link Int8Placement}) that runs the probe graph through any runner
 * (TF Java on the original, or ONNX Runtime on the FP32 export). Real calibration over representative data with
 * entropy, percentile or mse is the pipeline's calibrate job.
 */
public final class MinMaxCalibration {
    private MinMaxCalibration() {
    }

    /** The activations the TensorRT-layout INT8 export puts Q/DQ on (see {@link Int8Placement#quantizable}). */
    public static Set<TensorRef> quantizable(Graph g) {
        return Int8Placement.quantizable(g, Int8Target.TENSORRT);
    }

    /** The activations the INT8 export for {@code target} puts Q/DQ on. */
    public static Set<TensorRef> quantizable(Graph g, Int8Target target) {
        return Int8Placement.quantizable(g, target);
    }

    /** As {@link #minMax(Graph, Map, Function, Int8Target)} for the TensorRT layout. */
    public static Map<String, Float> minMax(Graph g, Map<String, Tensor> inputs, Function<Graph, Map<String, Tensor>> runner) {
        return minMax(g, inputs, runner, Int8Target.TENSORRT);
    }

    /**
     * Min-max calibration over one batch of {@code inputs}, through Kiln's one calibration path ({@link Calibrator}
     * → {@link CalibrationTable} → {@link Int8Placement#apply}): symmetric int8 for {@link Int8Target#TENSORRT},
     * asymmetric uint8 for {@link Int8Target#ONNXRUNTIME}. {@code runner} runs the probe graph on {@code inputs}.
     * Returns max |x| of each signature output (key: output name), for tolerances in output steps.
     */
    public static Map<String, Float> minMax(Graph g, Map<String, Tensor> inputs, Function<Graph, Map<String, Tensor>> runner,
                                            Int8Target target) {
        return minMax(g, inputs, runner, target, false);
    }

    /**
     * As {@link #minMax(Graph, Map, Function, Int8Target)}; with {@code withOutputs} the signature outputs get
     * parameters too ({@link Int8Placement#quantizableWithOutputs}), as an export with integer outputs needs.
     */
    public static Map<String, Float> minMax(Graph g, Map<String, Tensor> inputs, Function<Graph, Map<String, Tensor>> runner,
                                            Int8Target target, boolean withOutputs) {
        Set<TensorRef> tensors = withOutputs ? Int8Placement.quantizableWithOutputs(g, target)
                : Int8Placement.quantizable(g, target);
        Set<TensorRef> all = new LinkedHashSet<>(tensors);
        for (SignatureTensor o : g.outputs()) {
            all.add(o.tensor());
        }
        boolean asymmetric = Int8Placement.asymmetric(target);
        RepresentativeData data = RepresentativeData.of(List.of(inputs), "one batch of given inputs");
        CalibrationStatistics stats = Calibrator.builder().signed(asymmetric).build().collect(g, all, data,
                probe -> new ModelRunner() {
                    @Override
                    public Map<String, Tensor> run(Map<String, Tensor> in) {
                        return runner.apply(probe);
                    }

                    @Override
                    public void close() {
                    }
                }, null).statistics();
        CalibrationTable table = CalibrationTable.compute(stats, t -> ThresholdMethod.minmax(), !asymmetric,
                CalibrationTable.Metadata.of("", data.description(), false));
        Int8Placement.apply(table, g, target, tensors);
        Map<String, Float> amaxOut = new LinkedHashMap<>();
        for (SignatureTensor o : g.outputs()) {
            amaxOut.put(o.name(), stats.get(o.tensor().toString()).range().absMax());
        }
        return amaxOut;
    }

    /** Asymmetric uint8 parameters from the {min, max} of {@code t} (widened to include 0). */
    public static QuantParams uint8(Tensor t) {
        float lo = Float.POSITIVE_INFINITY;
        float hi = Float.NEGATIVE_INFINITY;
        for (float v : OnnxTensors.floats(t)) {
            lo = Math.min(lo, v);
            hi = Math.max(hi, v);
        }
        if (lo > hi) {
            lo = 0;
            hi = 0;
        }
        return Scales.asymmetric(lo, hi, 8, false);
    }

    public static float amax(Tensor t) {
        float amax = 0;
        for (float v : OnnxTensors.floats(t)) {
            amax = Math.max(amax, Math.abs(v));
        }
        return amax;
    }

    /** Runs a graph through Kiln's FP32 ONNX export and ONNX Runtime. */
    public static Function<Graph, Map<String, Tensor>> ortFp32(Map<String, Tensor> inputs) {
        return graph -> {
            try {
                Path p = Files.createTempFile("kiln-calib", ".onnx");
                try {
                    OnnxExporter.fp32().export(graph, p);
                    try (OnnxRunner r = OnnxRunner.open(p, 1)) {
                        return r.run(inputs);
                    }
                } finally {
                    Files.deleteIfExists(p);
                }
            } catch (java.io.IOException e) {
                throw new java.io.UncheckedIOException(e);
            }
        };
    }
}
