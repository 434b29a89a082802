package dev.kiln.kernels;

import dev.kiln.ErrorCode;
import dev.kiln.KilnException;

import org.bytedeco.javacpp.Loader;

import java.nio.charset.StandardCharsets;

/**
 * The one place where Kiln's native libraries are loaded: each once, on first use, with a check that the library's
 * ABI version is the one the bindings were written for. A failure is remembered with its cause, so that every later
 * probe reports the same reason and {@link #requireCpu()} / {@link #requireCuda()} rethrow it with the cause attached.
 *
 * <p>The CPU library (the JNI glue of {@link KilnNative}, with the C++ kernels linked in statically) and the CUDA
 * library ({@code libkiln_cuda.so} and the JNI glue of {@link KilnCudaNative}) are independent: the CUDA one is only
 * loaded when the cuda backend is probed.
 */
public final class NativeLibraries {

    /** The outcome of loading one library: whether it is usable, a one-line description or reason, and the cause. */
    public record Status(boolean available, String description, Throwable cause) {
    }

    private static volatile Status cpu;
    private static volatile Status cuda;

    private NativeLibraries() {
    }

    /** Loads the CPU library (once) and says whether it is usable. Never throws. */
    public static Status cpu() {
        Status s = cpu;
        if (s == null) {
            synchronized (NativeLibraries.class) {
                s = cpu;
                if (s == null) {
                    s = loadCpu();
                    cpu = s;
                }
            }
        }
        return s;
    }

    /** Loads the CUDA library (once) and probes for a device. Never throws. */
    public static Status cuda() {
        Status s = cuda;
        if (s == null) {
            synchronized (NativeLibraries.class) {
                s = cuda;
                if (s == null) {
                    s = loadCuda();
                    cuda = s;
                }
            }
        }
        return s;
    }

    /** Throws {@link ErrorCode#UNAVAILABLE} with the reason and its cause unless the CPU library is usable. */
    public static void requireCpu() {
        require(cpu());
    }

    /** Throws {@link ErrorCode#UNAVAILABLE} with the reason and its cause unless the CUDA library and a device are usable. */
    public static void requireCuda() {
        require(cuda());
    }

    private static void require(Status s) {
        if (!s.available()) {
            throw new KilnException(ErrorCode.UNAVAILABLE, s.description(), s.cause());
        }
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
