package dev.kiln.onnx;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;

/**
 * The x86 CPU features that decide which integer GEMM/conv kernels ONNX Runtime's CPU provider (MLAS) uses, read from
 * the Linux kernel's {@code /proc/cpuinfo} flags. On x86-64 without VNNI (AVX2-only, and AVX-512 without VNNI such as
 * Skylake-SP) MLAS builds its U8S8 kernels on VPMADDUBSW, whose int16 pair sums saturate; VNNI (AVX512_VNNI or
 * AVX-VNNI) and AMX kernels accumulate in int32 and are exact. Other architectures do not have the problem.
 */
public record CpuFeatures(String arch, Set<String> flags) {
    private static final CpuFeatures HOST = probe();

    /** The machine this JVM runs on. */
    public static CpuFeatures host() {
        return HOST;
    }

    /** Features from a flags line as in /proc/cpuinfo (for tests and for describing other machines). */
    public static CpuFeatures of(String arch, String flagsLine) {
        return new CpuFeatures(arch, Set.copyOf(new TreeSet<>(List.of(flagsLine.trim().split("\\s+")))));
    }

    private static CpuFeatures probe() {
        String arch = System.getProperty("os.arch", "").toLowerCase(Locale.ROOT);
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("flags")) {
                    return of(arch, line.substring(line.indexOf(':') + 1));
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux, or /proc hidden: no flags known
        }
        return new CpuFeatures(arch, Set.of());
    }

    public boolean x86() {
        return arch.equals("amd64") || arch.equals("x86_64");
    }

    /** Whether the flags could be read at all (false: nothing is known about the CPU). */
    public boolean known() {
        return !flags.isEmpty();
    }

    public boolean avx2() {
        return flags.contains("avx2");
    }

    public boolean avx512() {
        return flags.contains("avx512f") && flags.contains("avx512bw");
    }

    /** AVX512_VNNI or AVX-VNNI: int8 dot products with int32 accumulation. */
    public boolean vnni() {
        return flags.contains("avx512_vnni") || flags.contains("avx_vnni");
    }

    public boolean amx() {
        return flags.contains("amx_int8") && flags.contains("amx_tile");
    }

    /**
     * Whether ONNX Runtime's stock U8S8 kernels can saturate here: x86-64 without VNNI or AMX. Unknown x86 flags count
     * as saturating (the safe answer).
     */
    public boolean u8s8Saturates() {
        return x86() && !vnni() && !amx();
    }

    /** The features in a line, for {@code kiln doctor} and reports: "AVX2 yes, AVX-512 no, VNNI no, AMX no". */
    public String summary() {
        if (!x86()) {
            return arch + " (not x86-64: ONNX Runtime's integer kernels do not saturate here)";
        }
        if (!known()) {
            return "x86-64, CPU flags unreadable (/proc/cpuinfo)";
        }
        List<String> parts = new ArrayList<>();
        parts.add("AVX2 " + yes(avx2()));
        parts.add("AVX-512 " + yes(avx512()));
        parts.add("VNNI " + yes(vnni()) + (flags.contains("avx_vnni") ? " (AVX-VNNI)" : ""));
        parts.add("AMX " + yes(amx()));
        return String.join(", ", parts);
    }

    /** Which integer kernels ONNX Runtime picks here and what that means for INT8 models. */
    public String onnxRuntimeInt8Note() {
        if (!u8s8Saturates()) {
            return vnni() || amx() ? "ONNX Runtime uses VNNI/AMX integer kernels here: exact, no U8S8 saturation"
                    : "no U8S8 saturation on this architecture";
        }
        return "no VNNI: ONNX Runtime's stock U8S8 kernels (VPMADDUBSW) saturate int16 pair sums here; Kiln sets "
                + OnnxRunner.EXACT_INT8_OPTION + "=1 (exact U8U8 kernels) for every model that is not "
                + "saturation-safe, and its default onnxruntime INT8 export uses 7-bit weights, which are exact on the "
                + "faster stock kernels";
    }

    private static String yes(boolean b) {
        return b ? "yes" : "no";
    }
}
