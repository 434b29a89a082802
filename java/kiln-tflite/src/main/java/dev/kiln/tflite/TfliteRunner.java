package dev.kiln.tflite;

import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;
import dev.kiln.eval.ModelRunner;
import dev.kiln.graph.DType;
import dev.kiln.graph.Shape;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.graph.TensorType;
import dev.kiln.graph.Tensor;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.tensorflowlite.BuiltinOpResolverWithXNNPACK;
import org.bytedeco.tensorflowlite.FlatBufferModel;
import org.bytedeco.tensorflowlite.Interpreter;
import org.bytedeco.tensorflowlite.InterpreterBuilder;
import org.bytedeco.tensorflowlite.Reporter_Pointer_String_Pointer;
import org.bytedeco.tensorflowlite.SignatureRunner;
import org.bytedeco.tensorflowlite.TfLiteIntArray;
import org.bytedeco.tensorflowlite.TfLiteInterpreter;
import org.bytedeco.tensorflowlite.TfLiteInterpreterOptions;
import org.bytedeco.tensorflowlite.TfLiteModel;
import org.bytedeco.tensorflowlite.TfLiteSignatureRunner;
import org.bytedeco.tensorflowlite.TfLiteTensor;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.bytedeco.tensorflowlite.global.tensorflowlite.*;

/**
 * A .tflite model in the TensorFlow Lite interpreter (TFLite's C API through the JavaCPP preset, with the XNNPACK
 * delegate for the float and int8 operators it supports), run by signature names like {@code TfRunner} and
 * {@code OnnxRunner}.
 *
 * <p>Every failure of the interpreter (a file it cannot read, AllocateTensors or Invoke failing) is a
 * {@link KilnException} carrying the interpreter's own messages, captured through its error reporter; nothing ends
 * the process. Inputs are resized to the shapes fed. Not thread-safe for concurrent {@link #run}s (serialised).
 */
public final class TfliteRunner implements ModelRunner {
    private static final System.Logger LOG = System.getLogger(TfliteRunner.class.getName());
    private final String source;
    private final BytePointer modelData; // the C API reads the model from this buffer for the model's lifetime
    /** The interpreter's error reporter, a native callback; made after the structural check (see constructor). */
    private final Messages messages;
    private TfLiteModel model;
    private TfLiteInterpreterOptions options;
    private TfLiteInterpreter interpreter;
    private TfLiteSignatureRunner runner;
    /** The same model in the C++ interpreter with XNNPACK, which runs it; null without XNNPACK. */
    private XnnpackSession xnn;
    private final Map<String, int[]> xnnShapes = new LinkedHashMap<>();
    private boolean xnnAllocated;
    private final List<String> inputNames = new ArrayList<>();
    private final List<String> outputNames = new ArrayList<>();
    private final Map<String, int[]> inputShapes = new LinkedHashMap<>();
    private boolean allocated;
    private boolean closed;

    /** Collects what the interpreter reports while one call runs. */
    private static final class Messages extends Reporter_Pointer_String_Pointer {
        private final List<String> lines = new ArrayList<>();

        @Override
        public void call(Pointer userData, String format, Pointer args) {
            synchronized (lines) {
                lines.add(VaListFormat.format(format, args).strip());
            }
        }

        void clear() {
            synchronized (lines) {
                lines.clear();
            }
        }

        String text() {
            synchronized (lines) {
                return lines.isEmpty() ? "(the interpreter gave no message)" : String.join("; ", lines);
            }
        }
    }

