package dev.kiln.onnx;

import com.google.protobuf.ByteString;
import com.google.protobuf.CodedOutputStream;
import com.google.protobuf.Descriptors;
import com.google.protobuf.Message;
import com.google.protobuf.WireFormat;
import dev.kiln.AtomicFiles;
import dev.kiln.onnx.proto.Onnx.GraphProto;
import dev.kiln.onnx.proto.Onnx.ModelProto;
import dev.kiln.onnx.proto.Onnx.StringStringEntryProto;
import dev.kiln.onnx.proto.Onnx.TensorProto;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

/**
 * Writes a ModelProto to a file, either whole or with its weights in a side file (ONNX external data, the layout of
 * {@code onnx.save_model(m, path, save_as_external_data=True, all_tensors_to_one_file=True, location=name + ".data")}).
 *
 * <p>Neither way copies the weights: the ModelProto's initializers wrap the graph's tensor buffers, and the writer
 * hands each one to the file channel as it is, writing only the protobuf framing around it itself (ModelProto.graph
 * is field 7, GraphProto.initializer field 5, TensorProto.raw_data field 9). External data is what a model needs
 * beyond protobuf's 2 GB message limit; ONNX Runtime reads it from the model's directory.
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

    /**
     * Writes {@code m} whole to {@code out} (temporary file + rename), byte for byte what {@code m.writeTo} writes,
     * but with each initializer's raw_data handed to the file channel straight from the graph's buffer: the
     * protobuf framing around it goes through a 1 MB buffer, the weights through no user-space buffer at all (a
     * memory-mapped checkpoint goes from page cache to page cache).
     */
    static void writeWhole(ModelProto m, Path out) {
        AtomicFiles.writeChannel(out, ch -> {
            CodedOutputStream c = CodedOutputStream.newInstance(Channels.newOutputStream(ch), 1 << 20);
            GraphProto g = m.getGraph();
            fields(m, 0, ModelProto.GRAPH_FIELD_NUMBER).writeTo(c);
            if (m.hasGraph()) {
                c.writeTag(ModelProto.GRAPH_FIELD_NUMBER, WireFormat.WIRETYPE_LENGTH_DELIMITED);
                c.writeUInt32NoTag(g.getSerializedSize());
                fields(g, 0, GraphProto.INITIALIZER_FIELD_NUMBER).writeTo(c);
                for (TensorProto t : g.getInitializerList()) {
                    c.writeTag(GraphProto.INITIALIZER_FIELD_NUMBER, WireFormat.WIRETYPE_LENGTH_DELIMITED);
                    c.writeUInt32NoTag(t.getSerializedSize());
                    writeTensor(t, c, ch);
                }
                fields(g, GraphProto.INITIALIZER_FIELD_NUMBER + 1, Integer.MAX_VALUE).writeTo(c);
                g.getUnknownFields().writeTo(c);
            }
            fields(m, ModelProto.GRAPH_FIELD_NUMBER + 1, Integer.MAX_VALUE).writeTo(c);
            m.getUnknownFields().writeTo(c);
            c.flush();
        });
    }

    private static void writeTensor(TensorProto t, CodedOutputStream c, FileChannel ch) throws IOException {
        if (!t.hasRawData() || t.getRawData().size() < ALIGN_THRESHOLD) {
            t.writeTo(c);
            return;
        }
        fields(t, 0, TensorProto.RAW_DATA_FIELD_NUMBER).writeTo(c);
        ByteString raw = t.getRawData();
        c.writeTag(TensorProto.RAW_DATA_FIELD_NUMBER, WireFormat.WIRETYPE_LENGTH_DELIMITED);
        c.writeUInt32NoTag(raw.size());
        c.flush(); // the framing reaches the channel before the bytes it frames
        writeFully(ch, raw.asReadOnlyByteBuffer());
        fields(t, TensorProto.RAW_DATA_FIELD_NUMBER + 1, Integer.MAX_VALUE).writeTo(c);
        t.getUnknownFields().writeTo(c);
    }

    /** Writes {@code b} in slices of at most 1 MB (a heap buffer is copied by the JDK into a direct one per write). */
    static void writeFully(FileChannel ch, ByteBuffer b) throws IOException {
        while (b.hasRemaining()) {
            ByteBuffer s = b.slice();
            s.limit(Math.min(s.remaining(), 1 << 20));
            int n = s.remaining();
            while (s.hasRemaining()) {
                ch.write(s);
            }
            b.position(b.position() + n);
        }
    }

    /** The fields of {@code m} numbered in [from, to), as a message of its type (serialized in the same order). */
    private static Message fields(Message m, int from, int to) {
        Message.Builder b = m.newBuilderForType();
        for (Map.Entry<Descriptors.FieldDescriptor, Object> e : m.getAllFields().entrySet()) {
            int n = e.getKey().getNumber();
            if (n >= from && n < to) {
                b.setField(e.getKey(), e.getValue());
            }
        }
        return b.build();
    }

    /**
     * Writes the raw data of every initializer of at least {@link #EXTERNAL_THRESHOLD} bytes to
     * {@link #dataFileOf}(out), then {@code m} with those initializers pointing into it; returns the data file.
     */
    static Path writeExternal(ModelProto m, Path out) {
        Path data = dataFileOf(out);
        String location = data.getFileName().toString();
        GraphProto.Builder g = m.getGraph().toBuilder();
        AtomicFiles.writeChannel(data, ch -> {
            long offset = 0;
            for (int i = 0; i < g.getInitializerCount(); i++) {
                TensorProto t = g.getInitializer(i);
                ByteString raw = t.getRawData();
                if (raw.size() < EXTERNAL_THRESHOLD) {
                    continue;
                }
                if (raw.size() > ALIGN_THRESHOLD && offset % ALIGNMENT != 0) {
                    long pad = ALIGNMENT - offset % ALIGNMENT;
                    writeFully(ch, ByteBuffer.allocate((int) pad));
                    offset += pad;
                }
                writeFully(ch, raw.asReadOnlyByteBuffer());
                g.setInitializer(i, t.toBuilder().clearRawData()
                        .setDataLocation(TensorProto.DataLocation.EXTERNAL)
                        .addExternalData(entry("location", location))
                        .addExternalData(entry("offset", Long.toString(offset)))
                        .addExternalData(entry("length", Long.toString(raw.size()))).build());
                offset += raw.size();
            }
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
