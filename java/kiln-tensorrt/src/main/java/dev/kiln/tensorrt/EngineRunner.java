package dev.kiln.tensorrt;

import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;
import dev.kiln.eval.ModelRunner;
import dev.kiln.graph.DType;
import dev.kiln.graph.Shape;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.graph.TensorType;
import dev.kiln.graph.Tensor;
import dev.kiln.quant.Float16;
import org.bytedeco.cuda.cudart.CUstream_st;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.tensorrt.global.nvinfer;
import org.bytedeco.tensorrt.nvinfer.Dims64;
import org.bytedeco.tensorrt.nvinfer.ICudaEngine;
import org.bytedeco.tensorrt.nvinfer.IExecutionContext;
import org.bytedeco.tensorrt.nvinfer.IRuntime;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;

/**
 * A TensorRT engine loaded for inference on host arrays: inputs are copied through pinned host memory to device
 * buffers on one CUDA stream, the engine is enqueued, outputs come back the same way. The engine file is checked
 * against its manifest (not corrupt) and the manifest against this machine's TensorRT and GPU before TensorRT sees
 * it. Where an engine has several optimization profiles, the first one that holds the inputs' shapes is used.
 */
public final class EngineRunner implements ModelRunner {
    private final Path path;
    private final BuildLog log;
    private final TrtLogger logger;
    private final IRuntime runtime;
    private final ICudaEngine engine;
    private final IExecutionContext context;
    private final CUstream_st stream;
    private final List<String> inputs = new ArrayList<>();
    private final List<String> outputs = new ArrayList<>();
    private final EngineManifest manifest;
    private int profile;
    private boolean closed;

    private EngineRunner(Path path, EngineFiles.Verified file, Consumer<String> sink) {
        this.path = path;
        this.manifest = file.manifest();
        this.log = new BuildLog(sink, BuildLog.Severity.WARNING);
        this.logger = new TrtLogger(log);
        this.runtime = nvinfer.createInferRuntime(logger);
        try (BytePointer bytes = new BytePointer(file.engine())) {
            this.engine = runtime.deserializeCudaEngine(bytes, bytes.limit());
        }
        if (engine == null || engine.isNull()) {
            runtime.close();
            throw KilnException.invalidModel(log.failure("TensorRT could not load engine " + path, List.of()));
        }
        this.context = engine.createExecutionContext();
        this.stream = new CUstream_st();
        check(cudart.cudaStreamCreate(stream), "create a CUDA stream");
        for (int i = 0; i < engine.getNbIOTensors(); i++) {
            String name = engine.getIOTensorName(i);
            (engine.getTensorIOMode(name) == nvinfer.TensorIOMode.kINPUT ? inputs : outputs).add(name);
        }
    }

    /**
     * Opens {@code engine} (with its manifest beside it); refuses a corrupt file, or an engine built for another
     * GPU or TensorRT version, in one line.
     */
    public static EngineRunner open(Path engine, Consumer<String> log) {
        EngineFiles.Verified file = EngineFiles.read(engine);
        TensorRtProbe.Result probe = TensorRtProbe.probe();
        probe.require();
        ManifestCheck.check(file.manifest(), probe.platform(), engine);
        EngineBuilder.checkDevice(file.manifest().options().device());
        return new EngineRunner(engine, file, log);
    }

    public EngineManifest manifest() {
        return manifest;
    }

    /**
     * The engine's inputs with their element types and shapes: a dynamic batch dimension stays -1 (the caller
     * chooses the batch), other dynamic dimensions take the first profile's opt value.
     */
    public List<SignatureTensor> inputSignature() {
        List<SignatureTensor> sig = new ArrayList<>();
        for (String name : inputs) {
            long[] dims = dimsOf(engine.getTensorShape(name));
            long[] opt = dimsOf(engine.getProfileShape(name, 0, nvinfer.OptProfileSelector.kOPT));
            for (int i = 1; i < dims.length; i++) {
                if (dims[i] < 0 && i < opt.length) {
                    dims[i] = opt[i];
                }
            }
            var type = engine.getTensorDataType(name);
            DType dtype = type == nvinfer.DataType.kHALF ? DType.HALF : type == nvinfer.DataType.kINT32 ? DType.INT32
                    : type == nvinfer.DataType.kINT64 ? DType.INT64 : DType.FLOAT;
            sig.add(new SignatureTensor(name, TensorRef.parse(name), new TensorType(dtype, Shape.of(dims))));
        }
        return sig;
    }

