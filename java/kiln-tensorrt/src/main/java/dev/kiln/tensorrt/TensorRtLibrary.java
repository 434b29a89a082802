package dev.kiln.tensorrt;

import dev.kiln.kernels.NativeLibraries;
import dev.kiln.kernels.NativeLibrary;

/**
 * TensorRT and the CUDA runtime through the JavaCPP presets, as one of Kiln's native libraries: loaded and probed
 * once by {@link NativeLibraries} like Kiln's own kernels, and listed by {@code kiln doctor} (a
 * {@link java.util.ServiceLoader} service of kiln-tensorrt). {@link TensorRtProbe#probe()} is the way in.
 */
public final class TensorRtLibrary implements NativeLibrary<TensorRtProbe.Result> {
    /** The one instance ({@link java.util.ServiceLoader} makes others; they load the same library). */
    public static final TensorRtLibrary INSTANCE = new TensorRtLibrary();

    @Override
    public String name() {
        return "tensorrt";
    }

    @Override
    public String purpose() {
        return "engines through the JavaCPP presets: TensorRT " + TensorRtProbe.PRESET_TENSORRT_VERSION + ", CUDA "
                + TensorRtProbe.PRESET_CUDA_VERSION;
    }

    @Override
    public TensorRtProbe.Result load() {
        return TensorRtProbe.probe(LibraryLocator.system(), true);
    }
}
