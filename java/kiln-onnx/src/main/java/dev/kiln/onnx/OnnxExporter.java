package dev.kiln.onnx;

import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;
import dev.kiln.calib.ThresholdMethod;
import dev.kiln.graph.Graph;
import dev.kiln.onnx.proto.Onnx.ModelProto;
import dev.kiln.onnx.proto.Onnx.NodeProto;
import dev.kiln.quant.WeightRanges;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * Writes a Kiln {@link Graph} as ONNX: FP32, FP16 or INT8 with explicit QuantizeLinear/DequantizeLinear.
 *
 * <pre>{@code
 * OnnxExporter.builder().opset(17).precision(Precision.FP16).build().export(graph, Path.of("model.onnx"));
 * }</pre>
 *
 * Immutable and thread-safe. Every op without a mapping (or needing a newer opset) is reported in one error naming
 * op and node before anything is written; the file is written to a temporary file beside the target and renamed.
 */
public final class OnnxExporter {
    private final int opset;
    private final Precision precision;
    private final Set<String> keepFloat32;
    private final boolean halfIO;
    private final boolean int8IO;
    private final Int8Target int8Target;
    private final Int8WeightRange int8WeightRange;
    private final ThresholdMethod int8WeightMethod;
    private final boolean externalData;

    private OnnxExporter(Builder b) {
        this.externalData = b.externalData;
        this.int8Target = b.int8Target;
        this.int8WeightRange = b.int8WeightRange != null ? b.int8WeightRange
                : b.precision == Precision.INT8 ? Int8WeightRange.defaultFor(b.int8Target) : Int8WeightRange.FULL;
        this.int8WeightMethod = b.int8WeightMethod;
        this.opset = b.opset;
        this.precision = b.precision;
        this.keepFloat32 = Set.copyOf(b.keepFloat32);
        this.halfIO = b.halfIO;
        this.int8IO = b.int8IO;
    }

    public static Builder builder() {
        return new Builder();
    }

    /** FP32 at the default opset. */
    public static OnnxExporter fp32() {
        return builder().build();
    }

    public int opset() {
        return opset;
    }

    public Precision precision() {
        return precision;
    }

    public Set<String> keepFloat32() {
        return keepFloat32;
    }

    public boolean halfIO() {
        return halfIO;
    }

    /** INT8 only: integer graph inputs and outputs (see {@link Builder#int8IO}). */
    public boolean int8IO() {
        return int8IO;
    }

    /** The runtime an INT8 export is laid out for (ignored by the other precisions). */
    public Int8Target int8Target() {
        return int8Target;
    }

    /**
     * The range of INT8 weight codes: by default {@link Int8WeightRange#REDUCED} for {@link Int8Target#ONNXRUNTIME}
     * (saturation-safe on every x86 CPU) and {@link Int8WeightRange#FULL} otherwise.
     */
    public Int8WeightRange int8WeightRange() {
        return int8WeightRange;
    }

    /** How each output channel's INT8 weight range (amax) is chosen; default max |w| ({@link WeightRanges}). */
    public ThresholdMethod int8WeightMethod() {
        return int8WeightMethod;
    }

    /** Whether the weights always go to a side file (they do anyway when they exceed protobuf's 2 GB limit). */
    public boolean externalData() {
        return externalData;
    }

    /** The ONNX model for {@code g} (the graph is not changed). */
    public ModelProto toModel(Graph g) {
        return new OnnxEmitter(this, g).emit();
    }

    /**
     * Converts and writes {@code g} to {@code out} atomically (temporary file + rename), making its directory if
     * needed. With {@link
     * Builder#externalData}, or when the weights would not fit protobuf's 2 GB limit, every initializer of 1 KB or
     * more goes to {@code out + ".data"} beside it (ONNX external data), which must travel with the model.
     */
    public ExportResult export(Graph g, Path out) {
        long t0 = System.nanoTime();
        ModelProto m = toModel(g);
        Path abs = out.toAbsolutePath();
        // a missing directory is made by the atomic write (AtomicFiles), as for every other output
        if (Files.isDirectory(abs)) {
            throw KilnException.io("cannot write ONNX to " + out + ": it is a directory", null);
        }
        Path data = null;
        if (externalData || OnnxFileWriter.exceedsOneFile(m, OnnxFileWriter.PROTOBUF_LIMIT)) {
            data = OnnxFileWriter.writeExternal(m, abs);
        } else {
            OnnxFileWriter.writeWhole(m, abs);
        }
        try {
            Map<String, Integer> ops = new TreeMap<>();
            int transposes = 0;
            for (NodeProto n : m.getGraph().getNodeList()) {
                ops.merge(n.getOpType(), 1, Integer::sum);
                if (n.getName().endsWith(OnnxEmitter.LAYOUT_SUFFIX)) {
                    transposes++;
                }
            }
            return new ExportResult(abs, Files.size(abs), opset, (int) m.getIrVersion(), precision,
                    m.getGraph().getNodeCount(), m.getGraph().getInitializerCount(), ops, transposes,
                    (System.nanoTime() - t0) / 1_000_000, Int8Saturation.check(m), data);
        } catch (IOException e) {
            throw KilnException.io("cannot write ONNX to " + out + ": " + e.getMessage(), e);
        }
    }

    @Override
    public String toString() {
        return "OnnxExporter[opset " + opset + ", " + precision + (halfIO ? ", half IO" : "")
                + (int8IO ? ", int8 IO" : "")
                + (precision == Precision.INT8 ? ", for " + int8Target + ", " + int8WeightRange + " weights"
                        + (int8WeightMethod instanceof ThresholdMethod.MinMax ? "" : " by " + int8WeightMethod) : "")
                + (keepFloat32.isEmpty() ? "" : ", keep float32 " + keepFloat32)
                + (externalData ? ", external data" : "") + "]";
    }

