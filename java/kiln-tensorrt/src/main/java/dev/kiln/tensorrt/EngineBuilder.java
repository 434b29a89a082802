package dev.kiln.tensorrt;

import dev.kiln.AtomicFiles;
import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;
import dev.kiln.data.RepresentativeData;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.tensorrt.global.nvinfer;
import org.bytedeco.tensorrt.global.nvonnxparser;
import org.bytedeco.tensorrt.nvinfer.Dims64;
import org.bytedeco.tensorrt.nvinfer.IBuilder;
import org.bytedeco.tensorrt.nvinfer.IBuilderConfig;
import org.bytedeco.tensorrt.nvinfer.IHostMemory;
import org.bytedeco.tensorrt.nvinfer.IInt8Calibrator;
import org.bytedeco.tensorrt.nvinfer.INetworkDefinition;
import org.bytedeco.tensorrt.nvinfer.IOptimizationProfile;
import org.bytedeco.tensorrt.nvinfer.ITimingCache;
import org.bytedeco.tensorrt.nvonnxparser.IParser;
import org.bytedeco.tensorrt.nvonnxparser.IParserError;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * Builds a TensorRT engine from Kiln's ONNX through the JavaCPP presets: the ONNX parser reads the model from
 * memory, the builder config follows {@link EngineOptions}, a Java logger collects every message for the exception,
 * and the serialized engine is written under a temporary name and renamed, with its manifest beside it. Everything
 * that can be checked without TensorRT (the options against the ONNX, the calibration cache) is checked first, so
 * bad input fails the same way on a machine without a GPU.
 *
 * <pre>{@code
 * EngineBuilder.Result r = EngineBuilder.build(Path.of("model_int8_tensorrt.onnx"), Path.of("model.engine"),
 *         EngineOptions.builder().precision(EnginePrecision.INT8).build(), Path.of("saved_model"), System.out::println);
 * }</pre>
 */
public final class EngineBuilder {
    private EngineBuilder() {
    }

    /** The engine and manifest written, and every message TensorRT sent. */
    public record Result(Path engine, Path manifestFile, EngineManifest manifest, BuildLog log) {
    }

    /**
     * What {@link #build} checks and reads before it needs TensorRT: the model, Kiln's calibration cache
     * (int8-legacy, else null), and the calibration shapes where TensorRT calibrates on data instead (else null).
     */
    record Prepared(OnnxModelInfo model, CalibrationSource cache, Map<String, long[]> calibrationShapes) {
    }

    /**
     * Checks {@code options} against {@code onnx} and reads the calibration cache; what {@link #build} does before
     * it needs TensorRT. Returns the cache (int8-legacy) or null.
     */
    public static CalibrationSource prepare(Path onnx, EngineOptions options) {
        return prepare(onnx, options, false).cache();
    }

    static Prepared prepare(Path onnx, EngineOptions options, boolean calibrationData) {
        OnnxModelInfo info = OnnxModelInfo.read(onnx);
        options.checkAgainst(info, onnx);
        boolean legacy = options.precision() == EnginePrecision.INT8_LEGACY;
        KilnArgumentException.check(!legacy || options.calibrationCache() != null || calibrationData,
                "int8-legacy needs a TensorRT calibration cache (--calibration-cache calibration_tensorrt.cache, "
                        + "from kiln calibrate) or calibration data; or use int8, built strongly typed from Kiln's "
                        + "QDQ ONNX");
        CalibrationSource cache = options.calibrationCache() == null ? null
                : CalibrationSource.read(options.calibrationCache());
        Map<String, long[]> shapes = legacy && cache == null ? calibrationShapes(info, options, onnx) : null;
        return new Prepared(info, cache, shapes);
    }

    /**
     * The shape of each input that TensorRT calibrates with: the first profile's opt shape, or the ONNX's own shape
     * where it is fixed. A dynamic input without a profile is an error naming it.
     */
    static Map<String, long[]> calibrationShapes(OnnxModelInfo model, EngineOptions options, Object onnx) {
        Map<String, long[]> shapes = new LinkedHashMap<>();
        for (OnnxModelInfo.Input in : model.inputs()) {
            ShapeRange r = options.profiles().isEmpty() ? null : options.profiles().get(0).ranges().get(in.name());
            if (r != null) {
                shapes.put(in.name(), r.opt());
            } else {
                KilnArgumentException.check(!in.isDynamic(), onnx + ": input '" + in.name() + "' (" + in.shapeText()
                        + ") needs a profile to calibrate with: its opt shape is the calibration batch");
                shapes.put(in.name(), in.dims());
            }
        }
        return shapes;
    }

    /**
     * Builds {@code engine} from {@code onnx}; {@code sourceModel} (the SavedModel or the ONNX itself) is hashed into
     * the manifest; {@code log} receives TensorRT's warnings and errors as they come.
     */
    public static Result build(Path onnx, Path engine, EngineOptions options, Path sourceModel, Consumer<String> log) {
        return build(onnx, engine, options, null, sourceModel, log);
    }

