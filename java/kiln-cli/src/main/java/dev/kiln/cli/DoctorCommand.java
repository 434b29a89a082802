package dev.kiln.cli;

import dev.kiln.pipeline.*;
import dev.kiln.kernels.KernelBackends;
import dev.kiln.kernels.NativeLibraries;
import dev.kiln.onnx.CpuFeatures;

import java.util.concurrent.Callable;

import picocli.CommandLine.Command;

/** {@code kiln doctor}: what this machine offers Kiln — every backend probe and its reason, and runtime versions. */
@Command(name = "doctor", mixinStandardHelpOptions = true,
        description = "Print every kernel backend probe and why it was or wasn't chosen, the runtimes found, and "
                + "what TensorRT engines need that is missing here.")
final class DoctorCommand implements Callable<Integer> {

    @Override
    public Integer call() {
        System.out.println("kiln          " + Versions.kiln());
        System.out.println("java          " + System.getProperty("java.version") + " (" + System.getProperty("java.vm.name")
                + ")");
        System.out.println("machine       " + Environments.cpuModel() + ", " + Runtime.getRuntime().availableProcessors()
                + " cores, " + System.getProperty("os.name") + " " + System.getProperty("os.arch"));
        System.out.println("javacpp       " + Versions.javacpp());
        System.out.println("tensorflow    " + Versions.tensorflow());
        System.out.println("onnxruntime   " + Versions.onnxRuntime());
        CpuFeatures cpu = CpuFeatures.host();
        System.out.println("cpu features  " + cpu.summary());
        System.out.println("ort int8      " + cpu.onnxRuntimeInt8Note());
        System.out.println();
        System.out.println("kernel backends (selection order cuda > cpu > java; force one with -Dkiln.backend=NAME"
                + " or KILN_BACKEND=NAME)");
        System.out.println(KernelBackends.report());
        System.out.println();
        // Kiln's kernels and TensorRT, probed by one mechanism (the kernel backends above read the same probes)
        System.out.println("native libraries");
        System.out.println(NativeLibraries.report());
        return 0;
    }
}
