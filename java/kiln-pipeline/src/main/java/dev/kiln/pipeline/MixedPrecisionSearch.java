package dev.kiln.pipeline;

import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;
import dev.kiln.calib.CalibrationTable;
import dev.kiln.calib.ThresholdMethod;
import dev.kiln.data.RepresentativeData;
import dev.kiln.eval.ModelRunner;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.Tensor;
import dev.kiln.onnx.Int8Target;
import dev.kiln.onnx.Int8WeightRange;
import dev.kiln.onnx.OnnxRunner;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Automatic mixed precision: measures each quantized layer's sensitivity (the cost with only that layer in INT8,
 * everything else float), then keeps the most sensitive layers in float, one more at a time, until the whole INT8
 * model meets the budget: an accuracy drop against labels ({@code maxAccuracyDrop}, percentage points of top-1) or,
 * without labels, a minimum output cosine against the FP32 model. Measured with ONNX Runtime on the export for one
 * INT8 target, on held-out data.
 */
final class MixedPrecisionSearch {
    /** The layers the search may keep in float: the ops that carry quantized weights. */
    static final Set<String> LAYER_OPS = Set.of("Conv2D", "DepthwiseConv2dNative", "MatMul", "BatchMatMul",
            "BatchMatMulV2");

    /** A budget: at most this accuracy drop (points), or at least this cosine. */
    record Budget(double maxAccuracyDrop, double minCosine) {
        static Budget accuracyDrop(double points) {
            KilnArgumentException.check(points >= 0, "--max-accuracy-drop must be >= 0, got " + points);
            return new Budget(points, Double.NaN);
        }

        static Budget cosine(double c) {
            KilnArgumentException.check(c > 0 && c <= 1, "--min-cosine must be in (0, 1], got " + c);
            return new Budget(Double.NaN, c);
        }

        boolean byAccuracy() {
            return !Double.isNaN(maxAccuracyDrop);
        }

        @Override
        public String toString() {
            return byAccuracy() ? String.format(Locale.ROOT, "top-1 drop <= %.2f points", maxAccuracyDrop)
                    : String.format(Locale.ROOT, "output cosine >= %.6f", minCosine);
        }
    }

    private MixedPrecisionSearch() {
    }

    static OptimizeReport.MixedPrecision run(Graph optimized, CalibrationTable table, Int8Target target,
                                             Int8WeightRange range, ThresholdMethod weightMethod,
                                             Set<String> keepFloat, int opset,
                                             RepresentativeData data, long[] labels, ModelRunner reference,
                                             Budget budget, int threads, Consumer<String> log) {
        KilnArgumentException.check(!budget.byAccuracy() || labels != null, "--max-accuracy-drop needs labels "
                + "(--labels); without them use --min-cosine");
        List<Node> layers = new ArrayList<>();
        for (Node n : optimized.nodes()) {
            if (LAYER_OPS.contains(n.op()) && !keepFloat.contains(n.name()) && !keepFloat.contains(n.op())) {
                layers.add(n);
            }
        }
        Path dir;
        try {
            dir = Files.createTempDirectory("kiln-mixed-");
        } catch (IOException e) {
            throw KilnException.io("cannot create a temporary directory: " + e.getMessage(), e);
        }
        Graph q = Int8Exports.quantized(optimized, table, target);
        // the reference's outputs once, replayed for every candidate
        ReplayRunner ref = ReplayRunner.record(reference, data);
        double refTop1 = labels == null ? Double.NaN : top1(ref, data, labels);
        String metric = budget.byAccuracy() ? "top-1 drop (points)" : "1 - min output cosine";
        List<OptimizeReport.Sensitivity> sens = new ArrayList<>();
        try (Progress progress = Progress.start("sensitivity", layers.size(), "layers")) {
            for (Node l : layers) {
                Set<String> keep = new LinkedHashSet<>(keepFloat);
                layers.stream().filter(o -> o != l).forEach(o -> keep.add(o.name()));
                double cost = cost(q, target, range, weightMethod, keep, opset, dir, data, labels, ref, refTop1, budget, threads);
                sens.add(new OptimizeReport.Sensitivity(l.name(), l.op(), cost, metric));
                progress.step();
            }
        }
        List<OptimizeReport.Sensitivity> order = new ArrayList<>(sens);
        order.sort(Comparator.comparingDouble(OptimizeReport.Sensitivity::cost).reversed());
        Set<String> kept = new LinkedHashSet<>(keepFloat);
        double achieved = Double.NaN;
        for (int k = 0; k <= order.size(); k++) {
            if (k > 0) {
                kept.add(order.get(k - 1).layer());
            }
            double cost = cost(q, target, range, weightMethod, kept, opset, dir, data, labels, ref, refTop1, budget, threads);
            achieved = cost;
            boolean ok = budget.byAccuracy() ? cost <= budget.maxAccuracyDrop() : 1 - cost >= budget.minCosine();
            log.accept(String.format(Locale.ROOT, "mixed      %d layer(s) in float: %s %.5f%s", kept.size()
                    - keepFloat.size(), budget.byAccuracy() ? "top-1 drop" : "min cosine",
                    budget.byAccuracy() ? cost : 1 - cost, ok ? " (meets the budget)" : ""));
            if (ok) {
                break;
            }
        }
        deleteQuietly(dir);
        List<String> chosen = new ArrayList<>(kept);
        chosen.removeAll(keepFloat);
        String got = budget.byAccuracy() ? String.format(Locale.ROOT, "top-1 drop %.2f points", achieved)
                : String.format(Locale.ROOT, "min output cosine %.6f", 1 - achieved);
        return new OptimizeReport.MixedPrecision(new ArrayList<>(kept), chosen.isEmpty()
                ? "every layer meets the budget in INT8" : "most sensitive layers kept in float until the budget "
                + "was met (" + String.join(", ", chosen) + ")", budget.toString(), sens, got);
    }

