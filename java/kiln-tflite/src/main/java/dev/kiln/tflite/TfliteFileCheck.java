package dev.kiln.tflite;

import dev.kiln.KilnException;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

import static dev.kiln.tflite.TfliteSchema.*;

/**
 * Checks the structure of a .tflite file before the TensorFlow Lite interpreter reads it: every offset, vector and
 * string inside the file, every index (tensor, buffer, operator code, subgraph) inside its table, shapes without
 * negative dimensions, and constant data the size its shape and type declare.
 *
 * <p>Why: the interpreter is native code reading the bytes in place; TFLite's own verifier covers the FlatBuffer
 * layout, but a bad index or size that gets past it ends in native code (a crash of the JVM, not an exception). This
 * check turns those files into a {@link KilnException} naming the file and the place. It reads nothing it does not
 * check, so it cannot itself read out of bounds.
 */
final class TfliteFileCheck {
    private static final int BUFFER_OFFSET = 1; // table Buffer: offset, size (uint64) of data stored after the
    private static final int BUFFER_SIZE = 2;   // FlatBuffer, for models over 2 GB
    private static final int MAX_RANK = 16;

    private final ByteBuffer bb;
    private final String source;

    private TfliteFileCheck(byte[] bytes, String source) {
        this.bb = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        this.source = source;
    }

    /** Throws a {@link KilnException} naming {@code source} where {@code bytes} is not a well-formed TFLite model. */
    static void check(byte[] bytes, String source) {
        new TfliteFileCheck(bytes, source).model();
    }

    private void model() {
        require(bb.limit() >= 8, "is " + bb.limit() + " bytes, too short for a TFLite file");
        byte[] id = new byte[4];
        bb.get(4, id);
        require(new String(id, java.nio.charset.StandardCharsets.ISO_8859_1).equals(FILE_IDENTIFIER),
                "is not a TFLite file (no '" + FILE_IDENTIFIER + "' identifier at byte 4)");
        int model = ref(0, "the root table");
        int vt = vtable(model, "Model");
        int version = int32(model, vt, MODEL_VERSION, 0);
        require(version == SCHEMA_VERSION, "has schema version " + version + ", not " + SCHEMA_VERSION);

        int[] codes = vector(model, vt, MODEL_OPERATOR_CODES, 4, "Model.operator_codes");
        for (int i = 0; i < len(codes); i++) {
            vtable(element(codes, i, "operator_codes"), "operator_codes[" + i + "]");
        }
        int[] buffers = vector(model, vt, MODEL_BUFFERS, 4, "Model.buffers");
        int[] bufferSizes = new int[len(buffers)];
        for (int i = 0; i < bufferSizes.length; i++) {
            bufferSizes[i] = buffer(element(buffers, i, "buffers"), i);
        }
        int[] subgraphs = vector(model, vt, MODEL_SUBGRAPHS, 4, "Model.subgraphs");
        require(len(subgraphs) >= 1, "has no subgraph");
        int[] tensorCounts = new int[len(subgraphs)];
        for (int i = 0; i < tensorCounts.length; i++) {
            tensorCounts[i] = subgraph(element(subgraphs, i, "subgraphs"), i, len(codes), bufferSizes);
        }
        int[] metadata = vector(model, vt, MODEL_METADATA, 4, "Model.metadata");
        for (int i = 0; i < len(metadata); i++) {
            int m = element(metadata, i, "metadata");
            int mvt = vtable(m, "metadata[" + i + "]");
            string(m, mvt, METADATA_NAME, "metadata[" + i + "].name");
            index(int32(m, mvt, METADATA_BUFFER, 0), bufferSizes.length, "metadata[" + i + "].buffer");
        }
        int[] signatures = vector(model, vt, MODEL_SIGNATURE_DEFS, 4, "Model.signature_defs");
        for (int i = 0; i < len(signatures); i++) {
            signature(element(signatures, i, "signature_defs"), i, tensorCounts);
        }
    }

    /** A Buffer table; returns its data's byte count (-1: data stored after the FlatBuffer, size not checked). */
    private int buffer(int table, int i) {
        int vt = vtable(table, "buffers[" + i + "]");
        int[] data = vector(table, vt, BUFFER_DATA, 1, "buffers[" + i + "].data");
        long offset = int64(table, vt, BUFFER_OFFSET);
        long size = int64(table, vt, BUFFER_SIZE);
        if (offset > 1) { // data outside the FlatBuffer, at an offset from the file's start (1: a placeholder)
            require(size >= 0 && offset <= bb.limit() && size <= bb.limit() - offset, "buffers[" + i
                    + "] declares " + size + " bytes at offset " + offset + ", past the end of the file");
            return -1;
        }
        return len(data);
    }

