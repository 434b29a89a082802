package dev.kiln.tensorflow;

import dev.kiln.KilnArgumentException;
import dev.kiln.graph.Shape;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * How {@link TfImporter} reads a model. Immutable; make one with {@link #builder()} or use {@link #defaults()}.
 *
 * <ul>
 *   <li>{@code tags}: the meta graph to load from a SavedModel (default {@code {"serve"}}); a meta graph whose tag
 *       set equals these is preferred, else the only one that contains them all.</li>
 *   <li>{@code signature}: the signature key; by default (null) {@code serving_default}, or, in a SavedModel
 *       without one, its only callable signature (see {@link TfImporter#resolveSignature}).</li>
 *   <li>{@code inputNames} / {@code outputNames}: for frozen GraphDef files, the tensors that are the model's inputs
 *       and outputs ({@code "x"} or {@code "x:0"}); empty means inferred (Placeholders in, sinks out).</li>
 *   <li>{@code inputShapes}: shapes of inputs by name: a SavedModel's signature inputs (by signature key or tensor
 *       name), a frozen GraphDef's inputs (as in {@code inputNames}), for a cut at an inner tensor whose shape
 *       TensorFlow cannot infer, or to fix a placeholder's unknown dimensions (a Keras RNN's time steps, so that
 *       its loop can be unrolled);
 *       {@link #parseTensorSpec} reads tf2onnx's {@code name:0[1,490]} syntax.</li>
 *   <li>{@code recurrentLayers} (default {@link RecurrentLayers#AUTO}): unroll a Keras LSTM's loop or keep the layer
 *       whole.</li>
 *   <li>{@code loadWeights} (default true): read variable values from the checkpoint and turn variables into
 *       constants; false imports the graph only (variables stay as variable ops), e.g. for {@code kiln inspect} or a
 *       model published without its weights.</li>
 * </ul>
 */
public final class ImportOptions {
    private static final ImportOptions DEFAULTS = builder().build();

    private final Set<String> tags;
    private final String signature;
    private final List<String> inputNames;
    private final List<String> outputNames;
    /** The signature value that asks exporters for every callable signature of a SavedModel. */
    public static final String ALL_SIGNATURES = "all";

    private final Map<String, Shape> inputShapes;
    private final boolean loadWeights;
    private final RecurrentLayers recurrentLayers;

    /** A tensor name with an optional shape: {@code name:0[1,490]} (dimension -1 or ? for unknown). */
    public record TensorSpec(String name, Shape shape) { }

    /**
     * Reads tf2onnx's input syntax: a tensor name, optionally followed by its shape in brackets
     * ({@code Reshape_1:0[1,490]}, {@code x[?,28,28,1]}).
     */
    public static TensorSpec parseTensorSpec(String spec) {
        String s = spec.strip();
        int open = s.indexOf('[');
        if (open < 0) {
            KilnArgumentException.check(!s.isEmpty() && !s.contains("]"), "bad tensor '" + spec + "'");
            return new TensorSpec(s, null);
        }
        KilnArgumentException.check(open > 0 && s.endsWith("]"), "bad tensor '" + spec + "': expected NAME or "
                + "NAME[d0,d1,...], for instance Reshape_1:0[1,490]");
        String dims = s.substring(open + 1, s.length() - 1).strip();
        long[] d = new long[dims.isEmpty() ? 0 : dims.split(",").length];
        String[] parts = dims.isEmpty() ? new String[0] : dims.split(",");
        for (int i = 0; i < parts.length; i++) {
            String p = parts[i].strip();
            try {
                d[i] = p.equals("?") || p.equals("-1") ? -1 : Long.parseLong(p);
            } catch (NumberFormatException e) {
                throw new KilnArgumentException("bad shape in '" + spec + "': dimension " + i + " is '" + p
                        + "', not a number, -1 or ?");
            }
            KilnArgumentException.check(d[i] >= -1, "bad shape in '" + spec + "': dimension " + i + " is " + d[i]);
        }
        return new TensorSpec(s.substring(0, open).strip(), Shape.of(d));
    }

    private ImportOptions(Builder b) {
        this.tags = java.util.Collections.unmodifiableSet(new TreeSet<>(b.tags));
        this.signature = b.signature;
        this.inputNames = List.copyOf(b.inputNames);
        this.outputNames = List.copyOf(b.outputNames);
        this.inputShapes = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(b.inputShapes));
        this.loadWeights = b.loadWeights;
        this.recurrentLayers = b.recurrentLayers;
    }

    public static ImportOptions defaults() {
        return DEFAULTS;
    }

    public static Builder builder() {
        return new Builder();
    }

    public Builder toBuilder() {
        return new Builder().tags(tags).signature(signature).inputNames(inputNames).outputNames(outputNames)
                .inputShapes(inputShapes).loadWeights(loadWeights).recurrentLayers(recurrentLayers);
    }

    public Set<String> tags() {
        return tags;
    }

    /** The requested signature key, or null for the automatic choice. */
    public String signature() {
        return signature;
    }

    public List<String> inputNames() {
        return inputNames;
    }

    public List<String> outputNames() {
        return outputNames;
    }

    /** Shapes given for inputs, by the names used in {@link #inputNames()}. */
    public Map<String, Shape> inputShapes() {
        return inputShapes;
    }

    public boolean loadWeights() {
        return loadWeights;
    }

    public RecurrentLayers recurrentLayers() {
        return recurrentLayers;
    }

    @Override
    public String toString() {
        return "ImportOptions[tags " + tags + ", signature " + (signature == null ? "automatic" : signature) + ", inputs " + inputNames + ", outputs "
                + outputNames + (inputShapes.isEmpty() ? "" : ", input shapes " + inputShapes) + ", loadWeights " + loadWeights
                + (recurrentLayers == RecurrentLayers.AUTO ? "" : ", recurrent layers " + recurrentLayers) + "]";
    }

    public static final class Builder {
        private Set<String> tags = Set.of("serve");
        private String signature;
        private List<String> inputNames = List.of();
        private List<String> outputNames = List.of();
        private Map<String, Shape> inputShapes = Map.of();
        private boolean loadWeights = true;
        private RecurrentLayers recurrentLayers = RecurrentLayers.AUTO;

        private Builder() {
        }

        public Builder tags(Set<String> t) {
            dev.kiln.KilnArgumentException.check(t != null && !t.isEmpty(), "tags must not be empty");
            this.tags = Set.copyOf(t);
            return this;
        }

        public Builder tags(String... t) {
            return tags(Set.of(t));
        }

        /** A signature key, or null for the automatic choice. */
        public Builder signature(String s) {
            dev.kiln.KilnArgumentException.check(s == null || !s.isEmpty(), "signature must not be empty");
            this.signature = s;
            return this;
        }

        public Builder inputNames(List<String> names) {
            this.inputNames = List.copyOf(names);
            return this;
        }

        public Builder outputNames(List<String> names) {
            this.outputNames = List.copyOf(names);
            return this;
        }

        public Builder inputShapes(Map<String, Shape> shapes) {
            this.inputShapes = Map.copyOf(shapes);
            return this;
        }

        public Builder loadWeights(boolean b) {
            this.loadWeights = b;
            return this;
        }

        /**
         * Inputs and shapes as the CLI writes them: {@code inputs} in tf2onnx's syntax ({@code Reshape_1:0[1,490]}, the
         * shape optional) and {@code inputShapes} as {@code NAME[d0,d1,...]} (the shape required).
         */
        public Builder tensorSpecs(List<String> inputs, List<String> inputShapes) {
            List<String> names = new java.util.ArrayList<>();
            Map<String, Shape> shapes = new LinkedHashMap<>();
            for (String in : inputs) {
                TensorSpec t = parseTensorSpec(in);
                names.add(t.name());
                if (t.shape() != null) {
                    shapes.put(t.name(), t.shape());
                }
            }
            for (String s : inputShapes) {
                TensorSpec t = parseTensorSpec(s);
                KilnArgumentException.check(t.shape() != null, "--input-shapes " + s + ": no shape in brackets");
                shapes.put(t.name(), t.shape());
            }
            return inputNames(names).inputShapes(shapes);
        }

        public Builder recurrentLayers(RecurrentLayers r) {
            this.recurrentLayers = java.util.Objects.requireNonNull(r, "recurrentLayers");
            return this;
        }

        public ImportOptions build() {
            return new ImportOptions(this);
        }
    }
}
