package dev.kiln.passes;

/**
 * The standard passes and pipelines.
 *
 * <pre>{@code
 * Graph g = ...;                                   // from TfImporter
 * List<PassResult> r = Passes.optimizeForInference().run(g);
 * r.forEach(System.out::println);
 * }</pre>
 */
public final class Passes {
    private Passes() {
    }

    /**
     * TensorFlow's optimize_for_inference, Kiln's way: prune to the outputs → strip training and no-op nodes → fold
     * constants → fold batch norm → fold constants (with the strip / fold / redundant-op passes repeated to a fixed
     * point) → fuse bias + activation → remove redundant Reshape/Transpose/Cast → prune.
     */
    public static PassPipeline optimizeForInference() {
        return PassPipeline.of(new PruneToOutputs())
                .thenRepeat(new StripTrainingOps(), new FoldConstants())
                .thenRepeat(new FoldBatchNorm(), new FoldConstants(), new RemoveRedundantReshapeTranspose())
                .then(new FuseBiasActivation())
                .then(new PruneToOutputs());
    }

    /** Only the cleanup: prune, strip training/no-op nodes, fold constants, prune (no BN folding, no fusion marks). */
    public static PassPipeline cleanup() {
        return PassPipeline.of(new PruneToOutputs())
                .thenRepeat(new StripTrainingOps(), new FoldConstants())
                .then(new PruneToOutputs());
    }
}