    /**
     * As {@link #build(Path, Path, EngineOptions, Path, Consumer)}; for int8-legacy without a calibration cache,
     * TensorRT calibrates on {@code calibrationData} (batches of the first profile's opt shape) through Kiln's
     * calibrator. Kiln's own calibration (a cache from kiln calibrate) is the recommended path.
     */
    public static Result build(Path onnx, Path engine, EngineOptions options, RepresentativeData calibrationData,
                               Path sourceModel, Consumer<String> log) {
        Prepared prepared = prepare(onnx, options, calibrationData != null);
        CalibrationSource calibration = prepared.cache();
        TensorRtProbe.Result probe = TensorRtProbe.probe();
        probe.require();
        checkDevice(options.device());
        String timingCacheHash = options.timingCache() != null && Files.isRegularFile(options.timingCache())
                ? Sha256.of(options.timingCache()) : null;

        BuildLog messages = new BuildLog(log, BuildLog.Severity.WARNING);
        TrtLogger logger = new TrtLogger(messages);
        long t0 = System.nanoTime();
        IBuilder builder = null;
        INetworkDefinition network = null;
        IParser parser = null;
        IBuilderConfig config = null;
        IInt8Calibrator calibrator = null;
        CalibrationFeed feed = null;
        ITimingCache timingCache = null;
        IHostMemory plan = null;
        BytePointer model = null;
        try {
            builder = nvinfer.createInferBuilder(logger);
            if (builder == null || builder.isNull()) {
                throw KilnException.unavailable(messages.failure("TensorRT could not create a builder", List.of()));
            }
            int flags = options.precision().stronglyTyped()
                    ? 1 << nvinfer.NetworkDefinitionCreationFlag.kSTRONGLY_TYPED.value : 0;
            network = builder.createNetworkV2(flags);
            parser = nvonnxparser.createParser(network, logger);
            model = new BytePointer(readAll(onnx));
            // the model's path lets the parser find external weight files beside it
            if (!parser.parse(model, model.limit(), onnx.toAbsolutePath().toString())) {
                throw KilnException.unsupported(messages.failure("TensorRT's ONNX parser cannot build " + onnx,
                        parserErrors(parser)));
            }
            config = builder.createBuilderConfig();
            configure(config, options);
            for (int i = 0; i < options.profiles().size(); i++) {
                IOptimizationProfile p = builder.createOptimizationProfile();
                for (var e : options.profiles().get(i).ranges().entrySet()) {
                    ShapeRange r = e.getValue();
                    boolean ok = p.setDimensions(e.getKey(), nvinfer.OptProfileSelector.kMIN, dims(r.min()))
                            && p.setDimensions(e.getKey(), nvinfer.OptProfileSelector.kOPT, dims(r.opt()))
                            && p.setDimensions(e.getKey(), nvinfer.OptProfileSelector.kMAX, dims(r.max()));
                    if (!ok) {
                        throw new dev.kiln.KilnArgumentException(messages.failure("profile " + i + ": TensorRT "
                                + "refused the shapes of input '" + e.getKey() + "' (" + r + ")", List.of()));
                    }
                }
                if (config.addOptimizationProfile(p) < 0) {
                    throw new dev.kiln.KilnArgumentException(messages.failure("TensorRT refused optimization "
                            + "profile " + i, List.of()));
                }
                if (i == 0 && options.precision() == EnginePrecision.INT8_LEGACY) {
                    config.setCalibrationProfile(p);
                }
            }
            if (calibration != null) {
                calibrator = LegacyCalibrators.create(calibration, nvinfer.getInferLibVersion());
            } else if (prepared.calibrationShapes() != null) {
                feed = new CalibrationFeed(calibrationData, prepared.calibrationShapes());
                calibrator = LegacyCalibrators.fromData(feed);
                log.accept("tensorrt   calibrating on " + calibrationData.description() + " in batches of "
                        + feed.batchSamples());
            }
            if (calibrator != null) {
                config.setFlag(nvinfer.BuilderFlag.kINT8);
                config.setInt8Calibrator(calibrator);
            }
            if (options.timingCache() != null) {
                byte[] cached = Files.isRegularFile(options.timingCache()) ? readAll(options.timingCache())
                        : new byte[0];
                try (BytePointer bp = new BytePointer(cached.length == 0 ? 1 : cached.length)) {
                    bp.put(cached);
                    timingCache = config.createTimingCache(cached.length == 0 ? null : bp, cached.length);
                }
                if (timingCache == null || !config.setTimingCache(timingCache, false)) {
                    throw KilnException.invalidModel(messages.failure("timing cache " + options.timingCache()
                            + " was refused by TensorRT (from another TensorRT version?)", List.of()));
                }
            }
            plan = builder.buildSerializedNetwork(network, config);
            if (plan == null || plan.isNull() || plan.size() == 0) {
                throw KilnException.unsupported(messages.failure("TensorRT could not build an engine from " + onnx,
                        List.of()));
            }
            ByteBuffer bytes = new BytePointer(plan.data()).capacity(plan.size()).asByteBuffer();
            String engineHash = Sha256.of(bytes.duplicate());
            double seconds = (System.nanoTime() - t0) / 1e9;
            EngineFiles.write(engine, bytes);
            if (timingCache != null) {
                IHostMemory tc = timingCache.serialize();
                byte[] out = new byte[(int) tc.size()];
                new BytePointer(tc.data()).capacity(tc.size()).get(out);
                AtomicFiles.write(options.timingCache(), out);
            }
            RuntimePlatform here = probe.platform();
            EngineManifest manifest = new EngineManifest(EngineManifest.FORMAT, EngineManifest.FORMAT_VERSION,
                    EngineManifest.BUILT, new EngineManifest.FileRef(engine.getFileName().toString(), engineHash,
                    plan.size()), EngineManifest.FileRef.of(sourceModel), EngineManifest.FileRef.of(onnx),
                EngineManifest.FileRef.externalDataOf(onnx),
                    here.tensorrtVersion(), here.cudaVersion(), new EngineManifest.Gpu(here.gpuName(),
                    here.computeCapability()), EngineManifest.Options.of(options),
                    calibration == null ? null : EngineManifest.FileRef.of(options.calibrationCache()),
                    options.timingCache() == null ? null : new EngineManifest.FileRef(
                            options.timingCache().toString(), timingCacheHash, -1),
                    Instant.now().toString(), seconds,
                    dev.kiln.calib.CalibrationTable.Metadata.currentKilnVersion());
            Path manifestFile = EngineManifest.pathFor(engine);
            try {
                manifest.write(manifestFile);
            } catch (RuntimeException e) {
                // an engine without its manifest cannot be checked: leave neither
                EngineFiles.deleteQuietly(engine);
                throw e;
            }
            return new Result(engine, manifestFile, manifest, messages);
        } finally {
            if (feed != null) {
                feed.close();
            }
            for (Pointer p : new Pointer[] {plan, timingCache, calibrator, config, parser, network, builder, model}) {
                if (p != null) {
                    p.close();
                }
            }
        }
    }

