package dev.kiln.cli;

import dev.kiln.ErrorCode;
import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;
import dev.kiln.eval.ModelRunner;
import dev.kiln.eval.RandomInputs;
import dev.kiln.eval.TensorComparison;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.onnx.ExportResult;
import dev.kiln.onnx.Int8Target;
import dev.kiln.calib.CalibrationTable;
import dev.kiln.calib.ThresholdMethod;
import dev.kiln.data.RepresentativeData;
import dev.kiln.pipeline.CalibrateJob;
import dev.kiln.pipeline.ModelFingerprint;
import dev.kiln.onnx.Int8Placement;
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
import java.util.EnumSet;
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

    @Option(names = "--keep-fp32", split = ",", paramLabel = "NODE_OR_OP",
            description = "fp16: node names or op types kept in float32")
    Set<String> keepFloat32 = Set.of();

    @Option(names = "--half-io", description = "fp16: float16 graph inputs and outputs (default: float32 with casts)")
    boolean halfIO;

    @Option(names = "--int8-io", description = "int8: integer graph inputs and outputs (uint8 for --int8-target "
            + "onnxruntime, int8 for tensorrt) with their scale and zero point in the model metadata "
            + "(kiln.io.NAME.scale, .zero_point); the outputs are calibrated too")
    boolean int8IO;

    @Option(names = "--no-optimize", description = "export the imported graph without optimize_for_inference")
    boolean noOptimize;

    @Option(names = "--verify", description = "run the output on its runtime and compare with TensorFlow on the "
            + "original (random inputs)")
    boolean verify;

    @Mixin
    ModelOptions modelOptions;

    @Mixin
    Int8Options int8 = new Int8Options();

    @Override
    public Integer call() {
        // before the import, so that a contradiction is the only line printed
        KilnArgumentException.check(!int8IO || precision.equalsIgnoreCase("int8")
                && format.equalsIgnoreCase("onnx"), "--int8-io needs --precision int8 (ONNX), got --precision "
                + precision + (format.equalsIgnoreCase("onnx") ? "" : " --format " + format));
        KilnArgumentException.check(!(int8IO && verify), "--verify feeds float inputs, an --int8-io model takes "
                + "integer ones: drop --verify (or verify the same export without --int8-io)");
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
        ThresholdMethod weightMethod = int8.weightMethod(); // a bad name fails before calibrating
        Set<Int8Target> targets = int8.targets(EnumSet.of(Int8Target.TENSORRT));
        KilnArgumentException.check(targets.size() == 1, "--int8-target: export writes one file; give one target "
                + "(optimize writes both)");
        Int8Target target = targets.iterator().next();
        if (p == Precision.INT8) {
            calibrate(graph, target);
        }
        OnnxExporter.Builder b = OnnxExporter.builder().opset(opset).precision(p).int8Target(target)
                .keepFloat32(keepFloat32.isEmpty() ? int8.keepFloat : keepFloat32).halfIO(halfIO).int8IO(int8IO)
                .int8WeightMethod(weightMethod);
        if (int8.weightRange() != null) {
            b.int8WeightRange(int8.weightRange());
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
     * The activation ranges of an INT8 export: from a given table (--table), by calibrating on representative data
     * (--data), or on random inputs when --calib-random says so (a structurally valid model for smoke runs, not a
     * calibrated one). Nothing else: random ranges are never taken silently.
     */
    private void calibrate(Graph graph, Int8Target target) {
        CalibrationTable table = int8.table();
        if (table == null) {
            RepresentativeData data = int8.calibrationData(graph.inputs());
            if (data == null) {
                throw new KilnArgumentException("--precision int8 needs activation ranges: give a calibration table "
                        + "(--table table.json, from kiln calibrate), representative data (--data), or --calib-random "
                        + "for a smoke run whose ranges come from random inputs");
            }
            table = CalibrateJob.builder(model).data(data).targets(EnumSet.of(target)).method(int8.defaultMethod())
                    .methods(int8.perTensorMethods()).withOutputs(int8IO)
                    .log(s -> System.err.println("kiln: " + s)).build()
                    .calibrate(graph, ModelFingerprint.of(model)).tables().get(target);
            if (data.isRandom()) {
                System.err.println("kiln: warning: INT8 ranges from RANDOM inputs (--calib-random): a smoke run, not "
                        + "a calibration");
            }
        } else {
            Set<String> needed = new java.util.HashSet<>();
            Int8Placement.quantizable(graph, target).forEach(r -> needed.add(r.toString()));
            Set<String> has = new java.util.HashSet<>();
            graph.nodes().forEach(n -> {
                for (int i = 0; i < Math.max(1, n.outputTypes().size()); i++) {
                    has.add(TensorRef.of(n.name(), i).toString());
                }
            });
            table.validateAgainst(has, needed, table.metadata().modelFingerprint().isEmpty() ? ""
                    : ModelFingerprint.of(model));
        }
        Set<TensorRef> tensors = Int8Placement.quantizable(graph, target);
        if (int8IO) {
            // the outputs' ranges where the table has them; the exporter names any output still without one
            for (TensorRef r : Int8Placement.quantizableWithOutputs(graph, target)) {
                if (table.entries().containsKey(r.toString())) {
                    tensors.add(r);
                }
            }
        }
        Int8Placement.apply(table, graph, target, tensors);
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
