package dev.kiln.kernels;

/** The pure-Java backend: always available, the reference. */
public final class JavaKernelProvider implements KernelProvider {
    public static final String NAME = "java";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public int rank() {
        return 100;
    }

    @Override
    public Probe probe() {
        return Probe.available("pure Java reference, Java " + Runtime.version());
    }

    @Override
    public Kernels create() {
        return new JavaKernels();
    }
}
