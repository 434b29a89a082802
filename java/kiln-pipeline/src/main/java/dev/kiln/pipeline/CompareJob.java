package dev.kiln.pipeline;

import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;
import dev.kiln.data.DataSources;
import dev.kiln.data.FloatConversion;
import dev.kiln.data.RepresentativeData;
import dev.kiln.eval.RandomInputs;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.Tensor;
import dev.kiln.tensorflow.ImportOptions;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Runs two models on the same inputs and compares their outputs ({@code kiln compare}, Polygraphy style): per output
 * max and mean absolute error, max relative error, cosine similarity, and pass/fail where pass means every element
 * satisfies |a-b| <= atol + rtol*|a| (A is the reference). Outputs are matched by name. With per-layer on, every
 * intermediate tensor the two models share is compared too (see {@link LayerComparison}).
 *
 * <pre>{@code
 * CompareJob.Result r = CompareJob.builder(savedModel, onnx).build().run();
 * if (!r.passed()) { ... }
 * }</pre>
 */
public final class CompareJob {
    private final Path a;
    private final Path b;
    private final String data;
    private final double atol;
    private final double rtol;
    private final boolean perLayer;
    private final int batch;
    private final long seed;
    private final ImportOptions importOptions;

    private CompareJob(Builder bl) {
        this.a = bl.a;
        this.b = bl.b;
        this.data = bl.data;
        this.atol = bl.atol;
        this.rtol = bl.rtol;
        this.perLayer = bl.perLayer;
        this.batch = bl.batch;
        this.seed = bl.seed;
        this.importOptions = bl.importOptions;
    }

    public static Builder builder(Path a, Path b) {
        return new Builder(a, b);
    }

    /** One output compared; {@code message} says why it failed (missing, shape, tolerance), or "ok". */
    public record OutputResult(String name, String shapeA, String shapeB, long elements, double maxAbsError,
                               double meanAbsError, double maxRelError, double cosine, long failingElements,
                               boolean passed, String message) {
    }

    /** One intermediate tensor compared, in A's graph order. */
    public record LayerResult(String name, String op, String shape, double maxAbsError, double meanAbsError,
                              double relativeMeanError, double cosine, boolean passed) {
    }

    /**
     * The per-layer comparison: how it matched tensors, how many tensors A has that could be compared
     * ({@code candidates}) and how many were matched in B, the layers, the first layer where the relative mean error
     * jumps (more than 10 times the largest before it, and above 1e-6) and the first failing layer.
     */
    public record PerLayer(String method, int candidates, int matched, List<LayerResult> layers, String firstJump,
                           String firstFailing, List<String> notes) {
    }

    /** The whole comparison. */
    public record Result(String modelA, String modelB, double atol, double rtol, String inputs, int batches,
                         List<OutputResult> outputs, PerLayer perLayer, boolean passed) {
    }

