package dev.kiln.kernels;

import dev.kiln.ErrorCode;
import dev.kiln.KilnException;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.ServiceLoader;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Finds the kernel backends ({@link KernelProvider}s through {@link ServiceLoader}) and picks one.
 *
 * <ul>
 *   <li>Automatic selection: the available provider of highest rank (cuda, then cpu, then java). When a
 *       higher-ranked backend is unavailable, the fallback is logged once with the reason.</li>
 *   <li>Override: {@code -Dkiln.backend=NAME}, else the environment variable {@code KILN_BACKEND}
 *       ({@code auto} or empty means automatic). A backend asked for by name that is unknown or unavailable throws
 *       {@link KilnException} with {@link ErrorCode#UNAVAILABLE} and the probe's reason; it never falls back.</li>
 *   <li>{@link #report()} lists every probe and its reason (what {@code kiln doctor} prints).</li>
 *   <li>Threads: {@link #threads()} is how many threads the histogram, range-statistics and fake-quant kernels of
 *       the cpu and java backends use on large arrays ({@code -Dkiln.threads=N}, else {@code KILN_THREADS}, else
 *       every available processor); the results are the same for every count.</li>
 * </ul>
 * Backends are created once per provider and shared; every {@link Kernels} implementation is thread safe.
 */
public final class KernelBackends {
    /** The system property that forces a backend. */
    public static final String PROPERTY = "kiln.backend";
    /** The environment variable that forces a backend (the property wins). */
    public static final String ENV = "KILN_BACKEND";
    /** The system property that sets the kernels' thread count. */
    public static final String THREADS_PROPERTY = "kiln.threads";
    /** The environment variable that sets the kernels' thread count (the property wins). */
    public static final String THREADS_ENV = "KILN_THREADS";
    /** Largest thread count accepted (the native library's limit). */
    public static final int MAX_THREADS = 256;

    private static final System.Logger LOG = System.getLogger(KernelBackends.class.getName());
    private static final AtomicBoolean FALLBACK_LOGGED = new AtomicBoolean();
    private static final Map<String, Kernels> CREATED = new ConcurrentHashMap<>();
    private static volatile List<KernelProvider> providers;
    private static final Map<String, KernelProvider.Probe> PROBES = new ConcurrentHashMap<>();
    /** Thread count set by {@link #setThreads}; 0 = none (the property, the variable or the processors). */
    private static volatile int threadsOverride;

    private KernelBackends() {
    }

    /** The backend in use: the forced one ({@code -Dkiln.backend}, {@code KILN_BACKEND}) or the best available. */
    public static Kernels get() {
        String requested = requested();
        return requested == null ? automatic() : get(requested);
    }

    /** The backend of this name; throws {@link ErrorCode#UNAVAILABLE} with the reason when it cannot run here. */
    public static Kernels get(String name) {
        Objects.requireNonNull(name, "name");
        String key = name.trim().toLowerCase(Locale.ROOT);
        if (key.isEmpty() || key.equals("auto")) {
            return automatic();
        }
        KernelProvider provider = null;
        for (KernelProvider p : providers()) {
            if (p.name().equals(key)) {
                provider = p;
                break;
            }
        }
        if (provider == null) {
            throw new KilnException(ErrorCode.UNAVAILABLE, "kernel backend '" + name + "' is unknown; known: "
                    + providers().stream().map(KernelProvider::name).toList());
        }
        KernelProvider.Probe probe = probe(provider);
        if (!probe.available()) {
            throw new KilnException(ErrorCode.UNAVAILABLE,
                    "kernel backend '" + key + "' was requested but is unavailable: " + probe.reason());
        }
        return create(provider);
    }

    /** Every available backend, best first (what parity tests run over). */
    public static List<Kernels> available() {
        List<Kernels> out = new ArrayList<>();
        for (KernelProvider p : providers()) {
            if (probe(p).available()) {
                out.add(create(p));
            }
        }
        return out;
    }

    /** Names of the available backends, best first. */
    public static List<String> availableNames() {
        return providers().stream().filter(p -> probe(p).available()).map(KernelProvider::name).toList();
    }

    /** Every provider's probe, best first, by name. */
    public static Map<String, KernelProvider.Probe> probes() {
        Map<String, KernelProvider.Probe> out = new LinkedHashMap<>();
        for (KernelProvider p : providers()) {
            out.put(p.name(), probe(p));
        }
        return out;
    }

    /** A human-readable report of every probe, the override in effect and the backend chosen. */
    public static String report() {
        StringBuilder sb = new StringBuilder("kernel backends (best first):\n");
        String chosen;
        String requested = requested();
        try {
            chosen = get().name();
        } catch (KilnException e) {
            chosen = "none (" + e.getMessage() + ")";
        }
        for (KernelProvider p : providers()) {
            KernelProvider.Probe probe = probe(p);
            sb.append(String.format(Locale.ROOT, "  %-5s rank %3d  %-11s %s%s%n", p.name(), p.rank(),
                    probe.available() ? "available" : "unavailable", probe.reason(),
                    p.name().equals(chosen) ? "   <- chosen" : ""));
        }
        sb.append("  selection: ").append(requested == null ? "automatic"
                : "forced '" + requested + "' by " + (System.getProperty(PROPERTY) != null
                        && !System.getProperty(PROPERTY).isBlank() ? "-D" + PROPERTY : ENV)).append('\n');
        sb.append("  chosen: ").append(chosen).append('\n');
        String threads;
        try {
            threads = threads() + " (" + threadsSource() + "; histogram, range stats and fake quant on arrays of >= "
                    + Parallel.THRESHOLD + " elements, cpu and java backends)";
        } catch (KilnException e) {
            threads = "invalid: " + e.getMessage();
        }
        sb.append("  threads: ").append(threads).append('\n');
        return sb.toString();
    }

    /**
     * How many threads the histogram, range-statistics and fake-quant kernels use on arrays of 2^20 elements or more
     * (smaller ones run on the calling thread): {@link #setThreads}, else {@code -Dkiln.threads=N}, else the
     * environment variable {@code KILN_THREADS}, else {@link Runtime#availableProcessors()}. Results are identical
     * for every count (fixed chunks, merged in order). A value that is not a whole number in 1..256 throws
     * {@link dev.kiln.KilnArgumentException} naming where it came from.
     */
    public static int threads() {
        int n = threadsOverride;
        if (n > 0) {
            return n;
        }
        String v = System.getProperty(THREADS_PROPERTY);
        String source = "-D" + THREADS_PROPERTY;
        if (v == null || v.isBlank()) {
            v = System.getenv(THREADS_ENV);
            source = THREADS_ENV;
        }
        if (v == null || v.isBlank()) {
            return Math.min(MAX_THREADS, Math.max(1, Runtime.getRuntime().availableProcessors()));
        }
        return parseThreads(v.trim(), source);
    }

    /** Where {@link #threads()} comes from, for reports. */
    public static String threadsSource() {
        if (threadsOverride > 0) {
            return "KernelBackends.setThreads";
        }
        String v = System.getProperty(THREADS_PROPERTY);
        if (v != null && !v.isBlank()) {
            return "-D" + THREADS_PROPERTY;
        }
        v = System.getenv(THREADS_ENV);
        if (v != null && !v.isBlank()) {
            return THREADS_ENV;
        }
        return "available processors";
    }

    /**
     * Sets the kernels' thread count for this process (1..256), overriding the property and the variable; 0 goes
     * back to them. For benchmarks and tests; results do not depend on it.
     */
    public static void setThreads(int n) {
        dev.kiln.KilnArgumentException.check(n >= 0 && n <= MAX_THREADS,
                "threads must be in 0.." + MAX_THREADS + " (0 = the default), got " + n);
        threadsOverride = n;
    }

    private static int parseThreads(String v, String source) {
        int n;
        try {
            n = Integer.parseInt(v);
        } catch (NumberFormatException e) {
            n = -1;
        }
        dev.kiln.KilnArgumentException.check(n >= 1 && n <= MAX_THREADS,
                source + " must be a whole number in 1.." + MAX_THREADS + ", got '" + v + "'");
        return n;
    }

    /** The forced backend name, or null for automatic selection. */
    public static String requested() {
        String v = System.getProperty(PROPERTY);
        if (v == null || v.isBlank()) {
            v = System.getenv(ENV);
        }
        if (v == null || v.isBlank() || v.trim().equalsIgnoreCase("auto")) {
            return null;
        }
        return v.trim().toLowerCase(Locale.ROOT);
    }

    private static Kernels automatic() {
        List<String> skipped = new ArrayList<>();
        for (KernelProvider p : providers()) {
            KernelProvider.Probe probe = probe(p);
            if (probe.available()) {
                if (!skipped.isEmpty() && FALLBACK_LOGGED.compareAndSet(false, true)) {
                    LOG.log(System.Logger.Level.INFO, "kernel backend '" + p.name() + "' chosen; "
                            + String.join("; ", skipped));
                }
                return create(p);
            }
            skipped.add(p.name() + " unavailable: " + probe.reason());
        }
        throw new KilnException(ErrorCode.UNAVAILABLE, "no kernel backend is available: " + skipped);
    }

    private static KernelProvider.Probe probe(KernelProvider p) {
        return PROBES.computeIfAbsent(p.name(), n -> {
            try {
                KernelProvider.Probe probe = p.probe();
                return probe == null ? KernelProvider.Probe.unavailable("probe returned nothing") : probe;
            } catch (Throwable t) {
                return KernelProvider.Probe.unavailable("probe failed: " + t);
            }
        });
    }

    private static Kernels create(KernelProvider p) {
        return CREATED.computeIfAbsent(p.name(), n -> {
            try {
                return p.create();
            } catch (KilnException e) {
                throw e;
            } catch (RuntimeException | LinkageError e) {
                throw new KilnException(ErrorCode.UNAVAILABLE, "kernel backend '" + n + "' failed to start: " + e, e);
            }
        });
    }

    private static List<KernelProvider> providers() {
        List<KernelProvider> list = providers;
        if (list == null) {
            synchronized (KernelBackends.class) {
                list = providers;
                if (list == null) {
                    Map<String, KernelProvider> byName = new LinkedHashMap<>();
                    for (ServiceLoader.Provider<KernelProvider> sp :
                            ServiceLoader.load(KernelProvider.class, KernelBackends.class.getClassLoader()).stream().toList()) {
                        try {
                            KernelProvider p = sp.get();
                            byName.putIfAbsent(p.name(), p);
                        } catch (Throwable t) {
                            LOG.log(System.Logger.Level.WARNING, "kernel provider " + sp.type().getName()
                                    + " could not be instantiated: " + t);
                        }
                    }
                    byName.putIfAbsent(JavaKernelProvider.NAME, new JavaKernelProvider());
                    list = new ArrayList<>(byName.values());
                    list.sort(Comparator.comparingInt(KernelProvider::rank).reversed());
                    providers = list = List.copyOf(list);
                }
            }
        }
        return list;
    }
}
