package dev.kiln.kernels;

import dev.kiln.ErrorCode;

import org.bytedeco.javacpp.Loader;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.ServiceLoader;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * The one place where native libraries are loaded: each {@link NativeLibrary} once, on first use, with its check (the
 * ABI version of Kiln's own libraries, the versions and devices of TensorRT's); a failure is remembered with its
 * cause, so that every later probe reports the same reason and {@link NativeProbe#require()} rethrows it with the
 * cause attached. {@link #all()} probes every library Kiln knows — its CPU and CUDA kernels, and those that other
 * modules declare as {@link NativeLibrary} services — for {@code kiln doctor}.
 *
 * <p>The CPU library (the JNI glue of {@link KilnNative}, with the C++ kernels linked in statically) and the CUDA
 * library ({@code libkiln_cuda.so} and the JNI glue of {@link KilnCudaNative}) are independent: the CUDA one is only
 * loaded when the cuda backend is probed.
 */
public final class NativeLibraries {

    /** What loading one of Kiln's kernel libraries found: whether it is usable, a one-line description or reason, and the cause. */
    public record Status(boolean available, String description, Throwable cause) implements NativeProbe {
        @Override
        public String reason() {
            return description;
        }

        @Override
        public List<String> details() {
            return List.of();
        }
    }

    /** One of Kiln's own kernel libraries: a name, what it is, and its loader. */
    private record KernelLibrary(String name, String purpose, Supplier<Status> loader) implements NativeLibrary<Status> {
        @Override
        public Status load() {
            return loader.get();
        }
    }

    /** Kiln's C++ kernels. */
    public static final NativeLibrary<Status> CPU = new KernelLibrary("cpu",
            "Kiln's C++ kernels (JNI library inside kiln-core's jar)", NativeLibraries::loadCpu);

    /** Kiln's CUDA kernels. */
    public static final NativeLibrary<Status> CUDA = new KernelLibrary("cuda",
            "Kiln's CUDA kernels (libkiln_cuda.so inside kiln-core's jar)", NativeLibraries::loadCuda);

    private static final Map<String, NativeProbe> PROBES = new ConcurrentHashMap<>();

    private NativeLibraries() {
    }

    /**
     * Loads {@code library} once per JVM (by name) and returns what that found; never throws, as
     * {@link NativeLibrary#load()} does not.
     */
    @SuppressWarnings("unchecked")
    public static <P extends NativeProbe> P probe(NativeLibrary<P> library) {
        NativeProbe p = PROBES.get(library.name());
        if (p == null) {
            synchronized (NativeLibraries.class) {
                p = PROBES.get(library.name());
                if (p == null) {
                    p = library.load();
                    PROBES.put(library.name(), p);
                }
            }
        }
        return (P) p;
    }

    /** Every native library Kiln knows, in order (cpu, cuda, then the services found), each probed once. */
    public static Map<NativeLibrary<?>, NativeProbe> all() {
        Map<NativeLibrary<?>, NativeProbe> all = new LinkedHashMap<>();
        all.put(CPU, probe(CPU));
        all.put(CUDA, probe(CUDA));
        for (NativeLibrary<?> lib : ServiceLoader.load(NativeLibrary.class, NativeLibraries.class.getClassLoader())) {
            all.put(lib, probe(lib));
        }
        return all;
    }

    /** Lines for {@code kiln doctor}: each library, whether it loaded and why, and its details. */
    public static String report() {
        StringBuilder b = new StringBuilder();
        for (Map.Entry<NativeLibrary<?>, NativeProbe> e : all().entrySet()) {
            NativeProbe p = e.getValue();
            b.append(String.format("  %-9s %-12s %s%n", e.getKey().name(), p.available() ? "available" : "unavailable",
                    p.reason()));
            b.append(String.format("  %-9s %-12s %s%n", "", "", e.getKey().purpose()));
            for (String d : p.details()) {
                b.append(String.format("  %-9s %-12s %s%n", "", "", d));
            }
        }
        return b.toString().stripTrailing();
    }

    /** The CPU library's probe (loaded once). Never throws. */
    public static Status cpu() {
        return probe(CPU);
    }

    /** The CUDA library's probe (loaded once, with a device probe). Never throws. */
    public static Status cuda() {
        return probe(CUDA);
    }

    /** Throws {@link ErrorCode#UNAVAILABLE} with the reason and its cause unless the CPU library is usable. */
    public static void requireCpu() {
        cpu().require();
    }

    /** Throws {@link ErrorCode#UNAVAILABLE} with the reason and its cause unless the CUDA library and a device are usable. */
    public static void requireCuda() {
        cuda().require();
    }

    private static Status loadCpu() {
        try {
            String path = Loader.load(KilnNative.class);
            int abi = KilnNative.kiln_abi_version();
            if (abi != KilnNative.KILN_ABI_VERSION) {
                return new Status(false, "native CPU library " + path + " has ABI version " + abi + ", expected "
                        + KilnNative.KILN_ABI_VERSION + " (a stale build: rebuild native/)", null);
            }
            return new Status(true, "native C++ kernels, " + KilnNative.kiln_cpu_isa() + " dispatch, single thread ("
                    + path + ")", null);
        } catch (LinkageError | RuntimeException e) {
            return new Status(false, "the native CPU library did not load (built with -Dnative.skip=true, or not "
                    + "for this platform " + Loader.getPlatform() + "): " + e, e);
        }
    }

    private static Status loadCuda() {
        try {
            String path = Loader.load(KilnCudaNative.class);
            int abi = KilnCudaNative.kiln_cuda_abi_version();
            if (abi != KilnCudaNative.KILN_ABI_VERSION) {
                return new Status(false, "CUDA library " + path + " has ABI version " + abi + ", expected "
                        + KilnCudaNative.KILN_ABI_VERSION + " (a stale build: rebuild native/)", null);
            }
            int[] n = new int[1];
            int status = KilnCudaNative.kiln_cuda_device_count(n);
            if (status != KilnCudaNative.KILN_OK) {
                return new Status(false, KilnCudaNative.kiln_cuda_last_error(), null);
            }
            byte[] name = new byte[256];
            String deviceName = "?";
            if (KilnCudaNative.kiln_cuda_device_name(0, name, name.length) == KilnCudaNative.KILN_OK) {
                int len = 0;
                while (len < name.length && name[len] != 0) {
                    len++;
                }
                deviceName = new String(name, 0, len, StandardCharsets.UTF_8);
            }
            return new Status(true, "CUDA kernels on device 0: " + deviceName + " (" + n[0] + " device"
                    + (n[0] == 1 ? "" : "s") + ")", null);
        } catch (LinkageError | RuntimeException e) {
            return new Status(false, "the CUDA library did not load (built with -Dnative.skip=true, or not for this "
                    + "platform " + Loader.getPlatform() + "): " + e, e);
        }
    }
}