    /** Builds an {@link OnnxExporter}; defaults: opset 17, FP32, float32 I/O. */
    public static final class Builder {
        private int opset = OnnxOpSupport.DEFAULT_OPSET;
        private Precision precision = Precision.FP32;
        private Set<String> keepFloat32 = Set.of();
        private boolean halfIO;
        private boolean int8IO;
        private Int8Target int8Target = Int8Target.TENSORRT;
        private Int8WeightRange int8WeightRange;
        private ThresholdMethod int8WeightMethod = WeightRanges.defaultMethod();
        private boolean externalData;

        private Builder() {
        }

        /**
         * Weights as ONNX external data (default false): every initializer of 1 KB or more is written to a side file
         * {@code <model file>.data} (large ones 64 KiB-aligned) and referenced by location, offset and length, as
         * {@code onnx.save_model(..., save_as_external_data=True)} does; ONNX Runtime loads it from the model's
         * directory. Models whose weights exceed protobuf's 2 GB limit are written this way whatever this says.
         */
        public Builder externalData(boolean v) {
            this.externalData = v;
            return this;
        }

        /** The ai.onnx opset, {@value OnnxOpSupport#MIN_OPSET} to {@value OnnxOpSupport#MAX_OPSET}. */
        public Builder opset(int v) {
            KilnArgumentException.check(v >= OnnxOpSupport.MIN_OPSET && v <= OnnxOpSupport.MAX_OPSET,
                    "opset must be in " + OnnxOpSupport.MIN_OPSET + ".." + OnnxOpSupport.MAX_OPSET
                            + " (the range Kiln writes and the bundled ONNX Runtime runs), got " + v);
            this.opset = v;
            return this;
        }

        public Builder precision(Precision p) {
            KilnArgumentException.check(p != null, "precision must not be null");
            this.precision = p;
            return this;
        }

        /**
         * Node names or TF op types (e.g. "Softmax", "conv1/Conv2D") kept in float: under FP16 computed in float32 with
         * Casts around them; under INT8 without Q/DQ on their inputs and with float weights (mixed precision).
         */
        public Builder keepFloat32(Set<String> nodeNamesOrOpTypes) {
            KilnArgumentException.check(nodeNamesOrOpTypes != null, "keepFloat32 must not be null");
            this.keepFloat32 = Set.copyOf(nodeNamesOrOpTypes);
            return this;
        }

        /** FP16 only: float16 graph inputs and outputs instead of float32 ones with Casts at the edges. */
        public Builder halfIO(boolean v) {
            this.halfIO = v;
            return this;
        }

        /**
         * INT8 only (default false): integer graph inputs and outputs, like TFLite's
         * {@code inference_input_type = int8}. Every float input with activation parameters in
         * {@link Graph#quantization()} is declared with their integer type (uint8 for {@link Int8Target#ONNXRUNTIME},
         * int8 for {@link Int8Target#TENSORRT}) and feeds a DequantizeLinear directly; an input without parameters
         * stays float. Every float output ends in a QuantizeLinear and is declared with its integer type, so every
         * output needs parameters: calibrate the tensors of {@link Int8Placement#quantizableWithOutputs}. The scale and
         * zero point of each integer input and output are written into the model metadata as
         * {@code kiln.io.<name>.scale} and {@code kiln.io.<name>.zero_point}; callers quantize their data with
         * {@code q = clamp(round_half_even(x / scale) + zero_point)} ({@link QuantMath#quantize}) and dequantize
         * outputs with {@code x = (q - zero_point) * scale}.
         */
        public Builder int8IO(boolean v) {
            this.int8IO = v;
            return this;
        }

        /**
         * INT8 only: the Q/DQ placement, {@link Int8Target#TENSORRT} (default) or {@link Int8Target#ONNXRUNTIME}
         * (fused QLinearConv/QLinearMatMul on ORT's CPU provider; calibrate with
         * {@code MinMaxCalibration.minMax(graph, inputs, runner, Int8Target.ONNXRUNTIME)} for uint8 activations).
         */
        public Builder int8Target(Int8Target t) {
            KilnArgumentException.check(t != null, "int8Target must not be null");
            this.int8Target = t;
            return this;
        }

        /**
         * INT8 and INT8 weights-only: the range of weight codes. Unset: {@link Int8WeightRange#REDUCED} for an
         * {@link Int8Target#ONNXRUNTIME} INT8 export (exact with ONNX Runtime's stock settings on any x86 CPU),
         * {@link Int8WeightRange#FULL} otherwise. FULL for ONNX Runtime is for deployments on VNNI/AMX CPUs only.
         */
        public Builder int8WeightRange(Int8WeightRange r) {
            KilnArgumentException.check(r != null, "int8WeightRange must not be null");
            this.int8WeightRange = r;
            return this;
        }

        /**
         * INT8 and INT8 weights-only: how each output channel's weight range (amax) is chosen.
         * {@link ThresholdMethod#minmax()} (default) is max |w|; percentile, mse or entropy take the method's threshold
         * over a histogram of the channel's |w| and clip the weights beyond it ({@link WeightRanges}).
         */
        public Builder int8WeightMethod(ThresholdMethod method) {
            KilnArgumentException.check(method != null, "int8WeightMethod must not be null");
            this.int8WeightMethod = method;
            return this;
        }

        public OnnxExporter build() {
            KilnArgumentException.check(!int8IO || precision == Precision.INT8, "int8 I/O needs precision INT8 "
                    + "(integer inputs and outputs carry calibrated activation ranges), got " + precision);
            return new OnnxExporter(this);
        }
    }
}
