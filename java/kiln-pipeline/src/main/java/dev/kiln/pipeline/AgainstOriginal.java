package dev.kiln.pipeline;

import dev.kiln.data.RepresentativeData;
import dev.kiln.eval.ModelAccuracy;
import dev.kiln.graph.Graph;
import dev.kiln.tensorflow.TfRunner;

import java.util.List;

/** Accuracy of a changed graph against the graph it came from, both run in TensorFlow (so only the change counts). */
final class AgainstOriginal {
    private AgainstOriginal() {
    }

    /** {@code labels} may be null (then top-1 is NaN). */
    static ModelAccuracy measure(Graph original, Graph changed, RepresentativeData data, long[] labels) {
        try (TfRunner ref = TfRunner.of(original); TfRunner cand = TfRunner.of(changed)) {
            Evaluation e = Evaluation.run(ref, "original", List.of(new Evaluation.Candidate("changed", "tensorflow",
                    "graph", 0, cand)), data, labels, null);
            Evaluation.Result r = e.candidates().get(0);
            return new ModelAccuracy(e.samples(), e.reference().top1(), r.top1(), r.minCosine(), r.minSqnrDb());
        }
    }
}
