package dev.kiln.lowrank;

import dev.kiln.eval.ModelAccuracy;

import java.util.List;

/**
 * What {@link LowRankFactorization} did: one entry per layer it considered (factorized or skipped, with why) and the
 * parameter count of the whole graph (float Consts) before and after, and, where the factorized model was evaluated
 * against the original, its accuracy (else null).
 */
public record LowRankReport(String rule, List<Layer> layers, long parametersBefore, long parametersAfter,
                            List<String> notes, ModelAccuracy accuracy) {

    public LowRankReport {
        layers = List.copyOf(layers);
        notes = List.copyOf(notes);
    }

    /** Without an evaluation. */
    public LowRankReport(String rule, List<Layer> layers, long parametersBefore, long parametersAfter,
                         List<String> notes) {
        this(rule, layers, parametersBefore, parametersAfter, notes, null);
    }

    /** This report with the accuracy of the factorized model. */
    public LowRankReport withAccuracy(ModelAccuracy a) {
        return new LowRankReport(rule, layers, parametersBefore, parametersAfter, notes, a);
    }

    /** The share of the model's parameters removed, in [0, 1) (negative if it grew). */
    public double reduction() {
        return parametersBefore == 0 ? 0 : 1 - (double) parametersAfter / parametersBefore;
    }

    /** The layers that were factorized. */
    public List<Layer> factorized() {
        return layers.stream().filter(Layer::factorized).toList();
    }

    /**
     * One MatMul or Conv2D layer: its weight seen as an m×n matrix ({@code shape} is the weight's own shape), the
     * rank chosen, the weight parameters before and after ({@code r * (m + n)} when factorized, else unchanged) and
     * the share of the squared singular values kept.
     */
    public record Layer(String name, String op, List<Long> shape, int rows, int cols, int rank,
                        long parametersBefore, long parametersAfter, double keptEnergy, boolean factorized,
                        String note) {
        public Layer {
            shape = List.copyOf(shape);
        }
    }
}
