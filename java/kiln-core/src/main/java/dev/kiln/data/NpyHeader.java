package dev.kiln.data;

import dev.kiln.KilnException;
import dev.kiln.Limits;
import dev.kiln.graph.DType;
import dev.kiln.graph.Shape;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The header of a NumPy .npy array (format versions 1.0, 2.0 and 3.0): element type, shape, and where the data starts.
 * Only C-order, little-endian (or byte-sized) numeric arrays are accepted; everything else is rejected here, naming
 * the file, so that no reader ever sees bytes it would misinterpret.
 */
public record NpyHeader(DType dtype, Shape shape, int majorVersion, long dataOffset) {
    static final byte[] MAGIC = {(byte) 0x93, 'N', 'U', 'M', 'P', 'Y'};

    private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([^']*)'");
    private static final Pattern FORTRAN = Pattern.compile("'fortran_order'\\s*:\\s*(True|False)");
    private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");

    /** Samples along axis 0. */
    public long sampleCount() {
        return shape.dim(0);
    }

    /** The shape of one sample: the array's shape without axis 0. */
    public Shape sampleShape() {
        long[] d = shape.dims();
        return Shape.of(Arrays.copyOfRange(d, 1, d.length));
    }

    /** Bytes of one sample. */
    public long sampleBytes() {
        return sampleShape().numElements() * dtype.byteSize();
    }

    /** Bytes of all the data the header announces. */
    public long dataBytes() {
        return shape.numElements() * dtype.byteSize();
    }

    /** Reads and validates a header from the start of {@code in}; {@code source} names the file in messages. */
    public static NpyHeader read(InputStream in, String source) {
        try {
            DataInputStream d = new DataInputStream(in);
            byte[] magic = new byte[8];
            d.readFully(magic);
            if (!Arrays.equals(Arrays.copyOf(magic, 6), MAGIC)) {
                throw bad(source, "not a NumPy .npy file (no \\x93NUMPY magic)");
            }
            int major = magic[6] & 0xFF;
            long headerLen;
            int prefix;
            if (major == 1) {
                headerLen = (d.readUnsignedByte()) | (d.readUnsignedByte() << 8);
                prefix = 10;
            } else if (major == 2 || major == 3) {
                headerLen = (d.readUnsignedByte()) | (d.readUnsignedByte() << 8) | (d.readUnsignedByte() << 16)
                        | ((long) d.readUnsignedByte() << 24);
                prefix = 12;
            } else {
                throw bad(source, "unsupported .npy format version " + major + "." + (magic[7] & 0xFF)
                        + " (1.0, 2.0 and 3.0 are supported)");
            }
            if (headerLen > 1 << 20) {
                throw bad(source, "header length " + headerLen + " is implausible");
            }
            byte[] h = new byte[(int) headerLen];
            d.readFully(h);
            String dict = new String(h, major == 3 ? StandardCharsets.UTF_8 : StandardCharsets.ISO_8859_1);
            return parse(dict, source, major, prefix + headerLen);
        } catch (EOFException e) {
            throw bad(source, "truncated: the file ends inside the .npy header");
        } catch (IOException e) {
            throw KilnException.io("cannot read " + source + ": " + e.getMessage(), e);
        }
    }

    private static NpyHeader parse(String dict, String source, int major, long dataOffset) {
        Matcher fortran = FORTRAN.matcher(dict);
        Matcher shape = SHAPE.matcher(dict);
        Matcher descr = DESCR.matcher(dict);
        if (!fortran.find() || !shape.find()) {
            throw bad(source, "header " + dict.trim() + " lacks 'fortran_order' or 'shape'");
        }
        if (!descr.find()) {
            throw bad(source, "dtype in header " + dict.trim() + " is a structured dtype; only plain numeric arrays"
                    + " are supported");
        }
        if (fortran.group(1).equals("True")) {
            throw bad(source, "fortran_order=True (column-major) is not supported; save it C-ordered"
                    + " (numpy.ascontiguousarray)");
        }
        DType dtype = dtype(descr.group(1), source);
        String[] parts = shape.group(1).split(",");
        long[] dims = Arrays.stream(parts).map(String::trim).filter(s -> !s.isEmpty())
                .mapToLong(s -> parseDim(s, source)).toArray();
        if (dims.length == 0) {
            throw bad(source, "is a 0-d array (shape ()); representative data needs samples along axis 0");
        }
        Shape declared = Shape.of(dims);
        // sizes are checked before anything is allocated: the whole array may be larger than memory (it is
        // streamed), but its byte count must not overflow, and one sample must fit one tensor
        long total = 1;
        for (long d : dims) {
            total = Math.multiplyHigh(total, d) == 0 && total * d >= 0 ? total * d : -1;
            if (total < 0) {
                throw bad(source, "shape " + declared + " has more than 2^63 elements");
            }
        }
        if (Math.multiplyHigh(total, dtype.byteSize()) != 0 || total * dtype.byteSize() < 0) {
            throw bad(source, "shape " + declared + " of " + dtype + " is more than 2^63 bytes");
        }
        Limits.tensorBytes(source + ": one sample", Shape.of(Arrays.copyOfRange(dims, 1, dims.length)),
                dtype.byteSize());
        return new NpyHeader(dtype, declared, major, dataOffset);
    }

    private static long parseDim(String s, String source) {
        try {
            long v = Long.parseLong(s.endsWith("L") ? s.substring(0, s.length() - 1) : s);
            if (v < 0) {
                throw bad(source, "negative dimension " + v + " in the shape");
            }
            return v;
        } catch (NumberFormatException e) {
            throw bad(source, "bad dimension '" + s + "' in the shape");
        }
    }

    /** The Kiln type for a NumPy type string such as {@code <f4}; rejects big-endian and object types. */
    static DType dtype(String descr, String source) {
        if (descr.length() < 2) {
            throw bad(source, "unsupported dtype '" + descr + "'");
        }
        char order = descr.charAt(0);
        String kind = descr.substring(1);
        if (kind.startsWith("O")) {
            throw bad(source, "object dtype '" + descr + "' (pickled Python objects) is not supported");
        }
        if (order == '>' && !kind.endsWith("1")) {
            throw bad(source, "big-endian dtype '" + descr + "' is not supported; convert it with"
                    + " arr.astype(arr.dtype.newbyteorder('<'))");
        }
        if (order != '<' && order != '|' && order != '>') {
            throw bad(source, "dtype '" + descr + "' has no explicit byte order");
        }
        return switch (kind) {
            case "f4" -> DType.FLOAT;
            case "f2" -> DType.HALF;
            case "f8" -> DType.DOUBLE;
            case "u1" -> DType.UINT8;
            case "i1" -> DType.INT8;
            case "i4" -> DType.INT32;
            case "i8" -> DType.INT64;
            default -> throw bad(source, "unsupported dtype '" + descr + "' (supported: float32, float16, float64,"
                    + " uint8, int8, int32, int64)");
        };
    }

    /** NumPy's type string for a Kiln type (the inverse of {@link #dtype}). */
    static String descr(DType dtype) {
        return switch (dtype) {
            case FLOAT -> "<f4";
            case HALF -> "<f2";
            case DOUBLE -> "<f8";
            case UINT8 -> "|u1";
            case INT8 -> "|i1";
            case INT32 -> "<i4";
            case INT64 -> "<i8";
            default -> throw new dev.kiln.KilnArgumentException("no .npy dtype for " + dtype);
        };
    }

    /** A data file is a user's argument, so a bad one is an {@link dev.kiln.ErrorCode#INVALID_ARGUMENT}. */
    static KilnException bad(String source, String what) {
        return new dev.kiln.KilnArgumentException(source + ": " + what);
    }
}