    /** A SubGraph; returns its tensor count. */
    private int subgraph(int table, int s, int opcodeCount, int[] bufferSizes) {
        String where = "subgraphs[" + s + "]";
        int vt = vtable(table, where);
        int[] tensors = vector(table, vt, SUBGRAPH_TENSORS, 4, where + ".tensors");
        int count = len(tensors);
        for (int i = 0; i < count; i++) {
            tensor(element(tensors, i, where + ".tensors"), where + ".tensors[" + i + "]", bufferSizes);
        }
        indices(table, vt, SUBGRAPH_INPUTS, count, false, where + ".inputs");
        indices(table, vt, SUBGRAPH_OUTPUTS, count, false, where + ".outputs");
        int[] operators = vector(table, vt, SUBGRAPH_OPERATORS, 4, where + ".operators");
        for (int i = 0; i < len(operators); i++) {
            String op = where + ".operators[" + i + "]";
            int o = element(operators, i, op);
            int ovt = vtable(o, op);
            index(int32(o, ovt, OPERATOR_OPCODE_INDEX, 0), opcodeCount, op + ".opcode_index");
            indices(o, ovt, OPERATOR_INPUTS, count, true, op + ".inputs"); // -1: an omitted optional input
            indices(o, ovt, OPERATOR_OUTPUTS, count, false, op + ".outputs");
            if (field(o, ovt, OPERATOR_BUILTIN_OPTIONS) != 0) {
                vtable(ref(o + field(o, ovt, OPERATOR_BUILTIN_OPTIONS), op + ".builtin_options"),
                        op + ".builtin_options");
            }
        }
        return count;
    }

    private void tensor(int table, String where, int[] bufferSizes) {
        int vt = vtable(table, where);
        String name = string(table, vt, TENSOR_NAME, where + ".name");
        String tensor = name == null ? where : where + " '" + name + "'";
        int[] shape = vector(table, vt, TENSOR_SHAPE, 4, tensor + ".shape");
        require(len(shape) <= MAX_RANK, tensor + " has rank " + len(shape) + " (at most " + MAX_RANK + ")");
        long elements = 1;
        for (int i = 0; i < len(shape); i++) {
            int d = bb.getInt(shape[0] + 4 * i);
            require(d >= 0, tensor + " has dimension " + d + " in its shape");
            elements = elements > Long.MAX_VALUE / Math.max(d, 1) ? Long.MAX_VALUE : elements * d;
        }
        int[] signature = vector(table, vt, TENSOR_SHAPE_SIGNATURE, 4, tensor + ".shape_signature");
        if (signature != null) { // the shape with -1 where a dimension is open
            require(len(signature) == len(shape), tensor + " has a shape_signature of rank " + len(signature)
                    + " for a shape of rank " + len(shape));
            for (int i = 0; i < len(signature); i++) {
                int d = bb.getInt(signature[0] + 4 * i);
                require(d >= -1, tensor + " has dimension " + d + " in its shape_signature");
            }
        }
        int buffer = int32(table, vt, TENSOR_BUFFER, 0);
        index(buffer, bufferSizes.length, tensor + ".buffer");
        int typeSize = typeSize(int8(table, vt, TENSOR_TYPE));
        int bytes = bufferSizes[buffer];
        if (bytes > 0 && typeSize > 0) {
            require(elements <= Long.MAX_VALUE / typeSize && elements * typeSize == bytes, tensor + " holds "
                    + bytes + " bytes of data for a shape of " + elements + " elements of " + typeSize + " bytes");
        }
        int q = field(table, vt, TENSOR_QUANTIZATION);
        if (q != 0) {
            int qt = ref(table + q, tensor + ".quantization");
            int qvt = vtable(qt, tensor + ".quantization");
            int scales = len(vector(qt, qvt, QUANT_SCALE, 4, tensor + ".quantization.scale"));
            int zeros = len(vector(qt, qvt, QUANT_ZERO_POINT, 8, tensor + ".quantization.zero_point"));
            vector(qt, qvt, QUANT_MIN, 4, tensor + ".quantization.min");
            vector(qt, qvt, QUANT_MAX, 4, tensor + ".quantization.max");
            if (scales > 1) { // per channel: one scale per slice of the quantized dimension
                int dim = int32(qt, qvt, QUANT_QUANTIZED_DIMENSION, 0);
                index(dim, len(shape), tensor + ".quantization.quantized_dimension");
                require(bb.getInt(shape[0] + 4 * dim) == scales && (zeros == 0 || zeros == scales), tensor
                        + " has " + scales + " scales and " + zeros + " zero points for dimension " + dim
                        + " of size " + bb.getInt(shape[0] + 4 * dim));
            }
        }
    }

    private void signature(int table, int i, int[] tensorCounts) {
        String where = "signature_defs[" + i + "]";
        int vt = vtable(table, where);
        string(table, vt, SIGNATURE_KEY, where + ".signature_key");
        int subgraph = int32(table, vt, SIGNATURE_SUBGRAPH_INDEX, 0);
        index(subgraph, tensorCounts.length, where + ".subgraph_index");
        for (int slot : new int[] {SIGNATURE_INPUTS, SIGNATURE_OUTPUTS}) {
            String list = where + (slot == SIGNATURE_INPUTS ? ".inputs" : ".outputs");
            int[] maps = vector(table, vt, slot, 4, list);
            for (int m = 0; m < len(maps); m++) {
                String map = list + "[" + m + "]";
                int t = element(maps, m, map);
                int tvt = vtable(t, map);
                string(t, tvt, TENSORMAP_NAME, map + ".name");
                index(int32(t, tvt, TENSORMAP_TENSOR_INDEX, 0), tensorCounts[subgraph], map + ".tensor_index");
            }
        }
    }