    private TfliteRunner(byte[] bytes, int threads, String source, boolean xnnpack) {
        TfliteFileCheck.check(bytes, source); // a corrupt file is an exception here, not a crash in native code
        this.source = source;
        // Only now the native callback, which close() frees: made before the check, each refused file left one to
        // the garbage collector, and after some 100 of them TfLiteModelCreate called a null function (JVM crash in
        // TfliteFileCheckTest).
        this.messages = new Messages();
        this.modelData = new BytePointer(bytes.length);
        modelData.put(bytes);
        try {
            model = TfLiteModelCreateWithErrorReporter(modelData, bytes.length, messages, null);
            if (model == null || model.isNull()) {
                throw KilnException.invalidModel("TFLite cannot load " + source + ": " + messages.text());
            }
            options = TfLiteInterpreterOptionsCreate();
            TfLiteInterpreterOptionsSetNumThreads(options, threads);
            TfLiteInterpreterOptionsSetErrorReporter(options, messages, null);
            interpreter = TfLiteInterpreterCreate(model, options);
            if (interpreter == null || interpreter.isNull()) {
                throw KilnException.invalidModel("TFLite cannot create an interpreter for " + source + ": "
                        + messages.text());
            }
            if (TfLiteInterpreterGetSignatureCount(interpreter) < 1) {
                throw KilnException.invalidModel("TFLite model " + source + " has no signature (SignatureDef)");
            }
            BytePointer key = TfLiteInterpreterGetSignatureKey(interpreter, 0);
            runner = TfLiteInterpreterGetSignatureRunner(interpreter, key.getString());
            if (runner == null || runner.isNull()) {
                throw KilnException.invalidModel("TFLite cannot run signature '" + key.getString() + "' of " + source
                        + ": " + messages.text());
            }
            for (int i = 0; i < TfLiteSignatureRunnerGetInputCount(runner); i++) {
                inputNames.add(TfLiteSignatureRunnerGetInputName(runner, i).getString());
            }
            for (int i = 0; i < TfLiteSignatureRunnerGetOutputCount(runner); i++) {
                outputNames.add(TfLiteSignatureRunnerGetOutputName(runner, i).getString());
            }
            if (xnnpack) {
                xnn = new XnnpackSession(modelData, bytes.length, threads, key.getString(), source);
            }
        } catch (RuntimeException e) {
            close();
            throw e;
        }
    }

    /** Loads {@code file} with {@code threads} interpreter threads and the XNNPACK delegate. */
    public static TfliteRunner open(Path file, int threads) {
        return open(file, threads, true);
    }

    /**
     * Loads {@code file} with {@code threads} interpreter threads; {@code xnnpack} false runs TFLite's own kernels
     * only (XNNPACK takes the float and int8 operators it supports, TFLite's kernels the rest).
     */
    public static TfliteRunner open(Path file, int threads, boolean xnnpack) {
        KilnArgumentException.check(threads >= 1, "threads must be >= 1, got " + threads);
        byte[] bytes;
        try {
            bytes = Files.readAllBytes(file);
        } catch (IOException e) {
            throw KilnException.io("cannot read TFLite model " + file + ": " + e.getMessage(), e);
        }
        return new TfliteRunner(bytes, threads, file.toString(), xnnpack);
    }

    /** Loads a model from its bytes ({@code source} names it in messages), with XNNPACK. */
    public static TfliteRunner of(byte[] model, int threads, String source) {
        KilnArgumentException.check(threads >= 1, "threads must be >= 1, got " + threads);
        return new TfliteRunner(model.clone(), threads, source, true);
    }

    /** The signature's input names (in the order TFLite's signature runner lists them: sorted by name). */
    public List<String> inputNames() {
        return List.copyOf(inputNames);
    }

    public List<String> outputNames() {
        return List.copyOf(outputNames);
    }

    /**
     * The signature's inputs with their types and shapes, -1 where the model's shape signature leaves a dimension
     * open (a dynamic batch): what random or real inputs are made for.
     */
    public synchronized List<SignatureTensor> inputSignature() {
        List<SignatureTensor> out = new ArrayList<>();
        for (String name : inputNames) {
            TfLiteTensor t = inputTensor(name);
            TfLiteIntArray sig = TfLiteTensorGetDimsSignature(t);
            long[] dims;
            if (sig != null && !sig.isNull() && sig.size() > 0) {
                dims = new long[sig.size()];
                for (int i = 0; i < dims.length; i++) {
                    dims[i] = sig.data(i);
                }
            } else {
                dims = new long[TfLiteTensorNumDims(t)];
                for (int i = 0; i < dims.length; i++) {
                    dims[i] = TfLiteTensorDim(t, i);
                }
            }
            out.add(new SignatureTensor(name, TensorRef.of(name, 0), new TensorType(dtype(t, name), Shape.of(dims))));
        }
        return out;
    }

