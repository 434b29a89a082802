package dev.kiln.passes;

import dev.kiln.graph.Graph;

/**
 * One graph transformation. A pass changes the graph in place (copy it first to keep the original) and reports
 * what it changed. Passes compose: {@code optimize_for_inference} is a sequence of them ({@link PassPipeline}).
 */
public interface GraphPass {

    /** A short stable name used in reports, e.g. {@code "fold-batch-norm"}. */
    String name();

    /** Applies the pass to {@code graph} and says what changed. */
    PassResult apply(Graph graph);
}
