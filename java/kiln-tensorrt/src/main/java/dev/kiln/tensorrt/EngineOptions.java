package dev.kiln.tensorrt;

import dev.kiln.KilnArgumentException;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;

/**
 * How a TensorRT engine is built — what trtexec users set: precision, memory pool limits, optimization profiles,
 * builder optimization level, timing cache, sparse weights, device, version and hardware compatibility. Immutable;
 * {@link Builder#build()} checks what can be checked without the model, {@link #checkAgainst} the rest.
 *
 * <pre>{@code
 * EngineOptions o = EngineOptions.builder().precision(EnginePrecision.INT8)
 *         .profile(OptimizationProfile.parse("x:1x3x224x224", "x:8x3x224x224", "x:32x3x224x224"))
 *         .workspaceBytes(1L << 30).timingCache(Path.of("timing.cache")).build();
 * }</pre>
 */
public final class EngineOptions {
    /** TensorRT's default builder optimization level. */
    public static final int DEFAULT_OPTIMIZATION_LEVEL = 3;

    private final EnginePrecision precision;
    private final List<OptimizationProfile> profiles;
    private final long workspaceBytes;
    private final long tacticSharedMemoryBytes;
    private final int optimizationLevel;
    private final Path timingCache;
    private final boolean sparseWeights;
    private final int device;
    private final boolean versionCompatible;
    private final HardwareCompatibility hardwareCompatibility;
    private final Path calibrationCache;

    private EngineOptions(Builder b) {
        this.precision = b.precision;
        this.profiles = List.copyOf(b.profiles);
        this.workspaceBytes = b.workspaceBytes;
        this.tacticSharedMemoryBytes = b.tacticSharedMemoryBytes;
        this.optimizationLevel = b.optimizationLevel;
        this.timingCache = b.timingCache;
        this.sparseWeights = b.sparseWeights;
        this.device = b.device;
        this.versionCompatible = b.versionCompatible;
        this.hardwareCompatibility = b.hardwareCompatibility;
        this.calibrationCache = b.calibrationCache;
        KilnArgumentException.check(optimizationLevel >= 0 && optimizationLevel <= 5,
                "builder optimization level must be 0 to 5, got " + optimizationLevel);
        KilnArgumentException.check(workspaceBytes >= 0, "workspace must be >= 0 bytes, got " + workspaceBytes);
        KilnArgumentException.check(tacticSharedMemoryBytes >= 0, "tactic shared memory must be >= 0 bytes, got "
                + tacticSharedMemoryBytes);
        KilnArgumentException.check(device >= 0, "device index must be >= 0, got " + device);
        KilnArgumentException.check(calibrationCache == null || precision == EnginePrecision.INT8_LEGACY,
                "a calibration cache is read only for int8-legacy; " + precision.cliName()
                        + " takes its precision from the ONNX");
    }

    public static Builder builder() {
        return new Builder();
    }

    /** A builder holding these options, to change some of them. */
    public Builder toBuilder() {
        return builder().precision(precision).profiles(profiles).workspaceBytes(workspaceBytes)
                .tacticSharedMemoryBytes(tacticSharedMemoryBytes).optimizationLevel(optimizationLevel)
                .timingCache(timingCache).sparseWeights(sparseWeights).device(device)
                .versionCompatible(versionCompatible).hardwareCompatibility(hardwareCompatibility)
                .calibrationCache(calibrationCache);
    }

    /** FP32, no profiles, TensorRT's defaults for everything else. */
    public static EngineOptions defaults() {
        return builder().build();
    }

    public EnginePrecision precision() {
        return precision;
    }

    public List<OptimizationProfile> profiles() {
        return profiles;
    }

    /** The workspace pool limit; 0: TensorRT's default (the device's memory). */
    public long workspaceBytes() {
        return workspaceBytes;
    }

    /** The tactic shared memory pool limit; 0: TensorRT's default. */
    public long tacticSharedMemoryBytes() {
        return tacticSharedMemoryBytes;
    }

    public int optimizationLevel() {
        return optimizationLevel;
    }

    /** The timing cache file read before and written after the build; null: none. */
    public Path timingCache() {
        return timingCache;
    }

    public boolean sparseWeights() {
        return sparseWeights;
    }

    public int device() {
        return device;
    }

    public boolean versionCompatible() {
        return versionCompatible;
    }

    public HardwareCompatibility hardwareCompatibility() {
        return hardwareCompatibility;
    }

    /** int8-legacy: Kiln's TensorRT calibration cache; null otherwise. */
    public Path calibrationCache() {
        return calibrationCache;
    }

