package dev.kiln.tensorflow;

import dev.kiln.graph.TensorType;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;

/**
 * What a model file declares, read without loading weights: for {@code kiln inspect}. A frozen GraphDef has one
 * pseudo meta graph (no tags) with one signature built from its placeholders and sinks.
 *
 * @param path      the model file or directory
 * @param format    {@code "saved_model"} or {@code "frozen_graph"}
 * @param metaGraphs one entry per meta graph (tag set)
 */
public record ModelDescription(Path path, String format, List<MetaGraph> metaGraphs) {

    /** One meta graph: its tags, TensorFlow version that wrote it, node and function counts, signatures. */
    public record MetaGraph(Set<String> tags, String tensorflowVersion, int nodeCount, int functionCount,
                            List<SignatureInfo> signatures) {
    }

    /** One signature: its key, method name and tensors. */
    public record SignatureInfo(String key, String methodName, List<TensorInfo> inputs, List<TensorInfo> outputs) {
    }

    /**
     * A signature tensor: public name, tensor name inside the graph ("x:0"), dtype and shape ({@code type} is null for
     * a tensor declared without a dtype: a composite or sparse tensor).
     */
    public record TensorInfo(String name, String tensorName, TensorType type) {
        @Override
        public String toString() {
            return name + " (" + tensorName + ") " + (type == null ? "<no dtype: composite or sparse tensor>" : type);
        }
    }
}
