package dev.kiln.sparse;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.AtomicFiles;
import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.kernels.AxisView;
import dev.kiln.kernels.BsrMatrix;
import dev.kiln.kernels.CsrMatrix;
import dev.kiln.kernels.KernelBackends;
import dev.kiln.kernels.Kernels;
import dev.kiln.kernels.Packed24;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.Channels;
import java.nio.channels.WritableByteChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * Packed sparse weights of pruned layers in one file, {@code weights.kpack}: per layer the best packed form for its
 * pattern — the 2:4 compressed form ({@link Packed24}) for a layer that satisfies 2:4, BSR for block patterns, CSR
 * otherwise — and enough metadata to give back the dense weight bit for bit.
 *
 * <h2>Byte layout (version 1; all numbers little-endian)</h2>
 * <pre>
 * offset 0   8 bytes   magic, ASCII "KILNPACK"
 * offset 8   int32     version (1)
 * offset 12  int32     T, the length in bytes of the table of contents
 * offset 16  T bytes   table of contents: UTF-8 JSON, padded with spaces so that 16 + T is a multiple of 8
 * offset 16 + T        data: the arrays, each starting at a multiple of 8 bytes from the data start
 * </pre>
 * The table of contents is {@code {"version": 1, "layers": [ ... ]}}, one object per layer with: {@code name} (the
 * layer node), {@code op}, {@code weight} (its weight Const), {@code shape} (the dense TensorFlow shape),
 * {@code axis} (the input-channel axis), {@code pattern} (as pruned: "2:4", "block4x4", "unstructured"),
 * {@code format} ("2:4", "bsr" or "csr"), {@code rows} and {@code cols} (the packed matrix), {@code blockRows} and
 * {@code blockCols} (BSR; 0 otherwise), {@code denseBytes}, {@code packedBytes} (the sum of its arrays' bytes) and
 * {@code arrays}: {@code name}, {@code dtype} ("float32", "int32", "int64" or "uint8"), {@code offset} (bytes from the
 * data start) and {@code count} (elements). The arrays of each format:
 * <ul>
 *   <li>{@code csr}: {@code rowPtr} int64[rows + 1], {@code colIdx} int32[nnz], {@code values} float32[nnz] of the
 *       row-major {@code [rows, cols]} view of the dense weight;</li>
 *   <li>{@code bsr}: {@code blockRowPtr} int64[rows / blockRows + 1], {@code blockCol} int32[nbBlocks],
 *       {@code values} float32[nbBlocks * blockRows * blockCols] (blocks row-major, each block row-major);</li>
 *   <li>{@code 2:4}: {@code values} float32[rows * cols / 2] and {@code meta} uint8[rows * ceil(cols / 8)] as in
 *       {@link Packed24}, of the weight with its input-channel axis moved last (rows = the other axes in order,
 *       cols = input channels).</li>
 * </ul>
 * The {@code [rows, cols]} view of CSR and BSR is {@code [H * W, C * M]} for DepthwiseConv2dNative and
 * {@code [size / last dim, last dim]} otherwise, so that k x k blocks of the pruner's GEMM view stay k x k blocks.
 */
public final class PackedWeights {
    /** The file name that jobs write. */
    public static final String FILE_NAME = "weights.kpack";
    /** The first 8 bytes of the file. */
    public static final byte[] MAGIC = "KILNPACK".getBytes(StandardCharsets.US_ASCII);
    public static final int VERSION = 1;
    static final int HEADER_BYTES = 16;

    private static final ObjectMapper JSON = new ObjectMapper()
            .configure(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES, false);

    private PackedWeights() {
    }

    /** The packed forms. */
    public enum Format {
        NM24("2:4"), BSR("bsr"), CSR("csr");

        private final String label;

        Format(String label) {
            this.label = label;
        }

        /** The name in the table of contents. */
        public String label() {
            return label;
        }

        static Format of(String label) {
            for (Format f : values()) {
                if (f.label.equals(label)) {
                    return f;
                }
            }
            throw new IllegalArgumentException("unknown format '" + label + "'");
        }
    }

    /**
     * One packed layer. {@code packed} is a {@link Packed24}, {@link BsrMatrix} or {@link CsrMatrix} by
     * {@code format}; its arrays are shared, do not modify them.
     */
    public record Layer(String name, String op, String weight, long[] shape, int axis, String pattern, Format format,
                        Object packed) {
        public Layer {
            KilnArgumentException.check(name != null && op != null && weight != null && pattern != null,
                    "name, op, weight and pattern must not be null");
            KilnArgumentException.check(shape != null && format != null && packed != null,
                    "shape, format and packed must not be null");
            shape = shape.clone();
            Class<?> want = switch (format) {
                case NM24 -> Packed24.class;
                case BSR -> BsrMatrix.class;
                case CSR -> CsrMatrix.class;
            };
            KilnArgumentException.check(want.isInstance(packed), format.label() + " needs a " + want.getSimpleName());
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        /** Elements of the dense weight. */
        public long size() {
            return Arrays.stream(shape).reduce(1, Math::multiplyExact);
        }

        /** Bytes of the dense float32 weight. */
        public long denseBytes() {
            return 4 * size();
        }

        /** Bytes of the packed arrays. */
        public long packedBytes() {
            return switch (format) {
                case NM24 -> 4L * ((Packed24) packed).values().length + ((Packed24) packed).meta().length;
                case BSR -> 8L * ((BsrMatrix) packed).blockRowPtr().length + 4L * ((BsrMatrix) packed).nbBlocks()
                        + 4L * ((BsrMatrix) packed).values().length;
                case CSR -> 8L * ((CsrMatrix) packed).rowPtr().length + 8L * ((CsrMatrix) packed).nnz();
            };
        }

        /** The dense weight in its TensorFlow layout, bit for bit what was packed. */
        public float[] unpack() {
            return unpack(KernelBackends.get("java"));
        }

        /** The same on the given kernels. */
        public float[] unpack(Kernels k) {
            return switch (format) {
                case CSR -> k.unpackCsr((CsrMatrix) packed);
                case BSR -> k.unpackBsr((BsrMatrix) packed);
                case NM24 -> Sparsity.inputAxisBack(k.unpack24((Packed24) packed), AxisView.of(shape, axis));
            };
        }
    }

    // ---- packing ----

    /**
     * Packs one dense weight in the best form for its pattern: 2:4 when {@code pattern} is "2:4" and the weight
     * satisfies it along {@code axis}, BSR for "block&lt;k&gt;x&lt;k&gt;" when the matrix view divides into blocks,
     * CSR otherwise.
     */
    public static Layer pack(String name, String op, String weight, long[] shape, int axis, String pattern,
                             float[] dense, Kernels k) {
        KilnArgumentException.check(dense != null, "dense must not be null");
        AxisView v = AxisView.of(shape, axis);
        KilnArgumentException.check(dense.length == v.size(), "dense length " + dense.length
                + " does not match shape " + Arrays.toString(shape));
        if (pattern.equals("2:4") && v.channels() % 4 == 0 && k.checkNM(dense, v, 2, 4, 0).nbBad() == 0) {
            Packed24 p = k.pack24(Sparsity.inputAxisLast(dense, v), (int) (v.outer() * v.inner()), (int) v.channels());
            return new Layer(name, op, weight, shape, axis, pattern, Format.NM24, p);
        }
        int[] rc = matrixView(op, shape);
        if (pattern.startsWith("block")) {
            int b = Integer.parseInt(pattern.substring("block".length(), pattern.indexOf('x')));
            if (rc[0] % b == 0 && rc[1] % b == 0) {
                return new Layer(name, op, weight, shape, axis, pattern, Format.BSR,
                        k.packBsr(dense, rc[0], rc[1], b, b));
            }
        }
        return new Layer(name, op, weight, shape, axis, pattern, Format.CSR, k.packCsr(dense, rc[0], rc[1]));
    }

    /** The {@code [rows, cols]} view of CSR and BSR (see the class comment). */
    static int[] matrixView(String op, long[] shape) {
        long size = Arrays.stream(shape).reduce(1, Math::multiplyExact);
        if (op.equals("DepthwiseConv2dNative") && shape.length == 4) {
            return new int[] {(int) (shape[0] * shape[1]), (int) (shape[2] * shape[3])};
        }
        long last = shape[shape.length - 1];
        return new int[] {(int) (size / last), (int) last};
    }

    /** Packs every layer of a pruning report from the pruned graph (the Consts the report names). */
    public static List<Layer> fromGraph(Graph g, PruningReport report, Kernels k) {
        List<Layer> out = new ArrayList<>();
        for (PruningReport.Layer l : report.layers()) {
            Tensor w = g.constantValue(TensorRef.of(l.weight(), 0));
            KilnArgumentException.check(w != null, "no Const '" + l.weight() + "' in the graph");
            Node n = g.node(l.name());
            out.add(pack(l.name(), l.op(), l.weight(), l.shape(), SparsityCheck.inputAxis(n), l.pattern(), w.floats(),
                    k));
        }
        return out;
    }

    // ---- the file ----

    /** One array of the table of contents. */
    record ArrayEntry(String name, String dtype, long offset, long count) { }

    /** One layer of the table of contents. */
    record Entry(String name, String op, String weight, long[] shape, int axis, String pattern, String format,
                 int rows, int cols, int blockRows, int blockCols, long denseBytes, long packedBytes,
                 List<ArrayEntry> arrays) { }

    /** The table of contents. */
    record Toc(int version, List<Entry> layers) { }

    /** Writes {@code layers} to {@code file} atomically (a temporary sibling, then a rename). */
    public static void write(Path file, List<Layer> layers) {
        KilnArgumentException.check(file != null && layers != null, "file and layers must not be null");
        List<Entry> entries = new ArrayList<>();
        List<ByteBuffer> data = new ArrayList<>();
        long at = 0;
        for (Layer l : layers) {
            List<ArrayEntry> arrays = new ArrayList<>();
            List<ByteBuffer> bufs = arrays(l);
            List<String> names = arrayNames(l.format());
            long packed = 0;
            for (int i = 0; i < bufs.size(); i++) {
                ByteBuffer b = bufs.get(i);
                String dtype = dtypes(l.format()).get(i);
                arrays.add(new ArrayEntry(names.get(i), dtype, at, b.limit() / width(dtype)));
                data.add(b);
                packed += b.limit();
                at = align8(at + b.limit());
            }
            int[] rc = rowsCols(l);
            int br = l.packed() instanceof BsrMatrix m ? m.blockRows() : 0;
            int bc = l.packed() instanceof BsrMatrix m ? m.blockCols() : 0;
            entries.add(new Entry(l.name(), l.op(), l.weight(), l.shape(), l.axis(), l.pattern(), l.format().label(),
                    rc[0], rc[1], br, bc, l.denseBytes(), packed, arrays));
        }
        byte[] toc;
        try {
            toc = JSON.writeValueAsBytes(new Toc(VERSION, entries));
        } catch (JsonProcessingException e) {
            throw KilnException.internal("cannot write the table of contents of " + file + ": " + e.getMessage(), e);
        }
        int tocLen = (int) align8(HEADER_BYTES + toc.length) - HEADER_BYTES;
        AtomicFiles.write(file, out -> {
            WritableByteChannel ch = Channels.newChannel(out);
            ByteBuffer head = ByteBuffer.allocate(HEADER_BYTES + tocLen).order(ByteOrder.LITTLE_ENDIAN);
            head.put(MAGIC).putInt(VERSION).putInt(tocLen).put(toc);
            while (head.hasRemaining()) {
                head.put((byte) ' ');
            }
            writeFully(ch, head.flip());
            long pos = 0;
            for (ByteBuffer b : data) {
                pos += writeFully(ch, b.duplicate());
                long pad = align8(pos) - pos;
                pos += writeFully(ch, ByteBuffer.allocate((int) pad));
            }
        });
    }

    private static long writeFully(WritableByteChannel ch, ByteBuffer b) throws IOException {
        long n = b.remaining();
        while (b.hasRemaining()) {
            ch.write(b);
        }
        return n;
    }

    /** Reads every layer of a {@code .kpack} file. A corrupt or truncated file is a {@link KilnException}. */
    public static List<Layer> read(Path file) {
        KilnArgumentException.check(file != null, "file must not be null");
        byte[] all;
        try {
            all = Files.readAllBytes(file);
        } catch (IOException e) {
            throw KilnException.io("cannot read " + file + ": " + e.getMessage(), e);
        }
        ByteBuffer buf = ByteBuffer.wrap(all).order(ByteOrder.LITTLE_ENDIAN);
        check(file, all.length >= HEADER_BYTES, "truncated: " + all.length + " bytes, shorter than the header");
        check(file, Arrays.equals(Arrays.copyOf(all, MAGIC.length), MAGIC), "no KILNPACK magic at offset 0");
        int version = buf.getInt(8);
        check(file, version == VERSION, "version " + version + ", this reader knows " + VERSION);
        int tocLen = buf.getInt(12);
        check(file, tocLen >= 0 && (long) HEADER_BYTES + tocLen <= all.length,
                "truncated: the table of contents needs " + tocLen + " bytes after the header, the file has "
                        + (all.length - HEADER_BYTES));
        Toc toc;
        try {
            toc = JSON.readValue(all, HEADER_BYTES, tocLen, Toc.class);
        } catch (IOException e) {
            throw KilnException.invalidModel(file + ": corrupt table of contents: " + e.getMessage(), e);
        }
        check(file, toc.layers() != null, "the table of contents has no layers");
        long dataStart = HEADER_BYTES + tocLen;
        List<Layer> out = new ArrayList<>();
        for (Entry e : toc.layers()) {
            try {
                out.add(layer(e, buf, dataStart, all.length));
            } catch (KilnArgumentException | IllegalArgumentException | NullPointerException
                     | IndexOutOfBoundsException | ArithmeticException x) {
                throw KilnException.invalidModel(file + ": layer '" + e.name() + "': " + x.getMessage(), x);
            }
        }
        return out;
    }

    private static Layer layer(Entry e, ByteBuffer buf, long dataStart, long fileLen) {
        Format f = Format.of(e.format());
        List<String> names = arrayNames(f);
        KilnArgumentException.check(e.arrays() != null && e.arrays().size() == names.size(),
                "format " + f.label() + " needs arrays " + names);
        ByteBuffer[] a = new ByteBuffer[names.size()];
        for (int i = 0; i < a.length; i++) {
            ArrayEntry ae = e.arrays().get(i);
            String dtype = dtypes(f).get(i);
            KilnArgumentException.check(names.get(i).equals(ae.name()) && dtype.equals(ae.dtype()),
                    "array " + i + " must be " + names.get(i) + " " + dtype + ", got " + ae.name() + " " + ae.dtype());
            long bytes = Math.multiplyExact(ae.count(), width(dtype));
            long start = dataStart + ae.offset();
            KilnArgumentException.check(ae.offset() >= 0 && ae.count() >= 0 && start + bytes <= fileLen,
                    "truncated: array " + ae.name() + " needs bytes " + start + ".." + (start + bytes)
                            + ", the file has " + fileLen);
            a[i] = buf.slice((int) start, (int) bytes).order(ByteOrder.LITTLE_ENDIAN);
        }
        Object packed = switch (f) {
            case NM24 -> new Packed24(e.rows(), e.cols(), floats(a[0]), bytes(a[1]));
            case BSR -> new BsrMatrix(e.rows(), e.cols(), e.blockRows(), e.blockCols(), longs(a[0]), ints(a[1]),
                    floats(a[2]));
            case CSR -> new CsrMatrix(e.rows(), e.cols(), longs(a[0]), ints(a[1]), floats(a[2]));
        };
        Layer l = new Layer(e.name(), e.op(), e.weight(), e.shape(), e.axis(), e.pattern(), f, packed);
        int[] rc = rowsCols(l);
        KilnArgumentException.check((long) rc[0] * rc[1] == l.size(), "the packed matrix " + rc[0] + " x " + rc[1]
                + " does not hold shape " + Arrays.toString(e.shape()));
        return l;
    }

    private static void check(Path file, boolean ok, String what) {
        if (!ok) {
            throw KilnException.invalidModel(file + ": " + what);
        }
    }

    // ---- arrays of each format, in file order ----

    private static List<String> arrayNames(Format f) {
        return switch (f) {
            case NM24 -> List.of("values", "meta");
            case BSR -> List.of("blockRowPtr", "blockCol", "values");
            case CSR -> List.of("rowPtr", "colIdx", "values");
        };
    }

    private static List<String> dtypes(Format f) {
        return switch (f) {
            case NM24 -> List.of("float32", "uint8");
            case BSR, CSR -> List.of("int64", "int32", "float32");
        };
    }

    private static int width(String dtype) {
        return switch (dtype) {
            case "float32", "int32" -> 4;
            case "int64" -> 8;
            default -> 1;
        };
    }

    private static int[] rowsCols(Layer l) {
        return switch (l.format()) {
            case NM24 -> new int[] {((Packed24) l.packed()).rows(), ((Packed24) l.packed()).cols()};
            case BSR -> new int[] {((BsrMatrix) l.packed()).rows(), ((BsrMatrix) l.packed()).cols()};
            case CSR -> new int[] {((CsrMatrix) l.packed()).rows(), ((CsrMatrix) l.packed()).cols()};
        };
    }

    /** The little-endian bytes of a layer's arrays, in file order. */
    private static List<ByteBuffer> arrays(Layer l) {
        return switch (l.format()) {
            case NM24 -> List.of(le(((Packed24) l.packed()).values()), ByteBuffer.wrap(((Packed24) l.packed()).meta()));
            case BSR -> {
                BsrMatrix m = (BsrMatrix) l.packed();
                yield List.of(le(m.blockRowPtr()), le(m.blockCol()), le(m.values()));
            }
            case CSR -> {
                CsrMatrix m = (CsrMatrix) l.packed();
                yield List.of(le(m.rowPtr()), le(m.colIdx()), le(m.values()));
            }
        };
    }

    private static ByteBuffer le(float[] a) {
        ByteBuffer b = ByteBuffer.allocate(4 * a.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asFloatBuffer().put(a);
        return b;
    }

    private static ByteBuffer le(int[] a) {
        ByteBuffer b = ByteBuffer.allocate(4 * a.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asIntBuffer().put(a);
        return b;
    }

    private static ByteBuffer le(long[] a) {
        ByteBuffer b = ByteBuffer.allocate(8 * a.length).order(ByteOrder.LITTLE_ENDIAN);
        b.asLongBuffer().put(a);
        return b;
    }

    private static float[] floats(ByteBuffer b) {
        float[] a = new float[b.limit() / 4];
        b.asFloatBuffer().get(a);
        return a;
    }

    private static int[] ints(ByteBuffer b) {
        int[] a = new int[b.limit() / 4];
        b.asIntBuffer().get(a);
        return a;
    }

    private static long[] longs(ByteBuffer b) {
        long[] a = new long[b.limit() / 8];
        b.asLongBuffer().get(a);
        return a;
    }

    private static byte[] bytes(ByteBuffer b) {
        byte[] a = new byte[b.limit()];
        b.get(a);
        return a;
    }

    private static long align8(long n) {
        return (n + 7) & ~7L;
    }
}
