package dev.kiln.onnx;

import java.nio.file.Path;
import java.util.Map;

/**
 * What {@link OnnxExporter#export} wrote: the file, its size, opset and IR version, precision, the ONNX op histogram
 * and how many layout Transposes the exporter inserted.
 */
public record ExportResult(Path path, long bytes, int opset, int irVersion, Precision precision, int nodes,
                           int initializers, Map<String, Integer> onnxOps, int layoutTransposes, long millis) {
    @Override
    public String toString() {
        return "ONNX " + path + " (" + bytes + " bytes, opset " + opset + ", IR " + irVersion + ", " + precision
                + ", " + nodes + " nodes, " + initializers + " initializers, " + layoutTransposes
                + " layout transposes, " + millis + " ms)";
    }
}
