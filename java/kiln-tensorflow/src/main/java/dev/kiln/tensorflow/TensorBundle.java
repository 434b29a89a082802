package dev.kiln.tensorflow;

import com.google.protobuf.InvalidProtocolBufferException;
import dev.kiln.KilnException;
import dev.kiln.graph.DType;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import org.tensorflow.proto.BundleEntryProto;
import org.tensorflow.proto.BundleHeaderProto;
import org.tensorflow.proto.TrackableObjectGraphOuterClass.TrackableObjectGraph;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collections;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * A TensorFlow checkpoint (tensor bundle: {@code variables.index} and {@code variables.data-*-of-*}) read directly:
 * the index is a LevelDB-format table of {@link BundleEntryProto}s by checkpoint key, and each tensor's bytes are
 * mapped from its data shard, not copied, so freezing a model's weights costs no more memory than the file cache.
 * TensorFlow's restore op, the other way to read them, holds every weight in TensorFlow and again in Java.
 *
 * <p>Only whole tensors with a fixed element size are read here; partitioned (sliced) variables and string tensors
 * are left to TensorFlow ({@link #supports}).
 */
final class TensorBundle {
    private static final long TABLE_MAGIC = 0xdb4775248b80fb57L;
    private static final int FOOTER_SIZE = 48;
    private static final int BLOCK_TRAILER = 5;
    private static final String OBJECT_GRAPH_KEY = "_CHECKPOINTABLE_OBJECT_GRAPH";
    /** CRC32C as TensorFlow stores it: rotated and offset, so that a CRC of data holding CRCs stays useful. */
    private static final int CRC_MASK_DELTA = 0xa282ead8;

    private final Path prefix;
    private final Map<String, BundleEntryProto> entries;
    private final int shards;

    private TensorBundle(Path prefix, Map<String, BundleEntryProto> entries, int shards) {
        this.prefix = prefix;
        this.entries = entries;
        this.shards = shards;
    }

    /** Reads the index of the bundle at {@code prefix} ({@code .../variables/variables}). */
    static TensorBundle open(Path prefix) {
        Path index = Path.of(prefix + ".index");
        byte[] b;
        try {
            b = Files.readAllBytes(index);
        } catch (IOException e) {
            throw KilnException.io("cannot read " + index + ": " + e.getMessage(), e);
        }
        Map<String, byte[]> raw = readTable(b, index);
        Map<String, BundleEntryProto> entries = new LinkedHashMap<>();
        int shards = 1;
        try {
            for (Map.Entry<String, byte[]> e : raw.entrySet()) {
                if (e.getKey().isEmpty()) {
                    BundleHeaderProto h = BundleHeaderProto.parseFrom(e.getValue());
                    if (h.getEndianness() != BundleHeaderProto.Endianness.LITTLE) {
                        throw KilnException.unsupported(index + " was written big-endian");
                    }
                    shards = Math.max(1, h.getNumShards());
                } else {
                    entries.put(e.getKey(), BundleEntryProto.parseFrom(e.getValue()));
                }
            }
        } catch (InvalidProtocolBufferException e) {
            throw KilnException.invalidModel(index + ": a corrupt entry (" + e.getMessage() + ")");
        }
        return new TensorBundle(prefix, Collections.unmodifiableMap(entries), shards);
    }

    Map<String, BundleEntryProto> entries() {
        return entries;
    }

    /** Whether {@link #read} handles this key: present, whole (not sliced), of a fixed-size dtype Kiln knows. */
    boolean supports(String key) {
        BundleEntryProto e = entries.get(key);
        if (e == null || e.getSlicesCount() > 0) {
            return false;
        }
        try {
            return DType.fromTfCode(e.getDtypeValue()).byteSize() > 0;
        } catch (IllegalArgumentException unknown) {
            return false;
        }
    }

    /** The tensor stored under {@code key}, its bytes mapped from the shard and checked against the stored CRC32C. */
    Tensor read(String key) {
        BundleEntryProto e = entries.get(key);
        if (e == null) {
            throw KilnException.invalidModel(prefix + ".index has no tensor '" + key + "'");
        }
        DType dtype = DType.fromTfCode(e.getDtypeValue());
        Shape shape = GraphDefs.fromProto(e.getShape());
        long expected = shape.numElements() * dtype.byteSize();
        if (e.getSize() != expected || e.getShardId() < 0 || e.getShardId() >= shards) {
            throw KilnException.invalidModel(prefix + ".index: tensor '" + key + "' (" + dtype + shape + ") says "
                    + e.getSize() + " bytes in shard " + e.getShardId() + " of " + shards + ", expected " + expected
                    + " bytes");
        }
        Path shard = Path.of(String.format("%s.data-%05d-of-%05d", prefix, e.getShardId(), shards));
        ByteBuffer bytes;
        try (FileChannel ch = FileChannel.open(shard, StandardOpenOption.READ)) {
            if (e.getOffset() < 0 || e.getOffset() + e.getSize() > ch.size()) {
                throw KilnException.invalidModel(shard + " is truncated: tensor '" + key + "' needs bytes "
                        + e.getOffset() + ".." + (e.getOffset() + e.getSize()) + " of " + ch.size());
            }
            bytes = e.getSize() == 0 ? ByteBuffer.allocate(0)
                    : ch.map(FileChannel.MapMode.READ_ONLY, e.getOffset(), e.getSize());
        } catch (IOException ex) {
            throw KilnException.io("cannot read " + shard + ": " + ex.getMessage(), ex);
        }
        CRC32C crc = new CRC32C();
        crc.update(bytes.duplicate());
        if (masked((int) crc.getValue()) != e.getCrc32C()) {
            throw KilnException.invalidModel(shard + ": tensor '" + key + "' fails its checksum (corrupt checkpoint)");
        }
        return Tensor.wrap(dtype, shape, bytes.order(ByteOrder.LITTLE_ENDIAN));
    }

    private static int masked(int crc) {
        return ((crc >>> 15) | (crc << 17)) + CRC_MASK_DELTA;
    }

    /**
     * Checkpoint keys by variable name ({@code full_name}) from the checkpoint's object graph: how a TF2 SavedModel's
     * {@code dense/kernel} is stored as {@code layer_with_weights-0/kernel/.ATTRIBUTES/VARIABLE_VALUE}. Empty for a TF1
     * checkpoint, whose keys are the variable names themselves. A name that several variables share maps to null.
     */
    Map<String, String> keysByVariableName() {
        if (!supportsObjectGraph()) {
            return Map.of();
        }
        TrackableObjectGraph g;
        try {
            g = TrackableObjectGraph.parseFrom(readString(OBJECT_GRAPH_KEY));
        } catch (InvalidProtocolBufferException e) {
            throw KilnException.invalidModel(prefix + ": corrupt object graph (" + e.getMessage() + ")");
        }
        Map<String, String> keys = new HashMap<>();
        for (TrackableObjectGraph.TrackableObject o : g.getNodesList()) {
            for (TrackableObjectGraph.TrackableObject.SerializedTensor a : o.getAttributesList()) {
                if (a.getName().equals("VARIABLE_VALUE") && !a.getFullName().isEmpty()) {
                    // a name two variables share (unnamed tf.Variables are all "Variable") maps to null: ambiguous
                    keys.put(a.getFullName(), keys.containsKey(a.getFullName()) ? null : a.getCheckpointKey());
                }
            }
        }
        return keys;
    }

    private boolean supportsObjectGraph() {
        BundleEntryProto e = entries.get(OBJECT_GRAPH_KEY);
        return e != null && e.getDtypeValue() == DType.STRING.tfCode() && e.getSlicesCount() == 0;
    }

    /** A scalar string tensor: its bytes follow a varint length in the shard (and a CRC TensorFlow checks). */
    private byte[] readString(String key) {
        BundleEntryProto e = entries.get(key);
        Path shard = Path.of(String.format("%s.data-%05d-of-%05d", prefix, e.getShardId(), shards));
        byte[] all;
        try (FileChannel ch = FileChannel.open(shard, StandardOpenOption.READ)) {
            if (e.getOffset() < 0 || e.getSize() < 0 || e.getOffset() + e.getSize() > ch.size()
                    || e.getSize() > Integer.MAX_VALUE) {
                throw KilnException.invalidModel(shard + " is truncated at tensor '" + key + "'");
            }
            ByteBuffer b = ByteBuffer.allocate((int) e.getSize());
            ch.read(b, e.getOffset());
            all = b.array();
        } catch (IOException ex) {
            throw KilnException.io("cannot read " + shard + ": " + ex.getMessage(), ex);
        }
        // layout: varint64 length per element, a 4-byte CRC of the lengths, then the bytes
        int[] pos = {0};
        long len = varint(all, pos, shard);
        pos[0] += 4;
        if (len < 0 || pos[0] + len > all.length) {
            throw KilnException.invalidModel(shard + ": string tensor '" + key + "' is malformed");
        }
        return java.util.Arrays.copyOfRange(all, pos[0], pos[0] + (int) len);
    }

    // ---- the LevelDB table format (TensorFlow's lib/io/table) ----

    /** Every key and value of an uncompressed table file. */
    private static Map<String, byte[]> readTable(byte[] b, Path file) {
        if (b.length < FOOTER_SIZE) {
            throw KilnException.invalidModel(file + " is too short to be a checkpoint index (" + b.length + " bytes)");
        }
        ByteBuffer footer = ByteBuffer.wrap(b, b.length - 8, 8).order(ByteOrder.LITTLE_ENDIAN);
        if (footer.getLong() != TABLE_MAGIC) {
            throw KilnException.invalidModel(file + " is not a checkpoint index (bad magic number: truncated or not a "
                    + "TensorFlow table)");
        }
        int[] pos = {b.length - FOOTER_SIZE};
        varint(b, pos, file);   // metaindex block handle: unused
        varint(b, pos, file);
        long indexOffset = varint(b, pos, file);
        long indexSize = varint(b, pos, file);
        Map<String, byte[]> out = new LinkedHashMap<>();
        for (byte[] handle : readBlock(b, indexOffset, indexSize, file).values()) {
            int[] h = {0};
            long offset = varint(handle, h, file);
            long size = varint(handle, h, file);
            out.putAll(readBlock(b, offset, size, file));
        }
        return out;
    }

    /** The entries of one block: prefix-compressed keys, restart points at the end, then a type byte and a CRC. */
    private static Map<String, byte[]> readBlock(byte[] b, long offset, long size, Path file) {
        if (offset < 0 || size < 4 || offset + size + BLOCK_TRAILER > b.length) {
            throw KilnException.invalidModel(file + ": a block at " + offset + " (+" + size + ") runs past the end");
        }
        int type = b[(int) (offset + size)];
        if (type == 1) {
            // snappy (TensorFlow 1.x and some 2.x writers): decompress, then read it like a plain block
            byte[] plain = snappy(b, (int) offset, (int) size, file);
            byte[] padded = java.util.Arrays.copyOf(plain, plain.length + BLOCK_TRAILER);
            return readBlock(padded, 0, plain.length, file);
        }
        if (type != 0) {
            throw KilnException.unsupported(file + ": checkpoint index block compression " + type + " is not supported");
        }
        int start = (int) offset;
        int end = (int) (offset + size);
        int restarts = ByteBuffer.wrap(b, end - 4, 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
        int limit = end - 4 - 4 * restarts;
        if (restarts < 0 || limit < start) {
            throw KilnException.invalidModel(file + ": a block at " + offset + " has a bad restart count");
        }
        Map<String, byte[]> out = new LinkedHashMap<>();
        byte[] key = new byte[0];
        int[] pos = {start};
        while (pos[0] < limit) {
            int shared = (int) varint(b, pos, file);
            int unshared = (int) varint(b, pos, file);
            int valueLength = (int) varint(b, pos, file);
            if (shared < 0 || unshared < 0 || valueLength < 0 || shared > key.length
                    || pos[0] + unshared + valueLength > limit) {
                throw KilnException.invalidModel(file + ": a corrupt entry in the block at " + offset);
            }
            byte[] k = new byte[shared + unshared];
            System.arraycopy(key, 0, k, 0, shared);
            System.arraycopy(b, pos[0], k, shared, unshared);
            pos[0] += unshared;
            out.put(new String(k, StandardCharsets.UTF_8), java.util.Arrays.copyOfRange(b, pos[0], pos[0]
                    + valueLength));
            pos[0] += valueLength;
            key = k;
        }
        return out;
    }

    /** Snappy's block format: the uncompressed length, then literals and back-references (copies). */
    private static byte[] snappy(byte[] b, int offset, int size, Path file) {
        int[] pos = {offset};
        long n = varint(b, pos, file);
        if (n < 0 || n > 64L * size + 1024) {
            throw KilnException.invalidModel(file + ": a compressed block claims " + n + " bytes");
        }
        byte[] out = new byte[(int) n];
        int o = 0;
        int end = offset + size;
        while (pos[0] < end) {
            int tag = b[pos[0]++] & 0xff;
            int kind = tag & 3;
            int length;
            int distance;
            if (kind == 0) {
                length = (tag >>> 2) + 1;
                if (length > 60) {
                    int extra = length - 60;
                    length = 0;
                    for (int i = 0; i < extra; i++) {
                        length |= (b[pos[0]++] & 0xff) << (8 * i);
                    }
                    length += 1;
                }
                if (length < 0 || pos[0] + length > end || o + length > out.length) {
                    throw KilnException.invalidModel(file + ": a corrupt compressed block");
                }
                System.arraycopy(b, pos[0], out, o, length);
                pos[0] += length;
                o += length;
                continue;
            }
            if (kind == 1) {
                length = ((tag >>> 2) & 7) + 4;
                distance = ((tag >>> 5) << 8) | (b[pos[0]++] & 0xff);
            } else if (kind == 2) {
                length = (tag >>> 2) + 1;
                distance = (b[pos[0]] & 0xff) | (b[pos[0] + 1] & 0xff) << 8;
                pos[0] += 2;
            } else {
                length = (tag >>> 2) + 1;
                distance = ByteBuffer.wrap(b, pos[0], 4).order(ByteOrder.LITTLE_ENDIAN).getInt();
                pos[0] += 4;
            }
            if (distance <= 0 || distance > o || o + length > out.length) {
                throw KilnException.invalidModel(file + ": a corrupt compressed block");
            }
            for (int i = 0; i < length; i++) { // byte by byte: a copy may overlap what it writes
                out[o] = out[o - distance];
                o++;
            }
        }
        if (o != out.length) {
            throw KilnException.invalidModel(file + ": a compressed block ends early");
        }
        return out;
    }

    private static long varint(byte[] b, int[] pos, Path file) {
        long r = 0;
        for (int shift = 0; shift < 64; shift += 7) {
            if (pos[0] >= b.length) {
                throw KilnException.invalidModel(file + " ends inside a number (truncated)");
            }
            int c = b[pos[0]++] & 0xff;
            r |= (long) (c & 0x7f) << shift;
            if (c < 0x80) {
                return r;
            }
        }
        throw KilnException.invalidModel(file + ": a malformed number");
    }
}
