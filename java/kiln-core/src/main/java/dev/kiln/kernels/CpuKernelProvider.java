package dev.kiln.kernels;

/** The {@code cpu} backend's provider: available when the native CPU library loads. */
public final class CpuKernelProvider implements KernelProvider {
    public static final String NAME = "cpu";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public int rank() {
        return 200;
    }

    @Override
    public Probe probe() {
        NativeLibraries.Status s = NativeLibraries.cpu();
        return new Probe(s.available(), s.description());
    }

    @Override
    public Kernels create() {
        return new CpuKernels();
    }
}