    /** The TFLite type (as a Kiln dtype) of input {@code name}. */
    public synchronized DType inputType(String name) {
        return dtype(inputTensor(name), name);
    }

    /** Scale and zero point of an int8/uint8 input or output ({@code [scale, zeroPoint]}), e.g. for int8 I/O. */
    public synchronized float[] quantization(String name) {
        TfLiteTensor t = inputNames.contains(name) ? inputTensor(name) : outputTensor(name);
        var q = TfLiteTensorQuantizationParams(t);
        return new float[] {q.scale(), q.zero_point()};
    }

    @Override
    public synchronized Map<String, Tensor> run(Map<String, Tensor> inputs) {
        if (closed) {
            throw new IllegalStateException("TfliteRunner for " + source + " is closed");
        }
        for (String name : inputs.keySet()) {
            KilnArgumentException.check(inputNames.contains(name), "TFLite model " + source + " has no input '" + name
                    + "'; inputs: " + inputNames);
        }
        for (String name : inputNames) {
            KilnArgumentException.check(inputs.get(name) != null, "input '" + name + "' of " + source
                    + " is missing");
        }
        return xnn == null ? runPlain(inputs) : runXnnpack(inputs);
    }

    /**
     * Runs on the XNNPACK interpreter. A failing step is replayed on the C API interpreter, whose error reporter gives
     * the interpreter's own message; where that one succeeds, the failure is XNNPACK's and says so.
     */
    private Map<String, Tensor> runXnnpack(Map<String, Tensor> inputs) {
        SignatureRunner sr = xnn.runner;
        for (String name : inputNames) {
            Tensor v = inputs.get(name);
            int[] dims = Arrays.stream(v.shape().dims()).mapToInt(Math::toIntExact).toArray();
            if (!Arrays.equals(xnnShapes.get(name), dims)) {
                if (sr.ResizeInputTensor(name, dims) != kTfLiteOk) {
                    int index = xnn.inputIndex(sr.input_tensor(name), inputNames.size());
                    if (index < 0 || xnn.interpreter.ResizeInputTensor(index, dims) != kTfLiteOk) {
                        return diagnose(inputs, "resizing input '" + name + "' to " + v.shape());
                    }
                }
                xnnShapes.put(name, dims);
                xnnAllocated = false;
            }
        }
        if (!xnnAllocated) {
            if (sr.AllocateTensors() != kTfLiteOk) {
                return diagnose(inputs, "AllocateTensors");
            }
            xnnAllocated = true;
        }
        for (String name : inputNames) {
            copyIn(sr.input_tensor(name), name, inputs.get(name));
        }
        if (sr.Invoke() != kTfLiteOk) {
            return diagnose(inputs, "Invoke");
        }
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (String name : outputNames) {
            TfLiteTensor t = sr.output_tensor(name);
            if (t == null || t.isNull()) {
                throw KilnException.invalidModel("TFLite model " + source + " has no output '" + name + "'");
            }
            out.put(name, copyOut(t, name));
        }
        return out;
    }

    /**
     * A step failed on XNNPACK: the C API interpreter runs the same inputs; it throws with the interpreter's message
     * where the model itself is at fault. Where it passes, XNNPACK refused the model (it needs static shapes, for
     * one): like TFLite with a default delegate that fails to apply, this runner goes on without it, and says so.
     */
    private Map<String, Tensor> diagnose(Map<String, Tensor> inputs, String step) {
        Map<String, Tensor> out = runPlain(inputs);
        LOG.log(System.Logger.Level.WARNING, "TFLite " + step + " failed for " + source + " with the XNNPACK "
                + "delegate (its messages are on stderr); running it on TFLite's own kernels");
        xnn.close();
        xnn = null;
        return out;
    }