    @Override
    public synchronized Map<String, Tensor> run(Map<String, Tensor> feed) {
        if (closed) {
            throw new IllegalStateException("engine " + path + " is closed");
        }
        Map<String, long[]> shapes = new LinkedHashMap<>();
        for (String name : inputs) {
            Tensor t = feed.get(name);
            KilnArgumentException.check(t != null, "input '" + name + "' of engine " + path + " was not given (it "
                    + "takes " + inputs + ")");
            shapes.put(name, t.shape().dims());
        }
        selectProfile(shapes);
        List<Pointer> device = new ArrayList<>();
        List<Pointer> pinned = new ArrayList<>();
        try {
            for (String name : inputs) {
                KilnArgumentException.check(context.setInputShape(name, EngineBuilder.dims(shapes.get(name))),
                        "engine " + path + " does not accept input '" + name + "' of shape " + ShapeRange.format(
                                shapes.get(name)) + log.failure("", List.of()));
                ByteBuffer host = toEngineType(name, feed.get(name));
                Pointer d = deviceBuffer(host.capacity(), device);
                Pointer h = pinnedCopy(host, pinned);
                check(cudart.cudaMemcpyAsync(d, h, host.capacity(), cudart.cudaMemcpyHostToDevice, stream),
                        "copy input '" + name + "' to the GPU");
                context.setTensorAddress(name, d);
            }
            Map<String, Pointer> outDevice = new LinkedHashMap<>();
            Map<String, long[]> outShapes = new LinkedHashMap<>();
            for (String name : outputs) {
                long[] s = dimsOf(context.getTensorShape(name));
                outShapes.put(name, s);
                long bytes = Math.max(1, numElements(s) * elementSize(name));
                Pointer d = deviceBuffer(bytes, device);
                outDevice.put(name, d);
                context.setTensorAddress(name, d);
            }
            if (!context.enqueueV3(stream)) {
                throw KilnException.internal(log.failure("TensorRT could not run engine " + path, List.of()), null);
            }
            Map<String, Pointer> outHost = new LinkedHashMap<>();
            for (String name : outputs) {
                long bytes = numElements(outShapes.get(name)) * elementSize(name);
                Pointer h = pinned(Math.max(1, bytes), pinned);
                check(cudart.cudaMemcpyAsync(h, outDevice.get(name), bytes, cudart.cudaMemcpyDeviceToHost, stream),
                        "copy output '" + name + "' from the GPU");
                outHost.put(name, h);
            }
            check(cudart.cudaStreamSynchronize(stream), "run engine " + path);
            Map<String, Tensor> out = new LinkedHashMap<>();
            for (String name : outputs) {
                long[] s = outShapes.get(name);
                long bytes = numElements(s) * elementSize(name);
                ByteBuffer b = new BytePointer(outHost.get(name)).capacity(bytes).asByteBuffer()
                        .order(ByteOrder.LITTLE_ENDIAN);
                out.put(name, fromEngineType(name, Shape.of(s), b));
            }
            return out;
        } finally {
            device.forEach(cudart::cudaFree);
            pinned.forEach(cudart::cudaFreeHost);
        }
    }

    /** Switches to the first profile whose ranges hold {@code shapes}; one profile: nothing to choose. */
    private void selectProfile(Map<String, long[]> shapes) {
        int n = engine.getNbOptimizationProfiles();
        if (n <= 1) {
            return;
        }
        for (int p = 0; p < n; p++) {
            boolean fits = true;
            for (Map.Entry<String, long[]> e : shapes.entrySet()) {
                long[] min = dimsOf(engine.getProfileShape(e.getKey(), p, nvinfer.OptProfileSelector.kMIN));
                long[] max = dimsOf(engine.getProfileShape(e.getKey(), p, nvinfer.OptProfileSelector.kMAX));
                fits &= ShapeRange.of(e.getKey(), min, min, max).contains(e.getValue());
            }
            if (fits) {
                if (p != profile) {
                    KilnArgumentException.check(context.setOptimizationProfileAsync(p, stream), "engine " + path
                            + ": TensorRT refused optimization profile " + p);
                    profile = p;
                }
                return;
            }
        }
        throw new KilnArgumentException("engine " + path + " has no optimization profile for input shapes "
                + shapes.entrySet().stream().map(e -> e.getKey() + ":" + ShapeRange.format(e.getValue())).toList());
    }

