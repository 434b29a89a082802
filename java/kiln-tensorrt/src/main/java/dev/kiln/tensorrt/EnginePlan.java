package dev.kiln.tensorrt;

import dev.kiln.AtomicFiles;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;

/**
 * What Kiln writes where TensorRT or a GPU is missing: the manifest of the engine that would be built (status
 * "planned": the ONNX's and calibration cache's hashes, every option and profile, the TensorRT and CUDA the presets
 * target) and a trtexec script with the same flags, beside the ONNX, so that the engine can be built later on a
 * machine that has them. Paths in the script are relative to its directory where the files sit beside it.
 */
public final class EnginePlan {
    private EnginePlan() {
    }

    /** The files written and the trtexec command line. */
    public record Result(Path script, Path manifestFile, EngineManifest manifest, String commandLine) {
    }

    /**
     * Checks {@code options} against {@code onnx} (bad input fails here exactly as in a real build), then writes
     * {@code script} and the planned manifest of {@code engine}.
     */
    public static Result write(Path onnx, Path engine, EngineOptions options, Path sourceModel, Path script,
                               String why) {
        EngineBuilder.prepare(onnx, options);
        Path dir = script.toAbsolutePath().getParent();
        EngineOptions relative = relativize(options, dir);
        Path onnxRel = relative(onnx, dir);
        Path engineRel = relative(engine, dir);
        String header = "Builds " + engine.getFileName() + " from " + onnx.getFileName() + " with trtexec (TensorRT "
                + TensorRtProbe.PRESET_TENSORRT_VERSION + "), the same flags as kiln build-engine.\n"
                + "Written by Kiln because " + why + ".";
        AtomicFiles.write(script, Trtexec.script(onnxRel, engineRel, relative, header));
        try {
            Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwxr-xr-x"));
        } catch (IOException | UnsupportedOperationException ignored) {
            // not POSIX: run it with sh
        }
        EngineManifest m = new EngineManifest(EngineManifest.FORMAT, EngineManifest.FORMAT_VERSION,
                EngineManifest.PLANNED, new EngineManifest.FileRef(engine.getFileName().toString(), null, -1),
                EngineManifest.FileRef.of(sourceModel), EngineManifest.FileRef.of(onnx),
                EngineManifest.FileRef.externalDataOf(onnx),
                TensorRtProbe.PRESET_TENSORRT_VERSION, TensorRtProbe.PRESET_CUDA_VERSION, null,
                EngineManifest.Options.of(options),
                options.calibrationCache() == null ? null : EngineManifest.FileRef.of(options.calibrationCache()),
                options.timingCache() == null ? null : new EngineManifest.FileRef(options.timingCache().toString(),
                        Files.isRegularFile(options.timingCache()) ? Sha256.of(options.timingCache()) : null, -1),
                Instant.now().toString(), 0,
                dev.kiln.calib.CalibrationTable.Metadata.currentKilnVersion());
        Path manifestFile = EngineManifest.pathFor(engine);
        m.write(manifestFile);
        return new Result(script, manifestFile, m, Trtexec.commandLine(onnx, engine, options));
    }

    private static EngineOptions relativize(EngineOptions o, Path dir) {
        EngineOptions.Builder b = o.toBuilder();
        if (o.timingCache() != null) {
            b.timingCache(relative(o.timingCache(), dir));
        }
        if (o.calibrationCache() != null) {
            b.calibrationCache(relative(o.calibrationCache(), dir));
        }
        return b.build();
    }

    /** {@code p} relative to {@code dir} when it lies inside it, else absolute. */
    static Path relative(Path p, Path dir) {
        Path abs = p.toAbsolutePath().normalize();
        return abs.startsWith(dir.normalize()) ? dir.normalize().relativize(abs) : abs;
    }
}
