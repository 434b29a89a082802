package dev.kiln.kernels;

/** The {@code cuda} backend's provider: available when libkiln_cuda loads and reports a CUDA device. */
public final class CudaKernelProvider implements KernelProvider {
    public static final String NAME = "cuda";

    @Override
    public String name() {
        return NAME;
    }

    @Override
    public int rank() {
        return 300;
    }

    @Override
    public Probe probe() {
        NativeLibraries.Status s = NativeLibraries.cuda();
        return new Probe(s.available(), s.description());
    }

    @Override
    public Kernels create() {
        return new CudaKernels();
    }
}