    private static double cost(Graph q, Int8Target target, Int8WeightRange range, ThresholdMethod weightMethod,
                               Set<String> keep, int opset,
                               Path dir, RepresentativeData data, long[] labels, ReplayRunner ref, double refTop1,
                               Budget budget, int threads) {
        Path onnx = dir.resolve("candidate.onnx");
        Int8Exports.exporter(target, range, weightMethod, keep, opset).export(q, onnx);
        try (OnnxRunner r = OnnxRunner.open(onnx, threads)) {
            if (budget.byAccuracy()) {
                return 100 * (refTop1 - top1(r, data, labels));
            }
            Evaluation e = Evaluation.run(ref.rewind(), "fp32", List.of(new Evaluation.Candidate("int8", "onnxruntime",
                    onnx.toString(), 0, r)), data, null, null);
            return 1 - e.candidates().get(0).minCosine();
        }
    }

    private static double top1(ModelRunner r, RepresentativeData data, long[] labels) {
        if (r instanceof ReplayRunner rr) {
            rr.rewind();
        }
        return Evaluation.top1(r, data, labels);
    }

    private static void deleteQuietly(Path dir) {
        try (var s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // a temporary directory
        }
    }

    /** Replays a runner's outputs batch by batch (the reference is run once, not once per candidate). */
    private static final class ReplayRunner implements ModelRunner {
        private final List<Map<String, Tensor>> outputs;
        private int next;

        private ReplayRunner(List<Map<String, Tensor>> outputs) {
            this.outputs = outputs;
        }

        static ReplayRunner record(ModelRunner r, RepresentativeData data) {
            List<Map<String, Tensor>> outs = new ArrayList<>();
            try (RepresentativeData.Batches b = data.iterator()) {
                while (b.hasNext()) {
                    outs.add(r.run(b.next()));
                }
            } catch (RuntimeException e) {
                throw e;
            } catch (Exception e) {
                throw KilnException.internal(e.getMessage(), e);
            }
            return new ReplayRunner(outs);
        }

        ReplayRunner rewind() {
            next = 0;
            return this;
        }

        @Override
        public Map<String, Tensor> run(Map<String, Tensor> inputs) {
            return outputs.get(next++);
        }

        @Override
        public void close() {
        }
    }
}
