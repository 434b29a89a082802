package dev.kiln.tensorrt;

import dev.kiln.KilnArgumentException;

import java.util.Locale;

/**
 * Which GPUs an engine may run on besides the one that built it (TensorRT's HardwareCompatibilityLevel), with
 * trtexec's names for its {@code --hardwareCompatibilityLevel} flag.
 */
public enum HardwareCompatibility {
    /** Only GPUs of the building GPU's model (TensorRT's default). */
    NONE("none"),
    /** Any Ampere or newer GPU (compute capability 8.0+), at some cost in speed. */
    AMPERE_PLUS("ampere+"),
    /** Any GPU with the same compute capability as the building one. */
    SAME_COMPUTE_CAPABILITY("sameComputeCapability");

    private final String trtexecName;

    HardwareCompatibility(String trtexecName) {
        this.trtexecName = trtexecName;
    }

    public String trtexecName() {
        return trtexecName;
    }

    /** Parses trtexec's names (none, ampere+, sameComputeCapability), case-insensitive, '-'/'_' alike. */
    public static HardwareCompatibility parse(String s) {
        String k = s == null ? "" : s.trim().toLowerCase(Locale.ROOT).replace("_", "").replace("-", "");
        for (HardwareCompatibility h : values()) {
            if (h.trtexecName.toLowerCase(Locale.ROOT).equals(k)) {
                return h;
            }
        }
        if (k.equals("ampereplus")) {
            return AMPERE_PLUS;
        }
        throw new KilnArgumentException("unknown hardware compatibility level '" + s
                + "': use none, ampere+ or sameComputeCapability");
    }
}