    /** Bytes per element of a TensorType, 0 where unknown or variable (string). */
    private static int typeSize(byte type) {
        return switch (type) {
            case FLOAT32, INT32 -> 4;
            case FLOAT16, INT16 -> 2;
            case UINT8, BOOL, INT8 -> 1;
            case INT64 -> 8;
            default -> 0;
        };
    }

    // ---- bounds-checked FlatBuffer access ----

    /** The position of the table whose vtable is checked; returns the vtable's position. */
    private int vtable(int table, String what) {
        inside(table, 4, what);
        long vt = (long) table - bb.getInt(table);
        require(vt >= 0 && vt <= bb.limit() - 4, what + ": vtable offset out of the file");
        int size = Short.toUnsignedInt(bb.getShort((int) vt));
        int objectSize = Short.toUnsignedInt(bb.getShort((int) vt + 2));
        require(size >= 4 && size % 2 == 0 && vt + size <= bb.limit(), what + ": bad vtable size " + size);
        require(objectSize >= 4 && (long) table + objectSize <= bb.limit(), what + ": table of " + objectSize
                + " bytes runs past the end of the file");
        for (int f = 4; f < size; f += 2) {
            int off = Short.toUnsignedInt(bb.getShort((int) vt + f));
            require(off == 0 || (off >= 4 && off < objectSize), what + ": field " + (f - 4) / 2
                    + " lies outside its table");
        }
        return (int) vt;
    }

    /** The field's offset inside its table, 0 when absent. */
    private int field(int table, int vt, int slot) {
        int size = Short.toUnsignedInt(bb.getShort(vt));
        int at = 4 + 2 * slot;
        return at + 2 > size ? 0 : Short.toUnsignedInt(bb.getShort(vt + at));
    }

    private int int32(int table, int vt, int slot, int orElse) {
        int f = field(table, vt, slot);
        if (f == 0) {
            return orElse;
        }
        inside(table + f, 4, "a field");
        return bb.getInt(table + f);
    }

    private long int64(int table, int vt, int slot) {
        int f = field(table, vt, slot);
        if (f == 0) {
            return 0;
        }
        inside(table + f, 8, "a field");
        return bb.getLong(table + f);
    }

    private byte int8(int table, int vt, int slot) {
        int f = field(table, vt, slot);
        return f == 0 ? 0 : bb.get(table + f);
    }

    /** Follows the unsigned 32-bit offset stored at {@code at}; returns the position it points to. */
    private int ref(int at, String what) {
        inside(at, 4, what);
        long target = at + Integer.toUnsignedLong(bb.getInt(at));
        require(target < bb.limit(), what + ": offset " + target + " past the end of the file (" + bb.limit()
                + " bytes)");
        return (int) target;
    }

    /** A vector field: {start of its elements, length}, checked to lie in the file; null when absent. */
    private int[] vector(int table, int vt, int slot, int elementSize, String what) {
        int f = field(table, vt, slot);
        if (f == 0) {
            return null;
        }
        int v = ref(table + f, what);
        inside(v, 4, what);
        long n = Integer.toUnsignedLong(bb.getInt(v));
        require(n * elementSize <= bb.limit() - (v + 4L), what + ": " + n + " elements run past the end of the file");
        return new int[] {v + 4, (int) n};
    }

    private static int len(int[] vector) {
        return vector == null ? 0 : vector[1];
    }

    /** The table at element {@code i} of a vector of tables. */
    private int element(int[] vector, int i, String what) {
        return ref(vector[0] + 4 * i, what + "[" + i + "]");
    }

    private String string(int table, int vt, int slot, String what) {
        int[] s = vector(table, vt, slot, 1, what);
        if (s == null) {
            return null;
        }
        require(s[0] + s[1] < bb.limit() && bb.get(s[0] + s[1]) == 0, what + ": string without its terminating zero");
        byte[] b = new byte[Math.min(s[1], 200)];
        bb.get(s[0], b);
        return new String(b, java.nio.charset.StandardCharsets.UTF_8);
    }

    /** Every element of an int vector is an index below {@code count} (or -1 where {@code optional}). */
    private void indices(int table, int vt, int slot, int count, boolean optional, String what) {
        int[] v = vector(table, vt, slot, 4, what);
        for (int i = 0; i < len(v); i++) {
            int x = bb.getInt(v[0] + 4 * i);
            if (!(optional && x == -1)) {
                index(x, count, what + "[" + i + "]");
            }
        }
    }

    private void index(int i, int count, String what) {
        require(i >= 0 && i < count, what + " is " + i + ", not an index below " + count);
    }

    private void inside(long at, int bytes, String what) {
        require(at >= 0 && at + bytes <= bb.limit(), what + ": position " + at + " past the end of the file ("
                + bb.limit() + " bytes)");
    }

    private void require(boolean ok, String problem) {
        if (!ok) {
            throw KilnException.invalidModel("TFLite model " + source + ": " + problem);
        }
    }
}