    /** Runs the comparison; failures are in the result, not thrown (see {@link Result#passed()}). */
    public Result run() {
        List<OutputResult> outs;
        List<Map<String, Tensor>> feeds = new ArrayList<>();
        String inputsDesc;
        try (ModelFiles.Opened ma = ModelFiles.open(a, importOptions, 0);
             ModelFiles.Opened mb = ModelFiles.open(b, importOptions, 0)) {
            Map<String, String> rename = inputMapping(ma.inputs(), mb.inputs());
            if (data == null) {
                feeds.add(RandomInputs.forSignature(ma.inputs(), seed, batch));
                inputsDesc = "random (seed " + seed + ", batch " + batch + ")";
            } else {
                RepresentativeData d = DataSources.parse(data, Path.of(""), ma.inputs(), FloatConversion.identity())
                        .batchSize(batch).build();
                try (RepresentativeData.Batches it = d.iterator()) {
                    it.forEachRemaining(feeds::add);
                } catch (Exception e) {
                    throw e instanceof RuntimeException re ? re : KilnException.io("reading " + data, e);
                }
                KilnArgumentException.check(!feeds.isEmpty(), "--data " + data + " holds no samples");
                inputsDesc = data + " (batch " + batch + ")";
            }
            Map<String, TensorErrors> errors = new LinkedHashMap<>();
            Map<String, String> problems = new LinkedHashMap<>();
            Map<String, String[]> shapes = new LinkedHashMap<>();
            for (Map<String, Tensor> feed : feeds) {
                Map<String, Tensor> oa = ma.runner().run(feed);
                Map<String, Tensor> ob = mb.runner().run(renamed(feed, rename));
                for (Map.Entry<String, Tensor> e : oa.entrySet()) {
                    String n = e.getKey();
                    Tensor tb = ob.get(n);
                    if (tb == null) {
                        problems.putIfAbsent(n, "missing in " + b.getFileName() + " (its outputs: " + ob.keySet()
                                + ")");
                        shapes.putIfAbsent(n, new String[] {e.getValue().shape().toString(), "-"});
                        continue;
                    }
                    shapes.putIfAbsent(n, new String[] {e.getValue().shape().toString(), tb.shape().toString()});
                    if (!e.getValue().shape().equals(tb.shape())) {
                        problems.putIfAbsent(n, "shape differs: " + e.getValue().shape() + " vs " + tb.shape());
                        continue;
                    }
                    errors.computeIfAbsent(n, k -> new TensorErrors()).add(TensorErrors.values(e.getValue()),
                            TensorErrors.values(tb), atol, rtol);
                }
                for (String n : ob.keySet()) {
                    if (!oa.containsKey(n)) {
                        problems.putIfAbsent(n, "missing in " + a.getFileName() + " (its outputs: " + oa.keySet()
                                + ")");
                        shapes.putIfAbsent(n, new String[] {"-", ob.get(n).shape().toString()});
                    }
                }
            }
            outs = new ArrayList<>();
            for (Map.Entry<String, String[]> s : shapes.entrySet()) {
                String n = s.getKey();
                String problem = problems.get(n);
                TensorErrors t = errors.get(n);
                if (problem != null || t == null) {
                    double inf = Double.POSITIVE_INFINITY;
                    outs.add(new OutputResult(n, s.getValue()[0], s.getValue()[1], 0, inf, inf, inf, Double.NaN, 0,
                            false, problem == null ? "not compared" : problem));
                    continue;
                }
                boolean ok = t.failing() == 0;
                outs.add(new OutputResult(n, s.getValue()[0], s.getValue()[1], t.elements(), t.maxAbs(),
                        t.meanAbs(), t.maxRel(), t.cosine(), t.failing(), ok, ok ? "ok" : t.failing() + " of "
                        + t.elements() + " elements outside atol " + atol + " + rtol " + rtol + " * |a|"));
            }
        }
        PerLayer layers = perLayer ? LayerComparison.compare(a, b, importOptions, feeds.get(0), atol, rtol) : null;
        boolean passed = outs.stream().allMatch(OutputResult::passed);
        return new Result(a.toString(), b.toString(), atol, rtol, inputsDesc, feeds.size(), outs, layers, passed);
    }

    /** B's input name for each of A's: the same names, or by position when both have as many inputs. */
    static Map<String, String> inputMapping(List<SignatureTensor> ia, List<SignatureTensor> ib) {
        Map<String, String> m = new LinkedHashMap<>();
        List<String> na = ia.stream().map(SignatureTensor::name).toList();
        List<String> nb = ib.stream().map(SignatureTensor::name).toList();
        if (new java.util.HashSet<>(na).equals(new java.util.HashSet<>(nb))) {
            na.forEach(n -> m.put(n, n));
            return m;
        }
        if (na.size() != nb.size()) {
            throw KilnException.invalidModel("the models take different inputs: " + na + " and " + nb);
        }
        for (int i = 0; i < na.size(); i++) {
            m.put(na.get(i), nb.get(i));
        }
        return m;
    }

    static Map<String, Tensor> renamed(Map<String, Tensor> feed, Map<String, String> rename) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        feed.forEach((k, v) -> out.put(rename.getOrDefault(k, k), v));
        return out;
    }

    /** Options for {@link CompareJob}; defaults: random inputs (seed 1, batch 1), atol 1e-5, rtol 1e-3. */
    public static final class Builder {
        private final Path a;
        private final Path b;
        private String data;
        private double atol = 1e-5;
        private double rtol = 1e-3;
        private boolean perLayer;
        private int batch = 1;
        private long seed = 1;
        private ImportOptions importOptions = ImportOptions.defaults();

        private Builder(Path a, Path b) {
            KilnArgumentException.check(a != null && b != null, "compare needs two models");
            this.a = a;
            this.b = b;
        }

        /** Inputs from a .npy/.npz (a {@link DataSources} spec against A's inputs) instead of random ones. */
        public Builder data(String spec) {
            this.data = spec;
            return this;
        }

        public Builder atol(double v) {
            KilnArgumentException.check(v >= 0 && Double.isFinite(v), "atol must be >= 0, got " + v);
            this.atol = v;
            return this;
        }

        public Builder rtol(double v) {
            KilnArgumentException.check(v >= 0 && Double.isFinite(v), "rtol must be >= 0, got " + v);
            this.rtol = v;
            return this;
        }

        public Builder perLayer(boolean v) {
            this.perLayer = v;
            return this;
        }

        public Builder batch(int v) {
            KilnArgumentException.check(v >= 1, "batch must be >= 1, got " + v);
            this.batch = v;
            return this;
        }

        public Builder seed(long v) {
            this.seed = v;
            return this;
        }

        public Builder importOptions(ImportOptions o) {
            this.importOptions = o;
            return this;
        }

        public CompareJob build() {
            ModelFiles.nativeRuntime(a);
            ModelFiles.nativeRuntime(b);
            return new CompareJob(this);
        }
    }
}
