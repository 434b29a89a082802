package dev.kiln.kernels;

/**
 * One native dependency of Kiln: its name, what it is for, and how to load and probe it. {@link NativeLibraries}
 * calls {@link #load()} once per JVM and keeps the result; nothing else loads native code. Kiln's own CPU and CUDA
 * kernel libraries are declared in {@link NativeLibraries}; modules with native runtimes of their own (kiln-tensorrt)
 * declare theirs as a {@link java.util.ServiceLoader} service, so that {@code kiln doctor} lists them all.
 *
 * @param <P> what the probe tells beyond {@link NativeProbe} (TensorRT: versions and GPU)
 */
public interface NativeLibrary<P extends NativeProbe> {
    /** A short name: {@code cpu}, {@code cuda}, {@code tensorrt}. */
    String name();

    /** What it is for, for {@code kiln doctor}. */
    String purpose();

    /**
     * Loads the library and checks it (ABI or version, devices). Must never throw and never end the JVM: every
     * failure, {@link LinkageError} included, becomes an unavailable probe with its reason and cause.
     */
    P load();
}