    private ByteBuffer toEngineType(String name, Tensor t) {
        var type = engine.getTensorDataType(name);
        ByteBuffer b;
        if (type == nvinfer.DataType.kFLOAT) {
            float[] v = t.asFloats();
            b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
            b.asFloatBuffer().put(v);
        } else if (type == nvinfer.DataType.kHALF) {
            short[] v = Float16.fromFloats(t.asFloats());
            b = ByteBuffer.allocate(2 * v.length).order(ByteOrder.LITTLE_ENDIAN);
            b.asShortBuffer().put(v);
        } else if (type == nvinfer.DataType.kINT32) {
            long[] v = t.asLongs();
            b = ByteBuffer.allocate(4 * v.length).order(ByteOrder.LITTLE_ENDIAN);
            for (long x : v) {
                b.putInt((int) x);
            }
        } else if (type == nvinfer.DataType.kINT64) {
            long[] v = t.asLongs();
            b = ByteBuffer.allocate(8 * v.length).order(ByteOrder.LITTLE_ENDIAN);
            b.asLongBuffer().put(v);
        } else {
            throw KilnException.unsupported("engine " + path + ": input '" + name + "' has type " + type
                    + ", which Kiln does not feed (float32, float16, int32, int64)");
        }
        b.rewind();
        return b;
    }

    private Tensor fromEngineType(String name, Shape shape, ByteBuffer b) {
        var type = engine.getTensorDataType(name);
        int n = (int) shape.numElements();
        if (type == nvinfer.DataType.kFLOAT) {
            float[] v = new float[n];
            b.asFloatBuffer().get(v);
            return Tensor.ofFloats(shape, v);
        } else if (type == nvinfer.DataType.kHALF) {
            short[] v = new short[n];
            b.asShortBuffer().get(v);
            return Tensor.ofFloats(shape, Float16.toFloats(v));
        } else if (type == nvinfer.DataType.kINT32) {
            int[] v = new int[n];
            b.asIntBuffer().get(v);
            return Tensor.ofInts(shape, v);
        } else if (type == nvinfer.DataType.kINT64) {
            long[] v = new long[n];
            b.asLongBuffer().get(v);
            return Tensor.ofLongs(shape, v);
        }
        throw KilnException.unsupported("engine " + path + ": output '" + name + "' has type " + type
                + ", which Kiln does not read (float32, float16, int32, int64)");
    }

    private long elementSize(String name) {
        var type = engine.getTensorDataType(name);
        if (type == nvinfer.DataType.kHALF) {
            return 2;
        }
        return type == nvinfer.DataType.kINT64 ? 8 : 4;
    }

    private static Pointer deviceBuffer(long bytes, List<Pointer> owned) {
        Pointer d = new Pointer();
        check(cudart.cudaMalloc(d, bytes), "allocate " + bytes + " bytes on the GPU");
        owned.add(d);
        return d;
    }

    private static Pointer pinned(long bytes, List<Pointer> owned) {
        Pointer h = new Pointer();
        check(cudart.cudaMallocHost(h, bytes), "allocate " + bytes + " bytes of pinned host memory");
        owned.add(h);
        return h;
    }

    private static Pointer pinnedCopy(ByteBuffer host, List<Pointer> owned) {
        Pointer h = pinned(Math.max(1, host.capacity()), owned);
        new BytePointer(h).capacity(host.capacity()).asByteBuffer().put(host.duplicate());
        return h;
    }

    private static long[] dimsOf(Dims64 d) {
        long[] out = new long[d.nbDims()];
        for (int i = 0; i < out.length; i++) {
            out[i] = d.d(i);
        }
        return out;
    }

    private static long numElements(long[] s) {
        long n = 1;
        for (long d : s) {
            n *= Math.max(0, d);
        }
        return n;
    }

    private static void check(int status, String what) {
        if (status != cudart.cudaSuccess) {
            throw KilnException.unavailable("CUDA could not " + what + ": " + cudart.cudaGetErrorString(status)
                    .getString());
        }
    }

    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        cudart.cudaStreamDestroy(stream);
        context.close();
        engine.close();
        runtime.close();
        logger.close();
    }
}
