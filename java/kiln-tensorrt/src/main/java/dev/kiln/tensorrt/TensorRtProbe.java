package dev.kiln.tensorrt;

import dev.kiln.ErrorCode;
import dev.kiln.KilnException;
import dev.kiln.kernels.NativeLibraries;
import dev.kiln.kernels.NativeProbe;
import org.bytedeco.cuda.cudart.cudaDeviceProp;
import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.Loader;
import org.bytedeco.tensorrt.global.nvinfer;
import org.bytedeco.tensorrt.global.nvonnxparser;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Whether TensorRT engines can be built and run here, and if not, exactly what is missing: the NVIDIA driver
 * (libcuda.so.1), the CUDA runtime (libcudart.so.13), TensorRT (libnvinfer.so.10, libnvonnxparser.so.10) at the
 * versions the JavaCPP presets were built against, and a GPU. Nothing here can end the JVM: the presets' JNI
 * wrappers are loaded inside try/catch, and a failure becomes the reason. Probed once per JVM.
 */
public final class TensorRtProbe {
    /** The TensorRT the presets were built against (their headers' version). */
    public static final String PRESET_TENSORRT_VERSION = nvinfer.NV_TENSORRT_MAJOR + "." + nvinfer.NV_TENSORRT_MINOR
            + "." + nvinfer.NV_TENSORRT_PATCH;
    /** The CUDA runtime the presets were built against. */
    public static final String PRESET_CUDA_VERSION = cudaVersion(cudart.CUDART_VERSION);

    /** The shared libraries needed, by soname, and what each one is. */
    static final List<String[]> LIBRARIES = List.of(
            new String[] {"libcuda.so.1", "NVIDIA driver"},
            new String[] {"libcudart.so." + cudart.CUDART_VERSION / 1000, "CUDA runtime " + cudaMajor() + ".x"},
            new String[] {"libnvinfer.so." + nvinfer.NV_TENSORRT_MAJOR, "TensorRT " + nvinfer.NV_TENSORRT_MAJOR + ".x"},
            new String[] {"libnvonnxparser.so." + nvinfer.NV_TENSORRT_MAJOR, "TensorRT's ONNX parser"});

    /**
     * What the probe found. {@code available}: TensorRT and a GPU are usable; {@code reason}: one line, what is
     * missing (or what is there); {@code details}: one line per library and the device; {@code platform}: versions
     * and GPU when available, else null.
     */
    public record Result(boolean available, String reason, List<String> details, RuntimePlatform platform,
                         Throwable cause) implements NativeProbe {
        public Result {
            details = List.copyOf(details);
        }

        /** Throws {@link ErrorCode#UNAVAILABLE} with the reason unless available. */
        @Override
        public void require() {
            if (!available) {
                throw new KilnException(ErrorCode.UNAVAILABLE, "TensorRT is not usable here: " + reason, cause);
            }
        }
    }

    private TensorRtProbe() {
    }

    /** The probe of this machine, run once per JVM by {@link NativeLibraries} like every native library. */
    public static Result probe() {
        return NativeLibraries.probe(TensorRtLibrary.INSTANCE);
    }

    /** GPUs usable by TensorRT here: 0 unless the probe found TensorRT and a GPU, else the driver's device count. */
    public static int deviceCount() {
        if (!probe().available()) {
            return 0;
        }
        int[] n = new int[1];
        return cudart.cudaGetDeviceCount(n) == cudart.cudaSuccess ? n[0] : 0;
    }

    /**
     * Probes with {@code locator}; {@code load}: also load the presets and ask the driver (false: report what the
     * files say, for tests).
     */
    static Result probe(LibraryLocator locator, boolean load) {
        List<String> details = new ArrayList<>();
        List<String> missing = new ArrayList<>();
        for (String[] lib : LIBRARIES) {
            Optional<Path> p = locator.find(lib[0]);
            details.add(String.format("%-22s %s", lib[0], p.map(x -> "found: " + x)
                    .orElse("not found (" + lib[1] + ")")));
            if (p.isEmpty()) {
                missing.add(lib[0] + " (" + lib[1] + ")");
            }
        }
        String needs = "the presets need TensorRT " + nvinfer.NV_TENSORRT_MAJOR + ".x (built against "
                + PRESET_TENSORRT_VERSION + ") and CUDA " + cudaMajor() + ".x (built against " + PRESET_CUDA_VERSION
                + ")";
        if (!load) {
            return missing.isEmpty() ? new Result(false, "not loaded (probe without loading)", details, null, null)
                    : new Result(false, String.join(", ", missing) + " not found; " + needs, details, null, null);
        }
        try {
            return loadAndAsk(details, needs);
        } catch (LinkageError | RuntimeException e) {
            // the files say best what is missing; the loader's message says the rest
            String why = missing.isEmpty() ? "the TensorRT/CUDA presets did not load: " + firstLine(e)
                    : String.join(", ", missing) + " not found";
            details.add("load error: " + firstLine(e));
            return new Result(false, why + "; " + needs, details, null, e);
        }
    }

