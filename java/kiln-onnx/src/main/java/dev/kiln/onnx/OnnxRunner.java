package dev.kiln.onnx;

import ai.onnxruntime.NodeInfo;
import ai.onnxruntime.OnnxJavaType;
import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OnnxValue;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import ai.onnxruntime.TensorInfo;
import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;
import dev.kiln.eval.ModelRunner;
import dev.kiln.graph.DType;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import dev.kiln.onnx.proto.Onnx.ModelProto;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs an ONNX model with ONNX Runtime on the CPU. Inputs and outputs are Kiln {@link Tensor}s (float32, float16,
 * double, int8/uint8, int32, int64, bool). Owns one session; {@link #close()} is idempotent.
 */
public final class OnnxRunner implements ModelRunner {
    private final OrtEnvironment env;
    private final OrtSession session;
    private final Path path;
    private boolean closed;
    /**
     * One direct buffer per input and calling thread, reused across calls (allocating direct memory per call costs
     * more than the copy); per thread, so that concurrent runs on one session stay safe.
     */
    private final ThreadLocal<Map<String, ByteBuffer>> inputBuffers = ThreadLocal.withInitial(java.util.HashMap::new);

    private OnnxRunner(OrtEnvironment env, OrtSession session, Path path) {
        this.env = env;
        this.session = session;
        this.path = path;
    }

    /**
     * ONNX Runtime's session option that makes x86-64 CPUs without VNNI run quantized MatMul/Conv with its exact U8U8
     * kernels instead of U8S8 ones built on VPMADDUBSW, which adds pairs of u8 x s8 products into a saturating int16
     * (see {@link Int8Saturation}). VNNI, AMX and non-x86 CPUs ignore it. Kiln sets it in every session it opens.
     */
    public static final String EXACT_INT8_OPTION = "session.x64quantprecision";

    /** Which integer GEMM/conv kernels ONNX Runtime may use on x86-64 CPUs without VNNI. */
    public enum IntegerKernels {
        /**
         * Exact and as fast as the model allows (Kiln's default): ONNX Runtime's stock kernels for a model that
         * {@link Int8Saturation} proves saturation-safe (they are exact on it, and faster than U8U8 on CPUs without
         * VNNI), {@link #EXACT} for every other model, and for models over {@value #AUTO_MAX_BYTES} bytes, which are
         * not read twice.
         */
        AUTO,
        /** Exact arithmetic everywhere ({@link #EXACT_INT8_OPTION}=1). */
        EXACT,
        /** ONNX Runtime's stock choice: U8S8 kernels that can saturate on CPUs without VNNI (for comparison only). */
        STOCK
    }

    /** Opens {@code onnx} with {@code threads} intra-op threads (0: ONNX Runtime's default), all optimizations on. */
    public static OnnxRunner open(Path onnx, int threads) {
        return open(onnx, threads, true);
    }

    /**
     * As {@link #open(Path, int)}; {@code spinning=false} stops idle intra-op threads from busy-waiting (ONNX Runtime's
     * {@code session.intra_op.allow_spinning=0}), which is faster on an oversubscribed machine.
     */
    public static OnnxRunner open(Path onnx, int threads, boolean spinning) {
        return open(onnx, threads, spinning, defaultKernels());
    }

    /** {@link IntegerKernels#AUTO}, unless {@code -Dkiln.ort.kernels=exact|stock|auto} says otherwise. */
    public static IntegerKernels defaultKernels() {
        String v = System.getProperty("kiln.ort.kernels", "auto").trim().toUpperCase(java.util.Locale.ROOT);
        try {
            return IntegerKernels.valueOf(v);
        } catch (IllegalArgumentException e) {
            throw new KilnArgumentException("-Dkiln.ort.kernels must be auto, exact or stock, got '" + v + "'");
        }
    }

    /** {@link IntegerKernels#AUTO} reads models up to this size to check them. */
    public static final long AUTO_MAX_BYTES = 256L << 20;

    /** The kernels {@link IntegerKernels#AUTO} picks for {@code onnx}: STOCK when saturation-safe, else EXACT. */
    public static IntegerKernels resolve(Path onnx, IntegerKernels kernels) {
        if (kernels != IntegerKernels.AUTO) {
            return kernels;
        }
        try {
            if (Files.size(onnx) > AUTO_MAX_BYTES) {
                return IntegerKernels.EXACT;
            }
            ModelProto m = OnnxReader.read(onnx);
            // weights kept as external data count too: they are not in the file's size
            long weights = m.getGraph().getInitializerList().stream().mapToLong(t -> t.getRawData().size()).sum();
            if (weights > AUTO_MAX_BYTES) {
                return IntegerKernels.EXACT;
            }
            return Int8Saturation.check(m).safe() ? IntegerKernels.STOCK : IntegerKernels.EXACT;
        } catch (java.io.IOException | RuntimeException e) {
            return IntegerKernels.EXACT; // cannot tell: the exact kernels are always right
        }
    }

    /**
     * As {@link #open(Path, int, boolean)}, with the integer kernels chosen: {@link IntegerKernels#STOCK} reproduces
     * what a user with ONNX Runtime's default settings gets (wrong where a model is not saturation-safe and the CPU
     * has no VNNI).
     */
    public static OnnxRunner open(Path onnx, int threads, boolean spinning, IntegerKernels kernels) {
        KilnArgumentException.check(threads >= 0, "threads must be >= 0, got " + threads);
        if (!Files.isRegularFile(onnx)) {
            throw KilnException.invalidModel("ONNX model " + onnx + " does not exist");
        }
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
            o.setIntraOpNumThreads(threads);
            o.setInterOpNumThreads(1);
            if (resolve(onnx, kernels) == IntegerKernels.EXACT) {
                o.addConfigEntry(EXACT_INT8_OPTION, "1");
            }
            if (!spinning) {
                o.addConfigEntry("session.intra_op.allow_spinning", "0");
            }
            o.setSessionLogLevel(ai.onnxruntime.OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR);
            o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            return new OnnxRunner(env, env.createSession(onnx.toString(), o), onnx);
        } catch (OrtException e) {
            throw KilnException.invalidModel("ONNX Runtime cannot load " + onnx + ": " + e.getMessage(), e);
        }
    }

    /**
     * Writes the graph that ONNX Runtime actually executes for {@code onnx} (CPU provider, all optimizations on, the
     * same session options as {@link #open}) to {@code out}: QDQ groups that ORT fused show up as QLinearConv,
     * QLinearMatMul, MatMulIntegerToFloat, QLinearAdd ... and the DequantizeLinear nodes that remain are the ones it
     * executes. For checking that an INT8 export really runs on integer kernels.
     */
    public static void writeOptimizedModel(Path onnx, Path out) {
        if (!Files.isRegularFile(onnx)) {
            throw KilnException.invalidModel("ONNX model " + onnx + " does not exist");
        }
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions o = new OrtSession.SessionOptions()) {
            o.setIntraOpNumThreads(1);
            o.setInterOpNumThreads(1);
            o.addConfigEntry(EXACT_INT8_OPTION, "1");
            o.setSessionLogLevel(ai.onnxruntime.OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR);
            o.setOptimizationLevel(OrtSession.SessionOptions.OptLevel.ALL_OPT);
            o.setOptimizedModelFilePath(out.toString());
            env.createSession(onnx.toString(), o).close();
        } catch (OrtException e) {
            throw KilnException.invalidModel("ONNX Runtime cannot load " + onnx + ": " + e.getMessage(), e);
        }
    }

    /** The ONNX Runtime version in use. */
    public static String ortVersion() {
        return OrtEnvironment.getEnvironment().getVersion();
    }

    public List<String> inputNames() {
        return new ArrayList<>(session.getInputNames());
    }

    public List<String> outputNames() {
        return new ArrayList<>(session.getOutputNames());
    }

    /** Runs the model on {@code inputs} (by input name) and returns every output by name. */
    public Map<String, Tensor> run(Map<String, Tensor> inputs) {
        if (closed) {
            throw new IllegalStateException("OnnxRunner for " + path + " is closed");
        }
        Map<String, OnnxTensor> feed = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, Tensor> e : inputs.entrySet()) {
                if (!session.getInputNames().contains(e.getKey())) {
                    throw new KilnArgumentException("model " + path + " has no input '" + e.getKey() + "'; inputs: "
                            + session.getInputNames());
                }
                feed.put(e.getKey(), toOrt(e.getKey(), e.getValue()));
            }
            for (String name : session.getInputNames()) {
                if (!feed.containsKey(name)) {
                    throw new KilnArgumentException("input '" + name + "' of " + path + " was not given");
                }
            }
            Map<String, Tensor> out = new LinkedHashMap<>();
            try (OrtSession.Result r = session.run(feed)) {
                for (Map.Entry<String, OnnxValue> e : r) {
                    out.put(e.getKey(), fromOrt(e.getKey(), e.getValue()));
                }
            }
            return out;
        } catch (OrtException e) {
            throw new KilnException(dev.kiln.ErrorCode.INTERNAL, "ONNX Runtime failed running " + path + ": "
                    + e.getMessage(), e);
        } finally {
            feed.values().forEach(OnnxTensor::close);
        }
    }

    /**
     * A loop body for measuring ONNX Runtime alone: {@code inputs} are copied into ONNX Runtime tensors once, here,
     * and every {@link NativeLoop#runOnce()} calls {@code OrtSession.run} on those same tensors and closes the result
     * without reading it. Timing it beside {@link #run} shows what Kiln's own tensor copies and conversions cost.
     */
    public NativeLoop nativeLoop(Map<String, Tensor> inputs) {
        if (closed) {
            throw new IllegalStateException("OnnxRunner for " + path + " is closed");
        }
        Map<String, OnnxTensor> feed = new LinkedHashMap<>();
        try {
            for (Map.Entry<String, Tensor> e : inputs.entrySet()) {
                feed.put(e.getKey(), toOrt(null, e.getValue()));
            }
        } catch (OrtException e) {
            feed.values().forEach(OnnxTensor::close);
            throw KilnException.internal("cannot make ONNX Runtime inputs for " + path, e);
        }
        return new NativeLoop(feed);
    }

    /** See {@link #nativeLoop}: owns the pre-made input tensors; close it before the runner. */
    public final class NativeLoop implements AutoCloseable {
        private final Map<String, OnnxTensor> feed;
        private boolean loopClosed;

        private NativeLoop(Map<String, OnnxTensor> feed) {
            this.feed = feed;
        }

        /** One {@code OrtSession.run} on the pre-made inputs; the outputs are released unread. */
        public void runOnce() {
            try (OrtSession.Result r = session.run(feed)) {
                if (r.size() == 0) {
                    throw KilnException.internal("ONNX Runtime returned no outputs for " + path, null);
                }
            } catch (OrtException e) {
                throw new KilnException(dev.kiln.ErrorCode.INTERNAL, "ONNX Runtime failed running " + path + ": "
                        + e.getMessage(), e);
            }
        }

        @Override
        public void close() {
            if (!loopClosed) {
                loopClosed = true;
                feed.values().forEach(OnnxTensor::close);
            }
        }
    }

    /** The inputs as Kiln signature tensors (unknown dimensions as -1), for {@code RandomInputs} and data sources. */
    public List<dev.kiln.graph.SignatureTensor> inputSignature() {
        List<dev.kiln.graph.SignatureTensor> out = new ArrayList<>();
        for (Map.Entry<String, TensorInfo> e : inputInfo().entrySet()) {
            DType dt = dtype(e.getKey(), e.getValue().type);
            out.add(new dev.kiln.graph.SignatureTensor(e.getKey(), dev.kiln.graph.TensorRef.of(e.getKey(), 0),
                    new dev.kiln.graph.TensorType(dt, Shape.of(e.getValue().getShape()))));
        }
        return out;
    }

    /** Declared input types by name (for random inputs). */
    public Map<String, TensorInfo> inputInfo() {
        try {
            Map<String, TensorInfo> m = new LinkedHashMap<>();
            for (Map.Entry<String, NodeInfo> e : session.getInputInfo().entrySet()) {
                m.put(e.getKey(), (TensorInfo) e.getValue().getInfo());
            }
            return m;
        } catch (OrtException e) {
            throw KilnException.internal("cannot read inputs of " + path, e);
        }
    }

    private OnnxTensor toOrt(String input, Tensor t) throws OrtException {
        long[] shape = t.shape().dims();
        OnnxJavaType jt = switch (t.dtype()) {
            case FLOAT -> OnnxJavaType.FLOAT;
            case DOUBLE -> OnnxJavaType.DOUBLE;
            case HALF -> OnnxJavaType.FLOAT16;
            case INT8 -> OnnxJavaType.INT8;
            case UINT8 -> OnnxJavaType.UINT8;
            case INT16 -> OnnxJavaType.INT16;
            case INT32 -> OnnxJavaType.INT32;
            case INT64 -> OnnxJavaType.INT64;
            case BOOL -> OnnxJavaType.BOOL;
            default -> throw KilnException.unsupported("ONNX Runtime input of dtype " + t.dtype() + " is not supported");
        };
        ByteBuffer src = t.bytes();
        if (ByteOrder.nativeOrder() != ByteOrder.LITTLE_ENDIAN) {
            throw KilnException.unsupported("big-endian platforms are not supported");
        }
        if (src.isDirect() && input != null) {
            return OnnxTensor.createTensor(env, src.slice().order(ByteOrder.nativeOrder()), shape, jt); // no copy
        }
        ByteBuffer b = input == null ? null : inputBuffers.get().get(input); // null input: a buffer of its own
        if (b == null || b.capacity() < src.remaining()) {
            b = ByteBuffer.allocateDirect(src.remaining()).order(ByteOrder.nativeOrder());
            if (input != null) {
                inputBuffers.get().put(input, b);
            }
        }
        b.clear();
        b.put(src).flip();
        return OnnxTensor.createTensor(env, b, shape, jt);
    }

    private static Tensor fromOrt(String name, OnnxValue v) {
        if (!(v instanceof OnnxTensor t)) {
            throw KilnException.unsupported("output '" + name + "' is not a tensor (" + v.getType() + ")");
        }
        TensorInfo info = t.getInfo();
        DType dt = dtype(name, info.type);
        ByteBuffer b = t.getByteBuffer();
        if (b.hasArray()) { // a heap copy ONNX Runtime made for us: ours to keep, no second copy
            return Tensor.wrap(dt, Shape.of(info.getShape()), b.order(ByteOrder.LITTLE_ENDIAN));
        }
        ByteBuffer copy = ByteBuffer.allocate(b.remaining()).order(ByteOrder.LITTLE_ENDIAN);
        copy.put(b.order(ByteOrder.nativeOrder())).flip(); // a view of native memory that dies with the result
        return Tensor.wrap(dt, Shape.of(info.getShape()), copy);
    }

    private static DType dtype(String name, OnnxJavaType type) {
        return switch (type) {
            case FLOAT -> DType.FLOAT;
            case DOUBLE -> DType.DOUBLE;
            case FLOAT16 -> DType.HALF;
            case INT8 -> DType.INT8;
            case UINT8 -> DType.UINT8;
            case INT16 -> DType.INT16;
            case INT32 -> DType.INT32;
            case INT64 -> DType.INT64;
            case BOOL -> DType.BOOL;
            default -> throw KilnException.unsupported("tensor '" + name + "' has type " + type);
        };
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            session.close();
        } catch (OrtException e) {
            throw KilnException.internal("closing ONNX Runtime session for " + path, e);
        }
    }
}
