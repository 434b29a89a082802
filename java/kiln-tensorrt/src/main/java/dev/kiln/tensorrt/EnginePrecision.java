package dev.kiln.tensorrt;

import dev.kiln.KilnArgumentException;

import java.util.Arrays;
import java.util.Locale;
import java.util.stream.Collectors;

/**
 * The precision of a TensorRT engine and how TensorRT is told about it. TensorRT 10 builds reduced precision from the
 * types written into the ONNX (strongly typed): Kiln decides every precision, TensorRT follows. The legacy INT8 mode
 * (implicit quantization through a calibrator, deprecated since TensorRT 10.1, gone in 11) is for older TensorRT.
 */
public enum EnginePrecision {
    /** Float32 ONNX, TF32 off: float32 arithmetic, as verified against TensorFlow. */
    FP32(false, "fp32"),
    /** Kiln's FP16 ONNX (float16 tensors), built strongly typed. */
    FP16(true, "fp16"),
    /** Kiln's QDQ ONNX with the TensorRT layout, built strongly typed: the Q/DQ scales are the engine's scales. */
    INT8(true, "int8"),
    /** Float32 ONNX with the INT8 flag; the scales come from Kiln's TensorRT calibration cache through a calibrator. */
    INT8_LEGACY(false, "int8-legacy");

    private final boolean stronglyTyped;
    private final String cliName;

    EnginePrecision(boolean stronglyTyped, String cliName) {
        this.stronglyTyped = stronglyTyped;
        this.cliName = cliName;
    }

    /** True when the network is created strongly typed (the ONNX's types decide). */
    public boolean stronglyTyped() {
        return stronglyTyped;
    }

    /** The name on the command line and in manifests: fp32, fp16, int8, int8-legacy. */
    public String cliName() {
        return cliName;
    }

    /** Parses fp32, fp16, int8 or int8-legacy (case-insensitive); an error lists the accepted names. */
    public static EnginePrecision parse(String s) {
        String k = s == null ? "" : s.trim().toLowerCase(Locale.ROOT).replace('_', '-');
        for (EnginePrecision p : values()) {
            if (p.cliName.equals(k)) {
                return p;
            }
        }
        throw new KilnArgumentException("unknown TensorRT precision '" + s + "': use one of "
                + Arrays.stream(values()).map(EnginePrecision::cliName).collect(Collectors.joining(", ")));
    }
}
