package dev.kiln.onnx;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import dev.kiln.AtomicFiles;
import dev.kiln.KilnException;
import dev.kiln.onnx.proto.Onnx.GraphProto;
import dev.kiln.onnx.proto.Onnx.ModelProto;
import dev.kiln.onnx.proto.Onnx.StringStringEntryProto;
import dev.kiln.onnx.proto.Onnx.TensorProto;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Writes a ModelProto to a file, either whole or with its weights in a side file (ONNX external data, the layout of
 * {@code onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True, location=name + ".data")}).
 *
 * <p>Neither way copies the weights: the ModelProto's initializers wrap the graph's tensor buffers, and protobuf
 * streams them through the 1 MB output buffer. External data is what a model needs beyond protobuf's 2 GB message
 * limit; ONNX Runtime reads it from the model's directory.
 */
final class OnnxFileWriter {
    /** Protobuf's limit on one serialized message (2 GiB - 1). */
    static final long PROTOBUF_LIMIT = Integer.MAX_VALUE;
    /** Initializers smaller than this stay inline (onnx's own size_threshold). */
    static final int EXTERNAL_THRESHOLD = 1024;
    /** Larger tensors start on a 64 KiB boundary in the data file, so that a runtime can map them (onnx's default). */
    static final long ALIGN_THRESHOLD = 1 << 20;
    static final long ALIGNMENT = 1 << 16;
    /** Room left for the graph's nodes and names when the weights alone decide whether a model fits one file. */
    private static final long GRAPH_MARGIN = 64L << 20;

    private OnnxFileWriter() {
    }

    /** The side file of {@code model}: the model's file name + ".data", in the same directory. */
    static Path dataFileOf(Path model) {
        return model.resolveSibling(model.getFileName() + ".data");
    }

    /** Whether {@code m}'s initializers are too large for one protobuf file (with room for the graph). */
    static boolean exceedsOneFile(ModelProto m, long limit) {
        long raw = 0;
        for (TensorProto t : m.getGraph().getInitializerList()) {
            raw += t.getRawData().size();
        }
        return raw + GRAPH_MARGIN > limit;
    }

    /** Writes {@code m} whole to {@code out} (temporary file + rename). */
    static void writeWhole(ModelProto m, Path out) {
        AtomicFiles.write(out, os -> {
            CodedOutputStream c = CodedOutputStream.newInstance(os, 1 << 20);
            m.writeTo(c);
            c.flush();
        });
    }

    /**
     * Writes the raw data of every initializer of at least {@link #EXTERNAL_THRESHOLD} bytes to
     * {@link #dataFileOf}(out), then {@code m} with those initializers pointing into it; returns the data file.
     */
    static Path writeExternal(ModelProto m, Path out) {
        Path data = dataFileOf(out);
        String location = data.getFileName().toString();
        GraphProto.Builder g = m.getGraph().toBuilder();
        AtomicFiles.write(data, os -> {
            // through protobuf's ByteOutput: the wrapped buffers are written without a copy (ByteString.writeTo
            // of an OutputStream would copy each one into a new array)
            CodedOutputStream c = CodedOutputStream.newInstance(os, 1 << 20);
            long offset = 0;
            for (int i = 0; i < g.getInitializerCount(); i++) {
                TensorProto t = g.getInitializer(i);
                ByteString raw = t.getRawData();
                if (raw.size() < EXTERNAL_THRESHOLD) {
                    continue;
                }
                if (raw.size() > ALIGN_THRESHOLD && offset % ALIGNMENT != 0) {
                    long pad = ALIGNMENT - offset % ALIGNMENT;
                    c.writeRawBytes(new byte[(int) pad]);
                    offset += pad;
                }
                c.writeRawBytes(raw);
                g.setInitializer(i, t.toBuilder().clearRawData()
                        .setDataLocation(TensorProto.DataLocation.EXTERNAL)
                        .addExternalData(entry("location", location))
                        .addExternalData(entry("offset", Long.toString(offset)))
                        .addExternalData(entry("length", Long.toString(raw.size()))).build());
                offset += raw.size();
            }
            c.flush();
        });
        ModelProto small = m.toBuilder().setGraph(g).build();
        try {
            writeWhole(small, out);
        } catch (RuntimeException e) {
            deleteQuietly(data); // no data file without the model that reads it
            throw e;
        }
        return data;
    }

    private static StringStringEntryProto entry(String key, String value) {
        return StringStringEntryProto.newBuilder().setKey(key).setValue(value).build();
    }

    private static void deleteQuietly(Path p) {
        try {
            Files.deleteIfExists(p);
        } catch (IOException e) {
            // the original failure is what the caller needs to see
        }
    }
}
