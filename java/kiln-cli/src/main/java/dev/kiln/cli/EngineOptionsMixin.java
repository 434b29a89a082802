package dev.kiln.cli;

import dev.kiln.KilnArgumentException;
import dev.kiln.tensorrt.EngineOptions;
import dev.kiln.tensorrt.EnginePrecision;
import dev.kiln.tensorrt.HardwareCompatibility;
import dev.kiln.tensorrt.OptimizationProfile;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import picocli.CommandLine.Option;

/** TensorRT build options, the way trtexec takes them; parsing only, {@link EngineOptions} validates. */
final class EngineOptionsMixin {
    @Option(names = "--min-shapes", paramLabel = "NAME:DIMS[,...]", description = "smallest input shapes of an "
            + "optimization profile, e.g. image:1x28x28x1 (repeat --min/--opt/--max-shapes for more profiles)")
    List<String> minShapes = new ArrayList<>();

    @Option(names = "--opt-shapes", paramLabel = "NAME:DIMS[,...]", description = "the shapes TensorRT tunes for")
    List<String> optShapes = new ArrayList<>();

    @Option(names = "--max-shapes", paramLabel = "NAME:DIMS[,...]", description = "largest input shapes")
    List<String> maxShapes = new ArrayList<>();

    @Option(names = "--workspace", paramLabel = "SIZE", description = "workspace memory pool limit, e.g. 1G or 512M "
            + "(default: TensorRT's, the device memory)")
    String workspace;

    @Option(names = "--tactic-shared-memory", paramLabel = "SIZE", description = "tactic shared memory pool limit")
    String tacticSharedMemory;

    @Option(names = "--builder-optimization-level", paramLabel = "0-5", description = "builder optimization level "
            + "(default: ${DEFAULT-VALUE})")
    int optimizationLevel = EngineOptions.DEFAULT_OPTIMIZATION_LEVEL;

    @Option(names = "--timing-cache", paramLabel = "FILE", description = "timing cache read before and written after "
            + "the build; share it between builds")
    Path timingCache;

    @Option(names = "--sparse-weights", description = "let TensorRT use 2:4 sparse kernels for 2:4-pruned weights")
    boolean sparseWeights;

    @Option(names = "--device", paramLabel = "N", description = "GPU index (default: ${DEFAULT-VALUE})")
    int device;

    @Option(names = "--version-compatible", description = "an engine that later TensorRT 10.x runtimes can load")
    boolean versionCompatible;

    @Option(names = "--hardware-compatibility", paramLabel = "LEVEL", description = "none, ampere+ or "
            + "sameComputeCapability (default: ${DEFAULT-VALUE})")
    String hardwareCompatibility = "none";

    @Option(names = "--calibration-cache", paramLabel = "FILE", description = "int8-legacy: Kiln's TensorRT "
            + "calibration cache (calibration_tensorrt.cache from kiln calibrate)")
    Path calibrationCache;

    /** The options with {@code precision}. */
    EngineOptions toOptions(EnginePrecision precision) {
        KilnArgumentException.check(minShapes.size() == optShapes.size() && optShapes.size() == maxShapes.size(),
                "--min-shapes, --opt-shapes and --max-shapes come together, once per profile; got "
                        + minShapes.size() + ", " + optShapes.size() + " and " + maxShapes.size());
        EngineOptions.Builder b = EngineOptions.builder().precision(precision).optimizationLevel(optimizationLevel)
                .timingCache(timingCache).sparseWeights(sparseWeights).device(device)
                .versionCompatible(versionCompatible)
                .hardwareCompatibility(HardwareCompatibility.parse(hardwareCompatibility))
                .calibrationCache(calibrationCache);
        for (int i = 0; i < minShapes.size(); i++) {
            b.profile(OptimizationProfile.parse(minShapes.get(i), optShapes.get(i), maxShapes.get(i)));
        }
        if (workspace != null) {
            b.workspaceBytes(EngineOptions.parseBytes(workspace, "--workspace"));
        }
        if (tacticSharedMemory != null) {
            b.tacticSharedMemoryBytes(EngineOptions.parseBytes(tacticSharedMemory, "--tactic-shared-memory"));
        }
        return b.build();
    }
}
