package dev.kiln.cli;

import dev.kiln.KilnArgumentException;
import dev.kiln.calib.CalibrationTable;
import dev.kiln.calib.TensorRtCalibrationCache;
import dev.kiln.data.RepresentativeData;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.onnx.Int8Target;
import dev.kiln.pipeline.CalibrateJob;
import dev.kiln.pipeline.Reports;
import dev.kiln.tensorflow.TfImporter;

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

/**
 * {@code kiln calibrate MODEL --data ... -o table.json}: INT8 calibration only. Writes the table for the first INT8
 * target to {@code -o}, and beside it every table, the TensorRT cache, ONNX Runtime's table and the mergeable
 * statistics.
 */
@Command(name = "calibrate", mixinStandardHelpOptions = true,
        description = "Run the model over representative data and write INT8 calibration tables (Kiln JSON, "
                + "TensorRT calibration cache, ONNX Runtime calibration table).")
final class CalibrateCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "MODEL", description = "SavedModel directory or frozen GraphDef .pb")
    Path model;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "TABLE.json",
            description = "the calibration table to write; the other formats go into the same directory")
    Path output;

    @Option(names = "--json", description = "print the calibration summary as JSON")
    boolean json;

    @Option(names = "--trt-cache-version", paramLabel = "MAJOR.MINOR.PATCH", description = "the TensorRT version "
            + "written in the calibration cache header (default 10.9.0; TensorRT reads only its own version's caches)")
    String trtVersion;

    @Option(names = "--trt-cache-algorithm", paramLabel = "NAME", description = "the calibrator named in the cache "
            + "header: EntropyCalibration2 (default), MinMaxCalibration, EntropyCalibration, LegacyCalibration")
    String trtAlgorithm = TensorRtCalibrationCache.DEFAULT_ALGORITHM;

    @Mixin
    Int8Options int8 = new Int8Options();

    @Mixin
    ModelOptions modelOptions;

    @Override
    public Integer call() {
        KilnArgumentException.check(int8.table == null, "calibrate writes a table: --table does not apply");
        KilnArgumentException.check(int8.data != null || int8.calibRandom, "calibrate needs --data (representative "
                + "data) or --calib-random (a smoke run)");
        KilnArgumentException.check(output.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".json"),
                "-o must name a .json table, got " + output);
        List<SignatureTensor> inputs = TfImporter.load(model, modelOptions.importOptions().toBuilder()
                .loadWeights(false).build()).inputs();
        RepresentativeData data = int8.calibrationData(inputs);
        Set<Int8Target> targets = int8.targets(EnumSet.allOf(Int8Target.class));
        CalibrateJob.Result r = CalibrateJob.builder(model).importOptions(modelOptions.importOptions()).data(data)
                .targets(targets).method(int8.defaultMethod()).methods(int8.perTensorMethods())
                .withOutputs(true) // the outputs' ranges too, so the table also serves export --int8-io
                .log(json ? s -> { } : s -> System.err.println("kiln: " + s)).build().run();
        Path dir = output.toAbsolutePath().getParent();
        List<Path> written = r.write(dir);
        CalibrationTable trt = r.tables().get(Int8Target.TENSORRT);
        if (trt != null && (trtVersion != null || !trtAlgorithm.equals(TensorRtCalibrationCache.DEFAULT_ALGORITHM))) {
            TensorRtCalibrationCache.of(trt, parseVersion(trtVersion), trtAlgorithm)
                    .write(dir.resolve("calibration_tensorrt.cache"));
        }
        CalibrationTable first = r.tables().get(targets.iterator().next());
        first.save(output);
        if (json) {
            System.out.println(Reports.toJson(Map.of("summary", r.summary(), "files", written.stream()
                    .map(Path::toString).toList(), "table", output.toString())));
            return 0;
        }
        System.out.println("table      " + output + " (" + (first.symmetric() ? "symmetric int8, TensorRT"
                : "asymmetric uint8, ONNX Runtime") + ", " + first.entries().size() + " tensors)");
        written.forEach(p -> System.out.println("wrote      " + p));
        if (data.isRandom()) {
            System.out.println("warning: RANDOM calibration data: a smoke run, not a calibration");
        }
        return 0;
    }

    private static int parseVersion(String v) {
        if (v == null) {
            return TensorRtCalibrationCache.DEFAULT_VERSION;
        }
        String[] p = v.split("\\.");
        try {
            KilnArgumentException.check(p.length == 3, "--trt-cache-version must be MAJOR.MINOR.PATCH, got '" + v + "'");
            return TensorRtCalibrationCache.version(Integer.parseInt(p[0]), Integer.parseInt(p[1]),
                    Integer.parseInt(p[2]));
        } catch (NumberFormatException e) {
            throw new KilnArgumentException("--trt-cache-version must be MAJOR.MINOR.PATCH, got '" + v + "'");
        }
    }
}
