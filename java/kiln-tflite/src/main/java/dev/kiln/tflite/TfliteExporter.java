package dev.kiln.tflite;

import dev.kiln.AtomicFiles;
import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;
import dev.kiln.calib.CalibrationTable;
import dev.kiln.graph.Graph;

import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * Writes a Kiln {@link Graph} as a TensorFlow Lite FlatBuffer: FP32, FP16, dynamic range or full INT8, like
 * TensorFlow's converter ({@code TFLiteConverter.from_saved_model} with {@code optimizations},
 * {@code supported_types=[tf.float16]}, {@code representative_dataset} and int8 {@code inference_input_type}).
 *
 * <pre>{@code
 * TfliteExporter.builder().precision(TflitePrecision.INT8).table(table).int8IO(true).build()
 *         .export(graph, Path.of("model.tflite"));
 * }</pre>
 *
 * Immutable and thread-safe. Every op without a mapping is reported in one error naming op and node before anything is
 * written; the model is built in memory and written atomically (temporary file + rename).
 */
public final class TfliteExporter {
    private final TflitePrecision precision;
    private final boolean int8IO;
    private final CalibrationTable table;

    private TfliteExporter(Builder b) {
        this.precision = b.precision;
        this.int8IO = b.int8IO;
        this.table = b.table;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** FP32. */
    public static TfliteExporter fp32() {
        return builder().build();
    }

    public TflitePrecision precision() {
        return precision;
    }

    /** INT8 only: int8 graph inputs and outputs instead of float32 ones with QUANTIZE / DEQUANTIZE at the edges. */
    public boolean int8IO() {
        return int8IO;
    }

    /** INT8 only: the activation ranges; null for the other precisions. */
    public CalibrationTable table() {
        return table;
    }

    /** The .tflite bytes for {@code g} (the graph is not changed). */
    public byte[] toBytes(Graph g) {
        return new TfliteEmitter(this, g).emit().build();
    }

    /** Converts {@code g} and writes it to {@code out} atomically, making its directory if needed. */
    public TfliteExportResult export(Graph g, Path out) {
        long t0 = System.nanoTime();
        Path abs = out.toAbsolutePath();
        // a missing directory is made by the atomic write (AtomicFiles), as for every other output
        if (Files.isDirectory(abs)) {
            throw KilnException.io("cannot write TFLite to " + out + ": it is a directory", null);
        }
        TfliteModelBuilder mb = new TfliteEmitter(this, g).emit();
        byte[] bytes = mb.build();
        AtomicFiles.write(abs, bytes);
        Map<String, Integer> ops = new TreeMap<>();
        mb.operatorHistogram().forEach((code, count) -> ops.put(operatorName(code), count));
        return new TfliteExportResult(abs, bytes.length, precision, int8IO, mb.operatorCount(), mb.tensorCount(), ops,
                (System.nanoTime() - t0) / 1_000_000);
    }

    private static final Map<Integer, String> OPERATOR_NAMES = new HashMap<>();

    static {
        // the builtin operator constants of TfliteSchema by value: ints whose names are all capitals
        for (Field f : TfliteSchema.class.getDeclaredFields()) {
            if (Modifier.isStatic(f.getModifiers()) && f.getType() == int.class && f.getName().equals(
                    f.getName().toUpperCase()) && !f.getName().contains("FIELDS") && !f.getName().startsWith("PLACE")
                    && !f.getName().startsWith("SCHEMA") && !f.getName().contains("_FIELD") && isOperator(f)) {
                try {
                    OPERATOR_NAMES.putIfAbsent(f.getInt(null), f.getName());
                } catch (IllegalAccessException e) {
                    throw new IllegalStateException(e);
                }
            }
        }
    }

    /** Operator constants are declared between ADD and PLACEHOLDER_FOR_GREATER_OP_CODES. */
    private static boolean isOperator(Field f) {
        String[] tablePrefixes = {"MODEL_", "OPCODE_", "SUBGRAPH_", "TENSOR_", "QUANT_", "OPERATOR_", "BUFFER_",
                "METADATA_", "TENSORMAP_", "SIGNATURE_"};
        for (String p : tablePrefixes) {
            if (f.getName().startsWith(p)) {
                return false;
            }
        }
        return true;
    }

    /** The schema name of a builtin operator code ("CONV_2D"). */
    static String operatorName(int code) {
        return OPERATOR_NAMES.getOrDefault(code, "BUILTIN_" + code);
    }

    @Override
    public String toString() {
        return "TfliteExporter[" + precision + (int8IO ? ", int8 I/O" : "") + "]";
    }

    /** Builds a {@link TfliteExporter}; defaults: FP32, float32 I/O. */
    public static final class Builder {
        private TflitePrecision precision = TflitePrecision.FP32;
        private boolean int8IO;
        private CalibrationTable table;

        private Builder() {
        }

        public Builder precision(TflitePrecision p) {
            KilnArgumentException.check(p != null, "precision must not be null");
            this.precision = p;
            return this;
        }

        /**
         * INT8 only (default false): int8 graph inputs and outputs, like the converter's
         * {@code inference_input_type = tf.int8}; each carries its scale and zero point in the file's quantization
         * parameters. Callers quantize with {@code q = round(x / scale) + zero_point}.
         */
        public Builder int8IO(boolean v) {
            this.int8IO = v;
            return this;
        }

        /**
         * INT8 only: the activation ranges, keyed by TF tensor name ({@link TfliteInt8Placement#tensors}): a
         * symmetric table gives int8 scale amax / 127 with zero point 0, an asymmetric (uint8) one its scale with
         * zero point - 128.
         */
        public Builder table(CalibrationTable t) {
            this.table = t;
            return this;
        }

        public TfliteExporter build() {
            KilnArgumentException.check(!int8IO || precision == TflitePrecision.INT8, "int8 I/O needs precision INT8 "
                    + "(integer inputs and outputs carry calibrated ranges), got " + precision);
            KilnArgumentException.check(precision != TflitePrecision.INT8 || table != null,
                    "precision INT8 needs a calibration table (activation ranges)");
            return new TfliteExporter(this);
        }
    }
}
