package dev.kiln.sparse;

import dev.kiln.KilnArgumentException;

/**
 * When to prune during training and to what sparsity, with the semantics of TensorFlow Model Optimization's
 * {@code tfmot.sparsity.keras.ConstantSparsity} and {@code PolynomialDecay}
 * (github.com/tensorflow/model-optimization,
 * {@code tensorflow_model_optimization/python/core/sparsity/keras/pruning_schedule.py}):
 *
 * <ul>
 *   <li>{@link #shouldPrune(long)} is TFMOT's {@code _should_prune_in_step}:
 *       {@code step >= begin && (step <= end || end < 0) && floormod(step - begin, frequency) == 0};</li>
 *   <li>{@link #sparsity(long)} is the value TFMOT's {@code __call__} returns: the constant target, or
 *       {@code final + (initial - final) * (1 - p)^power} with
 *       {@code p = min(1, max(0, (step - begin) / (end - begin)))}.</li>
 * </ul>
 *
 * The parameters are validated as TFMOT's {@code _validate_step} and {@code _validate_sparsity} do (begin >= 0; end
 * -1 or >= begin, and not -1 for PolynomialDecay; frequency > 0; sparsities in [0, 1)). Two differences: Kiln
 * computes in double where TFMOT computes p in float32, and PolynomialDecay needs end > begin (TFMOT would divide by
 * zero).
 */
public sealed interface PruningSchedule {

    /** The sparsity at {@code step} (also for steps where {@link #shouldPrune} is false, as TFMOT returns it). */
    double sparsity(long step);

    /** Whether the weights are pruned at {@code step}. */
    boolean shouldPrune(long step);

    long beginStep();

    /** The last step that prunes, or -1 for no end. */
    long endStep();

    long frequency();

    /** TFMOT's {@code ConstantSparsity(target_sparsity, begin_step, end_step=-1, frequency=100)}. */
    static ConstantSparsity constant(double targetSparsity, long beginStep) {
        return new ConstantSparsity(targetSparsity, beginStep, -1, 100);
    }

    static ConstantSparsity constant(double targetSparsity, long beginStep, long endStep, long frequency) {
        return new ConstantSparsity(targetSparsity, beginStep, endStep, frequency);
    }

    /** TFMOT's {@code PolynomialDecay(initial, final, begin_step, end_step, power=3, frequency=100)}. */
    static PolynomialDecay polynomialDecay(double initialSparsity, double finalSparsity, long beginStep,
                                           long endStep) {
        return new PolynomialDecay(initialSparsity, finalSparsity, beginStep, endStep, 3, 100);
    }

    static PolynomialDecay polynomialDecay(double initialSparsity, double finalSparsity, long beginStep,
                                           long endStep, double power, long frequency) {
        return new PolynomialDecay(initialSparsity, finalSparsity, beginStep, endStep, power, frequency);
    }

    /** TFMOT's {@code _should_prune_in_step}. */
    private static boolean inStep(long step, long begin, long end, long frequency) {
        boolean inRange = step >= begin && (step <= end || end < 0);
        return inRange && Math.floorMod(step - begin, frequency) == 0;
    }

    private static void validate(long begin, long end, long frequency, boolean allowNoEnd) {
        KilnArgumentException.check(begin >= 0, "beginStep must be >= 0, got " + begin);
        KilnArgumentException.check(allowNoEnd || end != -1, "endStep cannot be -1 for PolynomialDecay");
        if (end != -1) {
            KilnArgumentException.check(end >= 0, "endStep must be -1 or >= 0, got " + end);
            KilnArgumentException.check(end >= begin, "beginStep " + begin + " must be <= endStep " + end);
        }
        KilnArgumentException.check(frequency > 0, "frequency must be > 0, got " + frequency);
    }

    private static void validateSparsity(double s, String name) {
        KilnArgumentException.check(s >= 0 && s < 1, name + " must be within [0, 1), got " + s);
    }

    /** The same sparsity at every pruning step. */
    record ConstantSparsity(double targetSparsity, long beginStep, long endStep, long frequency)
            implements PruningSchedule {
        public ConstantSparsity {
            validate(beginStep, endStep, frequency, true);
            validateSparsity(targetSparsity, "targetSparsity");
        }

        @Override
        public double sparsity(long step) {
            return targetSparsity;
        }

        @Override
        public boolean shouldPrune(long step) {
            return inStep(step, beginStep, endStep, frequency);
        }
    }

    /** Sparsity that rises fast from {@code initial} and levels off at {@code final} by {@code endStep}. */
    record PolynomialDecay(double initialSparsity, double finalSparsity, long beginStep, long endStep, double power,
                           long frequency) implements PruningSchedule {
        public PolynomialDecay {
            validate(beginStep, endStep, frequency, false);
            KilnArgumentException.check(endStep > beginStep,
                    "PolynomialDecay needs endStep > beginStep, got " + beginStep + ".." + endStep);
            validateSparsity(initialSparsity, "initialSparsity");
            validateSparsity(finalSparsity, "finalSparsity");
        }

        @Override
        public double sparsity(long step) {
            double p = Math.min(1.0, Math.max(0.0, (double) (step - beginStep) / (endStep - beginStep)));
            return finalSparsity + (initialSparsity - finalSparsity) * Math.pow(1 - p, power);
        }

        @Override
        public boolean shouldPrune(long step) {
            return inStep(step, beginStep, endStep, frequency);
        }
    }
}
