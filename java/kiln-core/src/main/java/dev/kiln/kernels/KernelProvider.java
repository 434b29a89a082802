package dev.kiln.kernels;

/**
 * A kernel backend, found through {@link java.util.ServiceLoader} (register the class in
 * {@code META-INF/services/dev.kiln.kernels.KernelProvider}). {@link KernelBackends} ranks providers by
 * {@link #rank()} (higher first: cuda 300, cpu 200, java 100) and creates the first whose probe says available.
 * Implementations must have a public no-argument constructor that does no work; loading libraries belongs in
 * {@link #probe()}.
 */
public interface KernelProvider {

    /** The backend's name, as given to {@code -Dkiln.backend}: {@code "cuda"}, {@code "cpu"}, {@code "java"}. */
    String name();

    /** Preference in automatic selection; higher wins. */
    int rank();

    /** Whether this backend can run here, and why (or why not). Never throws; may be called more than once. */
    Probe probe();

    /** Creates the backend; only called after {@link #probe()} said available. */
    Kernels create();

    /** The outcome of a probe: whether the backend is usable, and a one-line reason or description. */
    record Probe(boolean available, String reason) {
        public Probe {
            reason = reason == null ? "" : reason;
        }

        public static Probe available(String description) {
            return new Probe(true, description);
        }

        public static Probe unavailable(String reason) {
            return new Probe(false, reason);
        }
    }
}