    /** Whether the model runs with the XNNPACK delegate (false: TFLite's own kernels). */
    public synchronized boolean usesXnnpack() {
        return xnn != null;
    }

    private Map<String, Tensor> runPlain(Map<String, Tensor> inputs) {
        for (String name : inputNames) {
            Tensor v = inputs.get(name);
            int[] dims = Arrays.stream(v.shape().dims()).mapToInt(Math::toIntExact).toArray();
            if (!Arrays.equals(inputShapes.get(name), dims)) {
                messages.clear();
                if (TfLiteSignatureRunnerResizeInputTensor(runner, name, dims, dims.length) != kTfLiteOk) {
                    // the signature runner resizes strictly (same rank); an input of unknown rank takes any shape
                    // through the interpreter's own resize
                    int index = interpreterInputIndex(name);
                    check(index < 0 ? kTfLiteError : TfLiteInterpreterResizeInputTensor(interpreter, index, dims,
                            dims.length), "resizing input '" + name + "' to " + v.shape());
                }
                inputShapes.put(name, dims);
                allocated = false;
            }
        }
        if (!allocated) {
            messages.clear();
            check(TfLiteSignatureRunnerAllocateTensors(runner), "AllocateTensors");
            allocated = true;
        }
        for (String name : inputNames) {
            copyIn(inputTensor(name), name, inputs.get(name));
        }
        messages.clear();
        check(TfLiteSignatureRunnerInvoke(runner), "Invoke");
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (String name : outputNames) {
            out.put(name, copyOut(outputTensor(name), name));
        }
        return out;
    }

    private void copyIn(TfLiteTensor t, String name, Tensor v) {
        DType want = dtype(t, name);
        KilnArgumentException.check(v.dtype() == want, "input '" + name + "' of " + source + " is " + want
                + " in the model, got " + v.dtype());
        ByteBuffer bytes = v.bytes();
        long size = TfLiteTensorByteSize(t);
        KilnArgumentException.check(bytes.remaining() == size, "input '" + name + "': " + bytes.remaining()
                + " bytes for a tensor of " + size);
        try (BytePointer p = new BytePointer(bytes.remaining())) {
            p.put(toArray(bytes));
            messages.clear();
            check(TfLiteTensorCopyFromBuffer(t, p, size), "copying input '" + name + "'");
        }
    }

