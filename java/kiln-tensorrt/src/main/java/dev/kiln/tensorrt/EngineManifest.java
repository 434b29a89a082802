package dev.kiln.tensorrt;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.kiln.AtomicFiles;
import dev.kiln.KilnException;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The JSON beside every engine ({@code model.engine.manifest.json}): what it was built from (SHA-256 of the source
 * model, the ONNX and each ONNX external data file its weights live in), with what (TensorRT and CUDA versions, GPU name and compute capability), how (every option and
 * profile, the calibration cache's and timing cache's hashes) and when. Without a GPU the same file describes the
 * engine that the trtexec script will build: {@code status} "planned", no engine hash, no GPU.
 */
@JsonInclude(JsonInclude.Include.ALWAYS)
public record EngineManifest(
        String format,
        int formatVersion,
        String status,
        FileRef engine,
        FileRef sourceModel,
        FileRef onnx,
        List<FileRef> onnxExternalData,
        String tensorrtVersion,
        String cudaVersion,
        Gpu gpu,
        Options options,
        FileRef calibrationCache,
        FileRef timingCache,
        String buildTime,
        double buildSeconds,
        String kilnVersion) {

    public static final String FORMAT = "kiln-tensorrt-engine-manifest";
    public static final int FORMAT_VERSION = 1;
    public static final String BUILT = "built";
    public static final String PLANNED = "planned";

    /** A file by name and content hash; {@code bytes} -1 where unknown. */
    public record FileRef(String path, String sha256, long bytes) {
        /** The file as it is now. */
        public static FileRef of(Path p) {
            return new FileRef(p.toString(), Sha256.of(p), Files.isRegularFile(p) ? p.toFile().length() : -1);
        }

        /** The ONNX external data files of {@code onnx}, each as it is now (empty for a model in one file). */
        public static List<FileRef> externalDataOf(Path onnx) {
            return dev.kiln.onnx.OnnxReader.externalDataFiles(onnx).stream().map(FileRef::of).toList();
        }
    }

    /** The GPU an engine was built on: name and compute capability ("9.0"). */
    public record Gpu(String name, String computeCapability) {
    }

    /** Every build option as it was given. */
    public record Options(String precision, boolean stronglyTyped, List<Map<String, Range>> profiles,
                          long workspaceBytes, long tacticSharedMemoryBytes, int builderOptimizationLevel,
                          boolean sparseWeights, int device, boolean versionCompatible,
                          String hardwareCompatibility) {
        public static Options of(EngineOptions o) {
            List<Map<String, Range>> ps = new ArrayList<>();
            for (OptimizationProfile p : o.profiles()) {
                Map<String, Range> m = new LinkedHashMap<>();
                p.ranges().forEach((k, r) -> m.put(k, new Range(r.min(), r.opt(), r.max())));
                ps.add(m);
            }
            return new Options(o.precision().cliName(), o.precision().stronglyTyped(), ps, o.workspaceBytes(),
                    o.tacticSharedMemoryBytes(), o.optimizationLevel(), o.sparseWeights(), o.device(),
                    o.versionCompatible(), o.hardwareCompatibility().trtexecName());
        }
    }

    /** One input's shapes in one profile. */
    public record Range(long[] min, long[] opt, long[] max) {
    }

    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
            .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);

    /** Where the manifest of {@code engine} lives: beside it, {@code <engine file name>.manifest.json}. */
    public static Path pathFor(Path engine) {
        return engine.resolveSibling(engine.getFileName() + ".manifest.json");
    }

    public boolean built() {
        return BUILT.equals(status);
    }

    public String toJson() {
        try {
            return JSON.writeValueAsString(this) + "\n";
        } catch (JsonProcessingException e) {
            throw KilnException.internal("cannot write the engine manifest as JSON", e);
        }
    }

    /** Writes the manifest atomically. */
    public void write(Path file) {
        AtomicFiles.write(file, toJson());
    }

    /** Reads a manifest; a missing, corrupt or foreign file is an error naming it and what is wrong. */
    public static EngineManifest read(Path file) {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw KilnException.invalidModel("engine manifest " + file + " does not exist: Kiln writes it beside "
                    + "every engine it builds (kiln build-engine); an engine without it cannot be checked", e);
        } catch (IOException e) {
            throw KilnException.io("cannot read engine manifest " + file + ": " + e.getMessage(), e);
        }
        return parse(text, file);
    }

    /** Parses manifest JSON; {@code source} names it in errors. */
    public static EngineManifest parse(String text, Object source) {
        EngineManifest m;
        try {
            m = JSON.readValue(text, EngineManifest.class);
        } catch (JsonProcessingException e) {
            throw KilnException.invalidModel("engine manifest " + source + " is corrupt: "
                    + e.getOriginalMessage().lines().findFirst().orElse("not JSON"), e);
        }
        if (m == null || !FORMAT.equals(m.format())) {
            throw KilnException.invalidModel("engine manifest " + source + " is not a Kiln engine manifest (format "
                    + (m == null ? "missing" : "'" + m.format() + "'") + ", expected '" + FORMAT + "')");
        }
        if (m.formatVersion() > FORMAT_VERSION) {
            throw KilnException.unsupported("engine manifest " + source + " has format version " + m.formatVersion()
                    + "; this Kiln reads up to " + FORMAT_VERSION);
        }
        require(m.status() != null && (m.built() || PLANNED.equals(m.status())), source, "status", "built or planned");
        require(m.tensorrtVersion() != null, source, "tensorrtVersion", "a version like 10.15.1");
        require(m.options() != null && m.options().precision() != null, source, "options.precision", "fp32, fp16, "
                + "int8 or int8-legacy");
        require(m.onnx() != null && m.onnx().sha256() != null, source, "onnx.sha256", "the ONNX's hash");
        if (m.built()) {
            require(m.engine() != null && m.engine().sha256() != null && m.engine().bytes() >= 0, source,
                    "engine.sha256/bytes", "the engine's hash and size");
            require(m.gpu() != null && m.gpu().computeCapability() != null, source, "gpu.computeCapability",
                    "the building GPU's compute capability");
        }
        return m;
    }

    private static void require(boolean ok, Object source, String field, String what) {
        if (!ok) {
            throw KilnException.invalidModel("engine manifest " + source + " is corrupt: '" + field
                    + "' is missing or wrong (expected " + what + ")");
        }
    }
}
