package dev.kiln.cli;

import dev.kiln.ErrorCode;
import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;
import dev.kiln.eval.ModelRunner;
import dev.kiln.eval.RandomInputs;
import dev.kiln.eval.TensorComparison;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Tensor;
import dev.kiln.onnx.ExportResult;
import dev.kiln.onnx.Int8Target;
import dev.kiln.onnx.Int8WeightRange;
import dev.kiln.onnx.MinMaxCalibration;
import dev.kiln.onnx.OnnxExporter;
import dev.kiln.onnx.OnnxRunner;
import dev.kiln.onnx.Precision;
import dev.kiln.passes.PassResult;
import dev.kiln.passes.Passes;
import dev.kiln.tensorflow.ImportOptions;
import dev.kiln.tensorflow.TfExporter;
import dev.kiln.tensorflow.TfImporter;
import dev.kiln.tensorflow.TfRunner;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code kiln export}: one model, one format, one precision, written atomically, optionally verified. */
@Command(name = "export", mixinStandardHelpOptions = true,
        description = "Import, optimize for inference and write one output: ONNX (fp32, fp16, int8 QDQ, "
                + "int8-weights), SavedModel or frozen GraphDef.")
final class ExportCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "MODEL", description = "SavedModel directory or frozen GraphDef .pb")
    Path model;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "PATH",
            description = "output file (.onnx, .pb) or directory (savedmodel)")
    Path output;

    @Option(names = "--format", description = "onnx, savedmodel or frozen (default: ${DEFAULT-VALUE})")
    String format = "onnx";

    @Option(names = "--precision", description = "ONNX precision: fp32, fp16, int8 (QDQ weights and activations), "
            + "int8-weights (dynamic range) (default: ${DEFAULT-VALUE})")
    String precision = "fp32";

    @Option(names = "--opset", description = "ONNX opset, 13..23 (default: ${DEFAULT-VALUE})")
    int opset = 17;

    @Option(names = "--int8-target", description = "int8: tensorrt (symmetric int8 activations, Q/DQ on the inputs "
            + "of Conv/MatMul: TensorRT fuses them) or onnxruntime (uint8 activations, Q/DQ around every quantized op: "
            + "ONNX Runtime runs QLinearConv) (default: ${DEFAULT-VALUE})")
    String int8Target = "tensorrt";

    @Option(names = "--int8-weights", paramLabel = "RANGE", description = "int8: weight codes 'reduced' (7-bit, "
            + "[-64, 64]: exact on ONNX Runtime's stock kernels on every x86 CPU) or 'full' ([-127, 127]: for TensorRT "
            + "and VNNI/AMX CPUs). Default: reduced for --int8-target onnxruntime, full for tensorrt")
    String int8Weights;

    @Option(names = "--keep-fp32", split = ",", paramLabel = "NODE_OR_OP",
            description = "fp16: node names or op types kept in float32")
    Set<String> keepFloat32 = Set.of();

    @Option(names = "--half-io", description = "fp16: float16 graph inputs and outputs (default: float32 with casts)")
    boolean halfIO;

    @Option(names = "--no-optimize", description = "export the imported graph without optimize_for_inference")
    boolean noOptimize;

    @Option(names = "--calibration-samples", description = "int8: random-input batches for min-max activation "
            + "ranges (default: ${DEFAULT-VALUE})")
    int calibrationSamples = 8;

    @Option(names = "--verify", description = "run the output on its runtime and compare with TensorFlow on the "
            + "original (random inputs)")
    boolean verify;

    @Mixin
    ModelOptions modelOptions;

    @Override
    public Integer call() {
        Graph graph = TfImporter.load(model, modelOptions.importOptions());
        int before = graph.size();
        if (!noOptimize) {
            List<PassResult> results = Passes.optimizeForInference().run(graph);
            System.err.printf(Locale.ROOT, "kiln: optimize_for_inference %d -> %d nodes (%d passes)%n", before,
                    graph.size(), results.size());
        }
        switch (format.toLowerCase(Locale.ROOT)) {
            case "onnx" -> exportOnnx(graph);
            case "savedmodel" -> {
                TfExporter.writeSavedModel(graph, output);
                System.err.println("kiln: wrote SavedModel " + output);
                if (verify) {
                    verifyOutput(graph, false);
                }
            }
            case "frozen", "pb" -> {
                TfExporter.writeFrozenGraph(graph, output);
                System.err.println("kiln: wrote frozen graph " + output);
                if (verify) {
                    verifyOutput(graph, false);
                }
            }
            default -> throw new KilnArgumentException("--format: unknown format '" + format
                    + "' (known: onnx, savedmodel, frozen)");
        }
        return 0;
    }

    private void exportOnnx(Graph graph) {
        Precision p = switch (precision.toLowerCase(Locale.ROOT)) {
            case "fp32" -> Precision.FP32;
            case "fp16" -> Precision.FP16;
            case "int8" -> Precision.INT8;
            case "int8-weights" -> Precision.INT8_WEIGHTS_ONLY;
            default -> throw new KilnArgumentException("--precision: unknown precision '" + precision
                    + "' (known: fp32, fp16, int8, int8-weights)");
        };
        Int8Target target = switch (int8Target.toLowerCase(Locale.ROOT)) {
            case "tensorrt" -> Int8Target.TENSORRT;
            case "onnxruntime", "ort" -> Int8Target.ONNXRUNTIME;
            default -> throw new KilnArgumentException("--int8-target: unknown target '" + int8Target
                    + "' (known: tensorrt, onnxruntime)");
        };
        if (p == Precision.INT8) {
            calibrateOnRandomInputs(graph, target);
        }
        OnnxExporter.Builder b = OnnxExporter.builder().opset(opset).precision(p).int8Target(target)
                .keepFloat32(keepFloat32).halfIO(halfIO);
        if (int8Weights != null) {
            b.int8WeightRange(switch (int8Weights.toLowerCase(Locale.ROOT)) {
                case "full" -> Int8WeightRange.FULL;
                case "reduced", "7bit" -> Int8WeightRange.REDUCED;
                default -> throw new KilnArgumentException("--int8-weights: unknown range '" + int8Weights
                        + "' (known: full, reduced)");
            });
        }
        ExportResult result = b.build().export(graph, output);
        System.err.println("kiln: wrote " + result);
        if (p == Precision.INT8 || p == Precision.INT8_WEIGHTS_ONLY) {
            System.out.println(result.saturation().summary());
        }
        if (verify) {
            verifyOutput(graph, true);
        }
    }

    /**
     * Min-max activation ranges over random inputs. Random data is not representative data: this gives a
     * structurally correct INT8 QDQ model (what TensorRT needs to build) whose accuracy on real data is not measured.
     */
    private void calibrateOnRandomInputs(Graph graph, Int8Target target) {
        KilnArgumentException.check(calibrationSamples >= 1, "--calibration-samples must be >= 1");
        System.err.println("kiln: int8: activation ranges by min-max over " + calibrationSamples
                + " random-input batches (not representative data)");
        Map<String, Tensor> inputs = RandomInputs.forSignature(graph.inputs(), 7, calibrationSamples);
        MinMaxCalibration.minMax(graph, inputs, MinMaxCalibration.ortFp32(inputs), target);
    }

    /** Runs the written output on its runtime and TensorFlow on the original with the same random inputs. */
    private void verifyOutput(Graph graph, boolean onnx) {
        Map<String, Tensor> inputs = RandomInputs.forSignature(graph.inputs(), 42, 2);
        Map<String, Tensor> expected;
        try (TfRunner tf = TfRunner.open(model, modelOptions.importOptions())) {
            expected = tf.run(inputs);
        }
        Map<String, Tensor> actual;
        try (ModelRunner runner = onnx ? OnnxRunner.open(output, 1) : TfRunner.open(output, ImportOptions.defaults())) {
            actual = runner.run(inputs);
        }
        for (Map.Entry<String, Tensor> e : expected.entrySet()) {
            Tensor got = actual.get(e.getKey());
            if (got == null) {
                throw new KilnException(ErrorCode.VERIFICATION_FAILED, output + " has no output '" + e.getKey()
                        + "' (it has " + actual.keySet() + ")");
            }
            TensorComparison c = TensorComparison.compare(e.getValue(), got);
            System.out.printf(Locale.ROOT, "verify  %-24s max abs %.3e  max rel %.3e%n", e.getKey(),
                    c.maxAbsError(), c.maxRelError());
        }
    }
}