    /** Applies the options that are builder config settings. */
    private static void configure(IBuilderConfig config, EngineOptions o) {
        if (o.workspaceBytes() > 0) {
            config.setMemoryPoolLimit(nvinfer.MemoryPoolType.kWORKSPACE, o.workspaceBytes());
        }
        if (o.tacticSharedMemoryBytes() > 0) {
            config.setMemoryPoolLimit(nvinfer.MemoryPoolType.kTACTIC_SHARED_MEMORY, o.tacticSharedMemoryBytes());
        }
        config.setBuilderOptimizationLevel(o.optimizationLevel());
        if (o.precision() == EnginePrecision.FP32) {
            // TF32 matmuls/convolutions (on by default from Ampere) would not be the float32 Kiln verifies against
            config.clearFlag(nvinfer.BuilderFlag.kTF32);
        }
        if (o.sparseWeights()) {
            config.setFlag(nvinfer.BuilderFlag.kSPARSE_WEIGHTS);
        }
        if (o.versionCompatible()) {
            config.setFlag(nvinfer.BuilderFlag.kVERSION_COMPATIBLE);
        }
        switch (o.hardwareCompatibility()) {
            case AMPERE_PLUS -> config.setHardwareCompatibilityLevel(nvinfer.HardwareCompatibilityLevel.kAMPERE_PLUS);
            case SAME_COMPUTE_CAPABILITY -> config.setHardwareCompatibilityLevel(
                    nvinfer.HardwareCompatibilityLevel.kSAME_COMPUTE_CAPABILITY);
            case NONE -> { }
            default -> throw new IllegalStateException(o.hardwareCompatibility().toString());
        }
    }

    /** Selects the device, or says which devices exist. */
    static void checkDevice(int device) {
        int[] n = new int[1];
        cudart.cudaGetDeviceCount(n);
        if (device >= n[0]) {
            throw new dev.kiln.KilnArgumentException("device " + device + " does not exist: this machine has " + n[0]
                    + " GPU" + (n[0] == 1 ? "" : "s") + " (0.." + (n[0] - 1) + ")");
        }
        int s = cudart.cudaSetDevice(device);
        if (s != cudart.cudaSuccess) {
            throw KilnException.unavailable("cannot select GPU " + device + ": " + cudart.cudaGetErrorString(s)
                    .getString());
        }
    }

    static List<BuildLog.ParserError> parserErrors(IParser parser) {
        List<BuildLog.ParserError> out = new ArrayList<>();
        for (int i = 0; i < parser.getNbErrors(); i++) {
            IParserError e = parser.getError(i);
            out.add(new BuildLog.ParserError(e.node(), e.nodeName(), e.nodeOperator(), String.valueOf(e.code()),
                    e.desc()));
        }
        return out;
    }

    static Dims64 dims(long[] d) {
        Dims64 out = new Dims64();
        out.nbDims(d.length);
        for (int i = 0; i < d.length; i++) {
            out.d(i, d[i]);
        }
        return out;
    }

    private static byte[] readAll(Path p) {
        try {
            return Files.readAllBytes(p);
        } catch (IOException e) {
            throw KilnException.io("cannot read " + p + ": " + e.getMessage(), e);
        }
    }
}