    private Tensor copyOut(TfLiteTensor t, String name) {
        long[] dims = new long[TfLiteTensorNumDims(t)];
        for (int i = 0; i < dims.length; i++) {
            dims[i] = TfLiteTensorDim(t, i);
        }
        long size = TfLiteTensorByteSize(t);
        byte[] data = new byte[(int) size];
        try (BytePointer p = new BytePointer(size)) {
            check(TfLiteTensorCopyToBuffer(t, p, size), "copying output '" + name + "'");
            p.get(data);
        }
        return Tensor.wrap(dtype(t, name), Shape.of(dims), ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN));
    }

    /**
     * The model in TFLite's C++ interpreter built with the resolver that creates the XNNPACK delegate (the C API
     * applies no delegate in this build); it reads the same model bytes.
     */
    private static final class XnnpackSession implements AutoCloseable {
        final FlatBufferModel model;
        final BuiltinOpResolverWithXNNPACK resolver = new BuiltinOpResolverWithXNNPACK();
        final Interpreter interpreter = new Interpreter((Pointer) null);
        final SignatureRunner runner;

        XnnpackSession(BytePointer data, long size, int threads, String key, String source) {
            model = FlatBufferModel.BuildFromBuffer(data, size);
            if (model == null || model.isNull()) {
                throw KilnException.invalidModel("TFLite (XNNPACK) cannot load " + source);
            }
            try (InterpreterBuilder b = new InterpreterBuilder(model, resolver)) {
                b.SetNumThreads(threads);
                if (b.apply(interpreter) != kTfLiteOk || interpreter.isNull()) {
                    throw KilnException.invalidModel("TFLite cannot build the XNNPACK interpreter for " + source
                            + " (the interpreter without XNNPACK loads it): open it with xnnpack false");
                }
            }
            runner = interpreter.GetSignatureRunner(key);
            if (runner == null || runner.isNull()) {
                throw KilnException.invalidModel("TFLite (XNNPACK) cannot run signature '" + key + "' of " + source);
            }
        }

        int inputIndex(TfLiteTensor t, int count) {
            for (long i = 0; i < count; i++) {
                if (interpreter.input_tensor(i).address() == t.address()) {
                    return (int) i;
                }
            }
            return -1;
        }

        @Override
        public void close() {
            interpreter.close(); // before the model and the resolver it uses
            model.close();
            resolver.close();
        }
    }

    /** The position of signature input {@code name} among the interpreter's inputs, or -1. */
    private int interpreterInputIndex(String name) {
        TfLiteTensor t = inputTensor(name);
        for (int i = 0; i < TfLiteInterpreterGetInputTensorCount(interpreter); i++) {
            if (TfLiteInterpreterGetInputTensor(interpreter, i).address() == t.address()) {
                return i;
            }
        }
        return -1;
    }

    private static byte[] toArray(ByteBuffer b) {
        byte[] a = new byte[b.remaining()];
        b.duplicate().get(a);
        return a;
    }

    private TfLiteTensor inputTensor(String name) {
        TfLiteTensor t = TfLiteSignatureRunnerGetInputTensor(runner, name);
        if (t == null || t.isNull()) {
            throw new KilnArgumentException("TFLite model " + source + " has no input '" + name + "'");
        }
        return t;
    }

    private TfLiteTensor outputTensor(String name) {
        TfLiteTensor t = TfLiteSignatureRunnerGetOutputTensor(runner, name);
        if (t == null || t.isNull()) {
            throw KilnException.invalidModel("TFLite model " + source + " has no output '" + name + "'");
        }
        return t;
    }

    private DType dtype(TfLiteTensor t, String name) {
        int type = TfLiteTensorType(t);
        if (type == kTfLiteFloat32) {
            return DType.FLOAT;
        } else if (type == kTfLiteInt8) {
            return DType.INT8;
        } else if (type == kTfLiteUInt8) {
            return DType.UINT8;
        } else if (type == kTfLiteInt32) {
            return DType.INT32;
        } else if (type == kTfLiteInt64) {
            return DType.INT64;
        } else if (type == kTfLiteFloat16) {
            return DType.HALF;
        } else if (type == kTfLiteBool) {
            return DType.BOOL;
        } else if (type == kTfLiteInt16) {
            return DType.INT16;
        }
        throw KilnException.unsupported("tensor '" + name + "' of " + source + " has TFLite type "
                + TfLiteTypeGetName(type).getString() + ", which Kiln does not read");
    }

    private void check(int status, String what) {
        if (status != kTfLiteOk) {
            throw KilnException.invalidModel("TFLite " + what + " failed for " + source + ": " + messages.text());
        }
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        if (runner != null && !runner.isNull()) {
            TfLiteSignatureRunnerDelete(runner);
        }
        if (interpreter != null && !interpreter.isNull()) {
            TfLiteInterpreterDelete(interpreter);
        }
        if (options != null && !options.isNull()) {
            TfLiteInterpreterOptionsDelete(options);
        }
        if (model != null && !model.isNull()) {
            TfLiteModelDelete(model);
        }
        if (xnn != null) {
            xnn.close();
        }
        modelData.close();
        messages.close();
    }

    @Override
    public String toString() {
        return "TfliteRunner[" + source + ", inputs " + inputNames + ", outputs " + outputNames + "]";
    }
}
