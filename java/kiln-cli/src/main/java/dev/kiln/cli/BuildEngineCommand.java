package dev.kiln.cli;

import dev.kiln.KilnArgumentException;
import dev.kiln.calib.CalibrationTable;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.onnx.Int8Target;
import dev.kiln.onnx.Precision;
import dev.kiln.pipeline.ExportJob;
import dev.kiln.pipeline.TensorRtEngines;
import dev.kiln.tensorflow.TfImporter;
import dev.kiln.tensorrt.EngineOptions;
import dev.kiln.tensorrt.EnginePrecision;

import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code kiln build-engine}: a TensorRT engine from an ONNX file, or from a SavedModel through Kiln's ONNX; where
 * TensorRT or a GPU is missing, the manifest of what would be built and a trtexec script with the same flags.
 */
@Command(name = "build-engine", mixinStandardHelpOptions = true,
        description = {"Build a TensorRT engine (and its manifest) from MODEL.onnx or a SavedModel/frozen graph.",
                "Without TensorRT and an NVIDIA GPU: writes the manifest of the engine that would be built and a "
                        + "trtexec script with the same flags, and says so."})
final class BuildEngineCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "MODEL", description = "MODEL.onnx (Kiln's), a SavedModel directory or a "
            + "frozen GraphDef .pb")
    Path model;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "ENGINE", description = "the engine file")
    Path output;

    @Option(names = "--precision", description = "fp32, fp16 (strongly typed from the FP16 ONNX), int8 (strongly "
            + "typed from the QDQ ONNX) or int8-legacy (INT8 flag + calibration cache) (default: ${DEFAULT-VALUE})")
    String precision = "fp32";

    @Mixin
    EngineOptionsMixin engine = new EngineOptionsMixin();

    @Mixin
    ModelOptions modelOptions;

    @Mixin
    Int8Options int8 = new Int8Options();

    @Override
    public Integer call() {
        EnginePrecision p = EnginePrecision.parse(precision);
        EngineOptions options = engine.toOptions(p);
        TensorRtEngines.Outcome o;
        if (model.getFileName().toString().endsWith(".onnx")) {
            o = TensorRtEngines.buildOrPlan(model, model, output, options, BuildEngineCommand::log);
        } else {
            KilnArgumentException.check(engine.calibrationCache == null, "--calibration-cache is for MODEL.onnx; "
                    + "from a SavedModel Kiln writes the cache from --table or --data itself");
            Precision onnx = switch (p) {
                case FP32 -> Precision.FP32;
                case FP16 -> Precision.FP16;
                case INT8, INT8_LEGACY -> Precision.INT8;
            };
            ExportJob.Builder b = ExportJob.builder(model, output).format(ExportJob.Format.TENSORRT).precision(onnx)
                    .importOptions(modelOptions.importOptions()).int8Target(Int8Target.TENSORRT)
                    .int8WeightRange(int8.weightRange()).int8WeightMethod(int8.weightMethod())
                    .keepFloat(int8.keepFloat).calibrationMethod(int8.defaultMethod(), int8.perTensorMethods())
                    .engineOptions(options).log(BuildEngineCommand::log);
            if (onnx == Precision.INT8) {
                CalibrationTable table = int8.table();
                if (table != null) {
                    b.calibrationTable(table);
                } else {
                    List<SignatureTensor> inputs = TfImporter.load(model, modelOptions.importOptions().toBuilder()
                            .loadWeights(false).build()).inputs();
                    b.calibrationData(int8.calibrationData(inputs));
                }
            }
            o = b.build().run().tensorRt();
        }
        if (o.built()) {
            System.out.println("engine    " + o.engine());
            System.out.println("manifest  " + o.manifest());
        } else {
            System.out.println("no engine built: " + o.reason());
            System.out.println("manifest  " + o.manifest() + " (planned)");
            System.out.println("script    " + o.script());
            System.out.println("trtexec   " + o.commandLine());
        }
        return 0;
    }

    private static void log(String s) {
        System.err.println("kiln: " + s);
    }
}
