package dev.kiln.tflite;

import java.nio.file.Path;
import java.util.Map;

/** What {@link TfliteExporter#export} wrote: the file, its size, precision, and the TFLite operators by name. */
public record TfliteExportResult(Path path, long bytes, TflitePrecision precision, boolean int8IO, int operators,
                                 int tensors, Map<String, Integer> tfliteOps, long millis) {
    @Override
    public String toString() {
        return "TFLite " + path + " (" + bytes + " bytes, " + precision + (int8IO ? ", int8 I/O" : "") + ", "
                + operators + " operators, " + tensors + " tensors, " + millis + " ms)";
    }
}
