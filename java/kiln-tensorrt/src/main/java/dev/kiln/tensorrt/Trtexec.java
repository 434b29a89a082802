package dev.kiln.tensorrt;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * The trtexec command that builds the same engine as {@link EngineBuilder} with the same options: what Kiln writes
 * where no GPU or TensorRT is present, so that the build can run later on a machine that has them.
 */
public final class Trtexec {
    private Trtexec() {
    }

    /** trtexec's arguments (program name first) to build {@code engine} from {@code onnx}. */
    public static List<String> arguments(Path onnx, Path engine, EngineOptions o) {
        List<String> a = new ArrayList<>();
        a.add("trtexec");
        a.add("--onnx=" + onnx);
        a.add("--saveEngine=" + engine);
        switch (o.precision()) {
            case FP32 -> a.add("--noTF32"); // exact float32, as verified against TensorFlow
            case FP16, INT8 -> a.add("--stronglyTyped");
            case INT8_LEGACY -> {
                a.add("--int8");
                a.add("--calib=" + o.calibrationCache());
            }
            default -> throw new IllegalStateException(o.precision().toString());
        }
        // one --minShapes/--optShapes/--maxShapes group per profile, in order
        for (OptimizationProfile p : o.profiles()) {
            a.add("--minShapes=" + spec(p.ranges(), ShapeRange::min));
            a.add("--optShapes=" + spec(p.ranges(), ShapeRange::opt));
            a.add("--maxShapes=" + spec(p.ranges(), ShapeRange::max));
        }
        List<String> pools = new ArrayList<>();
        if (o.workspaceBytes() > 0) {
            pools.add("workspace:" + size(o.workspaceBytes()));
        }
        if (o.tacticSharedMemoryBytes() > 0) {
            pools.add("tacticSharedMem:" + size(o.tacticSharedMemoryBytes()));
        }
        if (!pools.isEmpty()) {
            a.add("--memPoolSize=" + String.join(",", pools));
        }
        a.add("--builderOptimizationLevel=" + o.optimizationLevel());
        if (o.timingCache() != null) {
            a.add("--timingCacheFile=" + o.timingCache());
        }
        if (o.sparseWeights()) {
            a.add("--sparsity=enable");
        }
        a.add("--device=" + o.device());
        if (o.versionCompatible()) {
            a.add("--versionCompatible");
        }
        if (o.hardwareCompatibility() != HardwareCompatibility.NONE) {
            a.add("--hardwareCompatibilityLevel=" + o.hardwareCompatibility().trtexecName());
        }
        return a;
    }

    /** A byte count in trtexec's base-2 units, the largest that is exact: 1G, 512M, 48K, 100B. */
    static String size(long bytes) {
        for (String[] u : new String[][] {{"G", "30"}, {"M", "20"}, {"K", "10"}}) {
            long unit = 1L << Integer.parseInt(u[1]);
            if (bytes % unit == 0) {
                return bytes / unit + u[0];
            }
        }
        return bytes + "B";
    }

    /** The arguments as one POSIX shell command line, each quoted where needed. */
    public static String commandLine(Path onnx, Path engine, EngineOptions o) {
        return arguments(onnx, engine, o).stream().map(Trtexec::shellQuote).collect(Collectors.joining(" "));
    }

    /**
     * A POSIX shell script that runs the command from its own directory (the paths are relative to it when the
     * files sit beside it), and says what is missing when trtexec is not on the PATH.
     */
    public static String script(Path onnx, Path engine, EngineOptions o, String header) {
        StringBuilder b = new StringBuilder("#!/bin/sh\n");
        for (String line : header.split("\n")) {
            b.append("# ").append(line).append('\n');
        }
        b.append("set -eu\n");
        b.append("cd \"$(dirname \"$0\")\"\n");
        b.append("command -v trtexec >/dev/null 2>&1 || { echo \"trtexec not found: install TensorRT "
                + TensorRtProbe.PRESET_TENSORRT_VERSION + " (its bin/ on the PATH) on a machine with an NVIDIA GPU\" >&2; "
                + "exit 127; }\n");
        b.append("exec ").append(String.join(" \\\n    ", arguments(onnx, engine, o).stream()
                .map(Trtexec::shellQuote).toList())).append('\n');
        return b.toString();
    }

    /** trtexec's shape spec {@code name:1x3x224x224,...}; a name with ':' or ',' is single-quoted as trtexec takes it. */
    static String spec(Map<String, ShapeRange> ranges, java.util.function.Function<ShapeRange, long[]> which) {
        return ranges.entrySet().stream().map(e -> {
            String n = e.getKey();
            String name = n.contains(":") || n.contains(",") ? "'" + n + "'" : n;
            return name + ":" + ShapeRange.format(which.apply(e.getValue()));
        }).collect(Collectors.joining(","));
    }

    /** Quotes for a POSIX shell: bare when only safe characters, single quotes otherwise. */
    static String shellQuote(String s) {
        if (!s.isEmpty() && s.matches("[A-Za-z0-9_./=:,+@%-]+")) {
            return s;
        }
        return "'" + s.replace("'", "'\\''") + "'";
    }
}
