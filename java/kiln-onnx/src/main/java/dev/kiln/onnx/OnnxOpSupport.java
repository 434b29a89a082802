package dev.kiln.onnx;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/** Which TensorFlow ops the ONNX exporter maps, to what, and from which ONNX opset on (from {@link OnnxLowerings}). */
public final class OnnxOpSupport {
    /** The lowest opset Kiln writes (per-axis QuantizeLinear, Softmax on one axis, axes as inputs). */
    public static final int MIN_OPSET = 13;
    /** The newest opset of the default ai.onnx domain that the bundled ONNX Runtime (1.23) runs. */
    public static final int MAX_OPSET = 23;
    public static final int DEFAULT_OPSET = 17;

    /** A TF op's ONNX mapping: the ONNX ops it becomes and the minimum opset. */
    public record Mapping(String tfOp, String onnxOps, int minOpset) { }

    private static final Map<String, Mapping> MAP = new LinkedHashMap<>();

    static {
        for (OnnxLowerings.Entry e : OnnxLowerings.all().values()) {
            MAP.put(e.tfOp(), new Mapping(e.tfOp(), e.onnxOps(), e.minOpset()));
        }
    }

    private OnnxOpSupport() {
    }

    public static boolean isSupported(String tfOp) {
        return MAP.containsKey(tfOp);
    }

    /** The mapping of {@code tfOp}, or null. */
    public static Mapping mapping(String tfOp) {
        return MAP.get(tfOp);
    }

    /** Every supported TF op with its mapping, sorted by TF op name (for {@code kiln inspect}). */
    public static Map<String, Mapping> supportedOps() {
        return Collections.unmodifiableMap(new TreeMap<>(MAP));
    }

    /** The IR version that goes with an opset of the default domain (ONNX's release table). */
    public static int irVersionFor(int opset) {
        if (opset <= 13) {
            return 7;
        }
        if (opset <= 18) {
            return 8;
        }
        if (opset <= 20) {
            return 9;
        }
        if (opset <= 22) {
            return 10;
        }
        return 11;
    }
}
