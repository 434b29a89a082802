package dev.kiln.tflite;

import com.google.flatbuffers.Table;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A schema-free reader of FlatBuffer tables by field slot, to check what Kiln's builder wrote against the schema's
 * field ids independently of the interpreter (which ignores, say, metadata).
 */
final class FlatBufferReader extends Table {
    private FlatBufferReader(ByteBuffer bb, int pos) {
        __reset(pos, bb);
    }

    static FlatBufferReader root(byte[] file) {
        ByteBuffer bb = ByteBuffer.wrap(file).order(ByteOrder.LITTLE_ENDIAN);
        return new FlatBufferReader(bb, bb.getInt(0));
    }

    boolean has(int slot) {
        return __offset(4 + 2 * slot) != 0;
    }

    int int32(int slot, int orElse) {
        int o = __offset(4 + 2 * slot);
        return o == 0 ? orElse : bb.getInt(o + bb_pos);
    }

    byte int8(int slot, byte orElse) {
        int o = __offset(4 + 2 * slot);
        return o == 0 ? orElse : bb.get(o + bb_pos);
    }

    String string(int slot) {
        int o = __offset(4 + 2 * slot);
        return o == 0 ? null : __string(o + bb_pos);
    }

    int length(int slot) {
        int o = __offset(4 + 2 * slot);
        return o == 0 ? 0 : __vector_len(o);
    }

    FlatBufferReader table(int slot) {
        int o = __offset(4 + 2 * slot);
        return o == 0 ? null : new FlatBufferReader(bb, __indirect(o + bb_pos));
    }

    FlatBufferReader table(int slot, int i) {
        int o = __offset(4 + 2 * slot);
        return new FlatBufferReader(bb, __indirect(__vector(o) + 4 * i));
    }

    int[] ints(int slot) {
        int o = __offset(4 + 2 * slot);
        int[] v = new int[o == 0 ? 0 : __vector_len(o)];
        for (int i = 0; i < v.length; i++) {
            v[i] = bb.getInt(__vector(o) + 4 * i);
        }
        return v;
    }

    float[] floats(int slot) {
        int o = __offset(4 + 2 * slot);
        float[] v = new float[o == 0 ? 0 : __vector_len(o)];
        for (int i = 0; i < v.length; i++) {
            v[i] = bb.getFloat(__vector(o) + 4 * i);
        }
        return v;
    }

    long[] longs(int slot) {
        int o = __offset(4 + 2 * slot);
        long[] v = new long[o == 0 ? 0 : __vector_len(o)];
        for (int i = 0; i < v.length; i++) {
            v[i] = bb.getLong(__vector(o) + 8 * i);
        }
        return v;
    }

    /** Absolute position of a byte vector's first element (for alignment checks) and its length. */
    int[] vectorPosition(int slot) {
        int o = __offset(4 + 2 * slot);
        return o == 0 ? null : new int[] {__vector(o), __vector_len(o)};
    }

    byte[] bytes(int slot) {
        int[] p = vectorPosition(slot);
        byte[] out = new byte[p == null ? 0 : p[1]];
        for (int i = 0; i < out.length; i++) {
            out[i] = bb.get(p[0] + i);
        }
        return out;
    }
}
