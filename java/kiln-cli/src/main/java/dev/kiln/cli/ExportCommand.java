package dev.kiln.cli;

import dev.kiln.KilnArgumentException;
import dev.kiln.calib.CalibrationTable;
import dev.kiln.calib.ThresholdMethod;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.onnx.Int8Target;
import dev.kiln.onnx.Precision;
import dev.kiln.pipeline.ExportJob;
import dev.kiln.tensorflow.ImportOptions;
import dev.kiln.tensorflow.TfImporter;

import java.nio.file.Path;
import java.util.EnumSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code kiln export}: one model, one format, one precision, written atomically, optionally verified. */
@Command(name = "export", mixinStandardHelpOptions = true,
        description = "Import, optimize for inference and write one output: ONNX (fp32, fp16, int8 QDQ, "
                + "int8-weights), TensorFlow Lite (fp32, fp16, dynamic, int8), SavedModel, frozen GraphDef, or a TensorRT "
                + "engine (its ONNX beside it; without TensorRT and a GPU the engine's manifest and a trtexec script).")
final class ExportCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "MODEL", description = "SavedModel directory or frozen GraphDef .pb")
    Path model;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "PATH",
            description = "output file (.onnx, .tflite, .pb) or directory (savedmodel)")
    Path output;

    @Option(names = "--format", description = "onnx, tflite, savedmodel, frozen or tensorrt (default: ${DEFAULT-VALUE})")
    String format = "onnx";

    @Option(names = "--precision", description = "ONNX or TFLite precision: fp32, fp16, int8 (weights and "
            + "activations), dynamic or int8-weights (int8 weights, float activations) (default: ${DEFAULT-VALUE})")
    String precision = "fp32";

    @Option(names = "--opset", description = "ONNX opset, 13..23 (default: ${DEFAULT-VALUE})")
    int opset = 17;

    @Option(names = "--keep-fp32", split = ",", paramLabel = "NODE_OR_OP",
            description = "fp16: node names or op types kept in float32")
    Set<String> keepFloat32 = Set.of();

    @Option(names = "--half-io", description = "fp16: float16 graph inputs and outputs (default: float32 with casts)")
    boolean halfIO;

    @Option(names = "--onnx-external-data", description = "onnx: the weights in a side file OUTPUT.data beside the "
            + "model (ONNX external data; ONNX Runtime reads it from the model's directory); automatic when they "
            + "exceed protobuf's 2 GB limit")
    boolean onnxExternalData;

    @Option(names = "--int8-io", description = "int8: integer graph inputs and outputs (ONNX: uint8 for "
            + "--int8-target onnxruntime, int8 for tensorrt, scale and zero point in the model metadata "
            + "kiln.io.NAME.scale, .zero_point; TFLite: int8 with the tensors' own quantization parameters); the "
            + "outputs are calibrated too")
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

    @Mixin
    EngineOptionsMixin engine = new EngineOptionsMixin();

    @Override
    public Integer call() {
        ExportJob.Format f = switch (format.toLowerCase(Locale.ROOT)) {
            case "onnx" -> ExportJob.Format.ONNX;
            case "savedmodel" -> ExportJob.Format.SAVEDMODEL;
            case "frozen", "pb" -> ExportJob.Format.FROZEN;
            case "tflite" -> ExportJob.Format.TFLITE;
            case "tensorrt", "trt", "engine" -> ExportJob.Format.TENSORRT;
            default -> throw new KilnArgumentException("--format: unknown format '" + format
                    + "' (known: onnx, tflite, savedmodel, frozen, tensorrt)");
        };
        Precision p = switch (precision.toLowerCase(Locale.ROOT)) {
            case "fp32" -> Precision.FP32;
            case "fp16" -> Precision.FP16;
            case "int8" -> Precision.INT8;
            case "int8-weights", "dynamic" -> Precision.INT8_WEIGHTS_ONLY;
            default -> throw new KilnArgumentException("--precision: unknown precision '" + precision
                    + "' (known: fp32, fp16, int8, dynamic, int8-weights)");
        };
        Set<Int8Target> targets = int8.targets(EnumSet.of(Int8Target.TENSORRT));
        KilnArgumentException.check(targets.size() == 1, "--int8-target: export writes one file; give one target "
                + "(optimize writes both)");
        ThresholdMethod weightMethod = int8.weightMethod(); // a bad name fails before any work
        ExportJob.Builder b = ExportJob.builder(model, output).format(f).precision(p)
                .importOptions(modelOptions.importOptions()).optimize(!noOptimize).opset(opset)
                .int8Target(targets.iterator().next()).int8WeightRange(int8.weightRange())
                .int8WeightMethod(weightMethod).keepFloat(keepFloat32.isEmpty() ? int8.keepFloat : keepFloat32)
                .halfIO(halfIO).int8IO(int8IO).externalData(onnxExternalData).verify(verify)
                .engineOptions(engine.toOptions(dev.kiln.tensorrt.EnginePrecision.FP32))
                .calibrationMethod(int8.defaultMethod(), int8.perTensorMethods())
                .log(s -> System.err.println("kiln: " + s));
        // (--int8-io with --verify is refused by the job before anything is read)
        KilnArgumentException.check(p != Precision.INT8 || !ImportOptions.ALL_SIGNATURES.equals(
                modelOptions.signature), "--signature all with --precision int8: each signature needs its own "
                + "calibration; export the signatures one by one");
        if (p == Precision.INT8 && !(int8IO && verify)) {
            CalibrationTable table = int8.table();
            if (table != null) {
                b.calibrationTable(table);
            } else {
                List<SignatureTensor> inputs = TfImporter.load(model, modelOptions.importOptions().toBuilder()
                        .loadWeights(false).build()).inputs();
                b.calibrationData(int8.calibrationData(inputs));
            }
        }
        ExportJob job = b.build();
        List<ExportJob.Result> results = job.everySignature() ? job.runEverySignature() : List.of(job.run());
        for (ExportJob.Result r : results) {
            if (r.tflite() != null) {
                System.out.println(r.tflite());
            }
            if (r.onnx() != null && (p == Precision.INT8 || p == Precision.INT8_WEIGHTS_ONLY)) {
                System.out.println(r.onnx().saturation().summary());
            }
            for (ExportJob.Verified v : r.verification()) {
                System.out.printf(Locale.ROOT, "verify  %-24s max abs %.3e  max rel %.3e%n", v.output(),
                        v.maxAbsError(), v.maxRelError());
            }
        }
        return 0;
    }
}