    private static Result loadAndAsk(List<String> details, String needs) {
        Loader.load(cudart.class);
        int[] v = new int[1];
        int driver = cudart.cudaDriverGetVersion(v) == cudart.cudaSuccess ? v[0] : 0;
        int runtime = cudart.cudaRuntimeGetVersion(v) == cudart.cudaSuccess ? v[0] : 0;
        details.add(String.format("%-22s driver supports CUDA %s, runtime %s", "cuda",
                driver == 0 ? "none" : cudaVersion(driver), runtime == 0 ? "?" : cudaVersion(runtime)));
        if (driver == 0) {
            return new Result(false, "no NVIDIA driver (libcuda.so.1 did not answer); " + needs, details, null, null);
        }
        int status = cudart.cudaGetDeviceCount(v);
        if (status != cudart.cudaSuccess || v[0] == 0) {
            String err = status != cudart.cudaSuccess ? cudart.cudaGetErrorString(status).getString() : "0 devices";
            return new Result(false, "no usable GPU (" + err + "; the driver supports CUDA " + cudaVersion(driver)
                    + ", the presets need " + cudaMajor() + ".x)", details, null, null);
        }
        cudaDeviceProp prop = new cudaDeviceProp();
        String gpu = "?";
        String cc = "?";
        if (cudart.cudaGetDeviceProperties(prop, 0) == cudart.cudaSuccess) {
            gpu = prop.name().getString();
            cc = prop.major() + "." + prop.minor();
        }
        prop.close();
        details.add(String.format("%-22s %d: %s, compute capability %s", "gpu", v[0], gpu, cc));

        Loader.load(nvinfer.class);
        int trt = nvinfer.getInferLibVersion();
        String trtVersion = trtVersion(trt);
        details.add(String.format("%-22s %s (presets built against %s)", "tensorrt", trtVersion,
                PRESET_TENSORRT_VERSION));
        if (trt / 10000 != nvinfer.NV_TENSORRT_MAJOR) {
            return new Result(false, "libnvinfer is TensorRT " + trtVersion + "; " + needs, details, null, null);
        }
        Loader.load(nvonnxparser.class);
        details.add(String.format("%-22s %s", "onnx parser", trtVersion(nvonnxparser.getNvOnnxParserVersion())));
        RuntimePlatform platform = new RuntimePlatform(trtVersion, cudaVersion(runtime), gpu, cc);
        return new Result(true, "TensorRT " + trtVersion + ", CUDA " + cudaVersion(runtime) + ", " + gpu
                + " (compute capability " + cc + ")", details, platform, null);
    }

    /** TensorRT 10's version number major*10000+minor*100+patch as "10.15.1". */
    static String trtVersion(int v) {
        return v / 10000 + "." + v / 100 % 100 + "." + v % 100;
    }

    /** CUDA's version number major*1000+minor*10 as "13.1". */
    static String cudaVersion(int v) {
        return v / 1000 + "." + v % 1000 / 10;
    }

    private static int cudaMajor() {
        return cudart.CUDART_VERSION / 1000;
    }

    private static String firstLine(Throwable e) {
        String m = String.valueOf(e.getMessage());
        int nl = m.indexOf('\n');
        return e.getClass().getSimpleName() + ": " + (nl < 0 ? m : m.substring(0, nl));
    }

    /** Lines for {@code kiln doctor}. */
    public static String report() {
        Result r = probe();
        StringBuilder b = new StringBuilder((r.available() ? "available: " : "unavailable: ") + r.reason());
        for (String d : r.details()) {
            b.append("\n  ").append(d);
        }
        return b.toString();
    }
}
