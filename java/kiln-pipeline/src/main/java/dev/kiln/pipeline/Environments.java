package dev.kiln.pipeline;

import dev.kiln.kernels.KernelBackends;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** The machine and runtimes of this run, so every report says where its numbers come from. */
public final class Environments {
    private Environments() {
    }

    public static OptimizeReport.Environment current() {
        return new OptimizeReport.Environment(System.getProperty("java.version"),
                System.getProperty("os.name") + " " + System.getProperty("os.arch"), cpuModel(),
                Runtime.getRuntime().availableProcessors(), Versions.tensorflow(), Versions.onnxRuntime(),
                backendName());
    }

    public static String backendName() {
        try {
            return KernelBackends.get().name();
        } catch (RuntimeException e) {
            return "unavailable (" + e.getMessage() + ")";
        }
    }

    public static String cpuModel() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    return line.substring(line.indexOf(':') + 1).trim();
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux: fall through
        }
        return System.getProperty("os.arch");
    }
}