    /**
     * Checks these options against the ONNX model TensorRT will parse: INT8 needs Q/DQ (int8-legacy must not have
     * them), FP16 needs float16 tensors, and the profiles must name existing inputs with their rank, keep their
     * static dimensions, and cover every dynamic input. Errors name {@code onnx}, the profile and the input.
     */
    public void checkAgainst(OnnxModelInfo model, Object onnx) {
        switch (precision) {
            case INT8 -> KilnArgumentException.check(model.hasQdq(), onnx + " has no QuantizeLinear/"
                    + "DequantizeLinear: an int8 engine is built strongly typed from Kiln's QDQ ONNX (export it with "
                    + "--precision int8 --int8-target tensorrt), or use int8-legacy with a calibration cache");
            case INT8_LEGACY -> KilnArgumentException.check(!model.hasQdq(), onnx + " already has "
                    + model.qdqNodes() + " Q/DQ nodes: build it with int8 (strongly typed); int8-legacy is for a "
                    + "float32 ONNX and a calibration cache");
            case FP16 -> KilnArgumentException.check(model.hasFloat16(), onnx + " has no float16 tensors: an fp16 "
                    + "engine is built strongly typed from Kiln's FP16 ONNX (export it with --precision fp16)");
            case FP32 -> { }
            default -> throw new IllegalStateException(precision.toString());
        }
        List<String> dynamic = new ArrayList<>();
        for (OnnxModelInfo.Input in : model.inputs()) {
            if (in.isDynamic()) {
                dynamic.add(in.name() + " (" + in.shapeText() + ")");
            }
        }
        if (profiles.isEmpty()) {
            KilnArgumentException.check(dynamic.isEmpty(), onnx + " has dynamic inputs " + dynamic + ": give an "
                    + "optimization profile (--min-shapes/--opt-shapes/--max-shapes name:1x3x224x224)");
            return;
        }
        for (int p = 0; p < profiles.size(); p++) {
            String where = "profile " + p;
            for (var e : profiles.get(p).ranges().entrySet()) {
                OnnxModelInfo.Input in = model.input(e.getKey());
                KilnArgumentException.check(in != null, where + " names input '" + e.getKey() + "', which "
                        + onnx + " does not have (inputs: " + model.inputs().stream().map(OnnxModelInfo.Input::name)
                        .toList() + ")");
                ShapeRange r = e.getValue();
                KilnArgumentException.check(r.rank() == in.dims().length, where + ": input '" + in.name()
                        + "' has rank " + in.dims().length + " (" + in.shapeText() + ") in " + onnx + ", the profile "
                        + "gives rank " + r.rank() + " (" + r + ")");
                for (int i = 0; i < r.rank(); i++) {
                    long d = in.dims()[i];
                    KilnArgumentException.check(d < 0 || r.min()[i] == d && r.max()[i] == d, where + ": input '"
                            + in.name() + "' dimension " + i + " is fixed at " + d + " in " + onnx + ", the profile "
                            + "gives " + r);
                }
            }
            for (OnnxModelInfo.Input in : model.inputs()) {
                KilnArgumentException.check(!in.isDynamic() || profiles.get(p).ranges().containsKey(in.name()),
                        where + " has no shapes for dynamic input '" + in.name() + "' (" + in.shapeText() + ")");
            }
        }
    }

    /**
     * Parses a byte size: a number with an optional base-2 suffix B, K, M or G (trtexec's units); no suffix means
     * MiB, as in trtexec.
     */
    public static long parseBytes(String text, String what) {
        KilnArgumentException.check(text != null && !text.isBlank(), what + ": size missing");
        String t = text.trim().toUpperCase(Locale.ROOT);
        char last = t.charAt(t.length() - 1);
        long unit = switch (last) {
            case 'B' -> 1L;
            case 'K' -> 1L << 10;
            case 'M' -> 1L << 20;
            case 'G' -> 1L << 30;
            default -> -1L;
        };
        String num = unit > 0 ? t.substring(0, t.length() - 1) : t;
        try {
            double v = Double.parseDouble(num);
            KilnArgumentException.check(v >= 0 && Double.isFinite(v), what + ": '" + text + "' must be >= 0");
            return (long) (v * (unit > 0 ? unit : 1L << 20));
        } catch (NumberFormatException e) {
            throw new KilnArgumentException(what + ": '" + text + "' is not a size like 1024M or 2G");
        }
    }

    /** Options of an engine build; defaults as TensorRT's. */
    public static final class Builder {
        private EnginePrecision precision = EnginePrecision.FP32;
        private final List<OptimizationProfile> profiles = new ArrayList<>();
        private long workspaceBytes;
        private long tacticSharedMemoryBytes;
        private int optimizationLevel = DEFAULT_OPTIMIZATION_LEVEL;
        private Path timingCache;
        private boolean sparseWeights;
        private int device;
        private boolean versionCompatible;
        private HardwareCompatibility hardwareCompatibility = HardwareCompatibility.NONE;
        private Path calibrationCache;

        private Builder() {
        }

        public Builder precision(EnginePrecision p) {
            this.precision = Objects.requireNonNull(p, "precision");
            return this;
        }

        /** Adds one optimization profile (call again for several). */
        public Builder profile(OptimizationProfile p) {
            this.profiles.add(Objects.requireNonNull(p, "profile"));
            return this;
        }

        public Builder profiles(List<OptimizationProfile> ps) {
            this.profiles.clear();
            ps.forEach(this::profile);
            return this;
        }

        public Builder workspaceBytes(long v) {
            this.workspaceBytes = v;
            return this;
        }

        public Builder tacticSharedMemoryBytes(long v) {
            this.tacticSharedMemoryBytes = v;
            return this;
        }

        public Builder optimizationLevel(int v) {
            this.optimizationLevel = v;
            return this;
        }

        public Builder timingCache(Path p) {
            this.timingCache = p;
            return this;
        }

        public Builder sparseWeights(boolean v) {
            this.sparseWeights = v;
            return this;
        }

        public Builder device(int v) {
            this.device = v;
            return this;
        }

        public Builder versionCompatible(boolean v) {
            this.versionCompatible = v;
            return this;
        }

        public Builder hardwareCompatibility(HardwareCompatibility h) {
            this.hardwareCompatibility = Objects.requireNonNull(h, "hardwareCompatibility");
            return this;
        }

        public Builder calibrationCache(Path p) {
            this.calibrationCache = p;
            return this;
        }

        public EngineOptions build() {
            return new EngineOptions(this);
        }
    }
}
