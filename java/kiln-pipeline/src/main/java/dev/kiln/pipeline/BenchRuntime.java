package dev.kiln.pipeline;

import dev.kiln.KilnArgumentException;

import java.util.Arrays;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;
import java.util.stream.Collectors;

/** A runtime that {@code kiln bench} can time a model on. */
public enum BenchRuntime {
    TENSORFLOW("tensorflow"),
    ONNXRUNTIME("onnxruntime"),
    TFLITE("tflite"),
    TENSORRT("tensorrt");

    private final String cliName;

    BenchRuntime(String cliName) {
        this.cliName = cliName;
    }

    /** The name on the command line and in reports. */
    public String cliName() {
        return cliName;
    }

    /** Parses a runtime name, or {@code all} for every runtime; anything else is an argument error naming the choices. */
    public static Set<BenchRuntime> parse(String name) {
        String n = name == null ? "" : name.trim().toLowerCase(Locale.ROOT);
        if (n.equals("all")) {
            return EnumSet.allOf(BenchRuntime.class);
        }
        for (BenchRuntime r : values()) {
            if (r.cliName.equals(n)) {
                return EnumSet.of(r);
            }
        }
        throw new KilnArgumentException("unknown runtime '" + name + "'; choose one of "
                + Arrays.stream(values()).map(BenchRuntime::cliName).collect(Collectors.joining(", ")) + " or all");
    }

    @Override
    public String toString() {
        return cliName;
    }
}
