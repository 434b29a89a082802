package dev.kiln.pipeline;

import dev.kiln.KilnException;
import dev.kiln.data.RepresentativeData;
import dev.kiln.eval.ModelRunner;
import dev.kiln.graph.Tensor;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Accuracy of optimized models against the FP32 original on held-out data: with labels, top-1 of the reference and
 * of every candidate; always, per output, cosine similarity, max and mean absolute error, relative L2 error and SQNR
 * (signal to quantization noise, dB) against the reference's outputs; and each runner's median time per batch. The
 * runners take turns on every batch, so machine noise hits all of them alike.
 *
 * @param data           what was evaluated on
 * @param samples        how many samples
 * @param labelled       whether top-1 was measured against labels
 * @param labelOutput    the output whose argmax is the predicted class
 * @param reference      the reference (TensorFlow on the original)
 * @param candidates     every artifact, in order
 */
public record Evaluation(String data, long samples, boolean labelled, String labelOutput, Result reference,
                         List<Result> candidates) {

    /** One model's results. {@code top1} is NaN without labels; {@code outputs} is empty for the reference. */
    public record Result(String name, String runtime, String artifact, long bytes, double top1,
                         List<OutputMetrics> outputs, double medianBatchMillis) {
        /** The smallest cosine over the outputs (1 for the reference). */
        public double minCosine() {
            return outputs.stream().mapToDouble(OutputMetrics::cosine).min().orElse(1);
        }

        /** The smallest SQNR over the outputs, in dB. */
        public double minSqnrDb() {
            return outputs.stream().mapToDouble(OutputMetrics::sqnrDb).min().orElse(Double.POSITIVE_INFINITY);
        }
    }

    /** One output of one candidate against the reference, over all samples. */
    public record OutputMetrics(String output, double cosine, double maxAbsError, double meanAbsError,
                                double relL2Error, double sqnrDb) {
    }

    /** A model to evaluate: its runner (owned by the caller), runtime name, artifact path and size. */
    public record Candidate(String name, String runtime, String artifact, long bytes, ModelRunner runner) {
    }

    /** Accumulates one output's error sums over batches. */
    private static final class Sums {
        double dot;
        double refSq;
        double candSq;
        double errSq;
        double absSum;
        double maxAbs;
        long n;

        void add(float[] ref, float[] cand) {
            for (int i = 0; i < ref.length; i++) {
                double r = ref[i];
                double c = cand[i];
                double e = c - r;
                dot += r * c;
                refSq += r * r;
                candSq += c * c;
                errSq += e * e;
                absSum += Math.abs(e);
                maxAbs = Math.max(maxAbs, Math.abs(e));
            }
            n += ref.length;
        }

        OutputMetrics metrics(String name) {
            double cos = refSq == 0 && candSq == 0 ? 1 : dot / Math.sqrt(refSq * candSq);
            double sqnr = errSq == 0 ? Double.POSITIVE_INFINITY : 10 * Math.log10(refSq / errSq);
            double rel = refSq == 0 ? (errSq == 0 ? 0 : Double.POSITIVE_INFINITY) : Math.sqrt(errSq / refSq);
            return new OutputMetrics(name, cos, maxAbs, n == 0 ? 0 : absSum / n, rel, sqnr);
        }
    }

    /**
     * Runs the reference and every candidate on each batch of {@code data}. {@code labels} (may be null) holds the
     * class of every sample of {@code data}, in order; {@code labelOutput} names the output whose argmax over its last
     * axis is the prediction (null: the first output).
     */
    public static Evaluation run(ModelRunner reference, String referenceName, List<Candidate> candidates,
                                 RepresentativeData data, long[] labels, String labelOutput) {
        List<Map<String, Sums>> sums = new ArrayList<>();
        List<List<Double>> times = new ArrayList<>();
        long[] correct = new long[candidates.size() + 1];
        for (int i = 0; i <= candidates.size(); i++) {
            sums.add(new LinkedHashMap<>());
            times.add(new ArrayList<>());
        }
        long seen = 0;
        String predicted = labelOutput;
        try (RepresentativeData.Batches batches = data.iterator()) {
            while (batches.hasNext()) {
                Map<String, Tensor> batch = batches.next();
                long t = System.nanoTime();
                Map<String, Tensor> ref = reference.run(batch);
                times.get(0).add((System.nanoTime() - t) / 1e6);
                if (predicted == null) {
                    predicted = ref.keySet().iterator().next();
                }
                int rows = 0;
                if (labels != null) {
                    Tensor p = ref.get(predicted);
                    if (p == null) {
                        throw new dev.kiln.KilnArgumentException("--label-output: the model has no output '"
                                + predicted + "' (outputs: " + ref.keySet() + ")");
                    }
                    rows = (int) p.shape().dim(0);
                    correct[0] += countCorrect(p, labels, seen, predicted);
                }
                for (int c = 0; c < candidates.size(); c++) {
                    Candidate cand = candidates.get(c);
                    long t0 = System.nanoTime();
                    Map<String, Tensor> out = cand.runner().run(batch);
                    times.get(c + 1).add((System.nanoTime() - t0) / 1e6);
                    for (Map.Entry<String, Tensor> e : ref.entrySet()) {
                        Tensor got = out.get(e.getKey());
                        if (got == null) {
                            throw new KilnException(dev.kiln.ErrorCode.VERIFICATION_FAILED, cand.artifact()
                                    + " has no output '" + e.getKey() + "' (outputs: " + out.keySet() + ")");
                        }
                        sums.get(c + 1).computeIfAbsent(e.getKey(), k -> new Sums())
                                .add(floats(e.getValue()), floats(got));
                    }
                    if (labels != null) {
                        correct[c + 1] += countCorrect(out.get(predicted), labels, seen, predicted);
                    }
                }
                seen += labels != null ? rows : firstDim(ref);
            }
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw KilnException.internal("evaluation: " + e.getMessage(), e);
        }
        if (seen == 0) {
            throw new dev.kiln.KilnArgumentException("evaluation data is empty: " + data.description());
        }
        if (labels != null && labels.length < seen) {
            throw new dev.kiln.KilnArgumentException("labels: " + labels.length + " labels for " + seen
                    + " evaluation samples");
        }
        double refTop1 = labels == null ? Double.NaN : (double) correct[0] / seen;
        Result refResult = new Result(referenceName, "tensorflow", "original", 0, refTop1, List.of(),
                median(times.get(0)));
        List<Result> results = new ArrayList<>();
        for (int c = 0; c < candidates.size(); c++) {
            Candidate cand = candidates.get(c);
            List<OutputMetrics> m = new ArrayList<>();
            sums.get(c + 1).forEach((k, v) -> m.add(v.metrics(k)));
            results.add(new Result(cand.name(), cand.runtime(), cand.artifact(), cand.bytes(),
                    labels == null ? Double.NaN : (double) correct[c + 1] / seen, m, median(times.get(c + 1))));
        }
        return new Evaluation(data.description(), seen, labels != null, predicted, refResult, results);
    }

    private static long firstDim(Map<String, Tensor> out) {
        Tensor t = out.values().iterator().next();
        return t.shape().rank() == 0 ? 1 : t.shape().dim(0);
    }

    private static long countCorrect(Tensor probs, long[] labels, long offset, String name) {
        float[] p = floats(probs);
        int rows = (int) probs.shape().dim(0);
        if (rows == 0) {
            return 0;
        }
        int classes = p.length / rows;
        long ok = 0;
        for (int r = 0; r < rows; r++) {
            int best = 0;
            for (int k = 1; k < classes; k++) {
                if (p[r * classes + k] > p[r * classes + best]) {
                    best = k;
                }
            }
            long i = offset + r;
            if (i >= labels.length) {
                throw new dev.kiln.KilnArgumentException("labels: only " + labels.length + " labels for more "
                        + "evaluation samples (output '" + name + "')");
            }
            if (best == labels[(int) i]) {
                ok++;
            }
        }
        return ok;
    }

    static float[] floats(Tensor t) {
        return t.asFloats();
    }

    /**
     * Top-1 of {@code runner} on {@code data}: argmax over the last axis of its first output against {@code labels}
     * (one per sample, in order).
     */
    public static double top1(ModelRunner runner, RepresentativeData data, long[] labels) {
        long ok = 0;
        long seen = 0;
        try (RepresentativeData.Batches b = data.iterator()) {
            while (b.hasNext()) {
                Tensor p = runner.run(b.next()).values().iterator().next();
                ok += countCorrect(p, labels, seen, "first");
                seen += p.shape().dim(0);
            }
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw KilnException.internal("top-1: " + e.getMessage(), e);
        }
        return seen == 0 ? 0 : (double) ok / seen;
    }

    static double median(List<Double> xs) {
        if (xs.isEmpty()) {
            return 0;
        }
        double[] a = xs.stream().mapToDouble(Double::doubleValue).toArray();
        Arrays.sort(a);
        return a[a.length / 2];
    }
}
