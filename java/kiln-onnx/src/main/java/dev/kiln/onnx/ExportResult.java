package dev.kiln.onnx;

import java.nio.file.Path;
import java.util.Map;

/**
 * What {@link OnnxExporter#export} wrote: the file, its size, opset and IR version, precision, the ONNX op histogram
 * how many layout Transposes the exporter inserted, and whether its integer layers are exact on ONNX Runtime's stock
 * kernels on x86 CPUs without VNNI ({@link Int8Saturation}), and the side file holding the weights when they were
 * written as ONNX external data (null otherwise).
 */
public record ExportResult(Path path, long bytes, int opset, int irVersion, Precision precision, int nodes,
                           int initializers, Map<String, Integer> onnxOps, int layoutTransposes, long millis,
                           Int8Saturation saturation, Path externalData) {
    @Override
    public String toString() {
        return "ONNX " + path + " (" + bytes + " bytes, opset " + opset + ", IR " + irVersion + ", " + precision
                + ", " + nodes + " nodes, " + initializers + " initializers, " + layoutTransposes
                + " layout transposes, " + millis + " ms; " + saturation.summary()
                + (externalData == null ? "" : "; weights in " + externalData) + ")";
    }
}
