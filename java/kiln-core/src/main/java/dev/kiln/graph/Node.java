package dev.kiln.graph;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * One operation of the graph, in TensorFlow's vocabulary: a name, an op type ("Conv2D"), its inputs as
 * {@link TensorRef} strings (data inputs first, then {@code ^control} inputs), its attributes, and the types of its
 * outputs as far as they are known. Immutable: passes make changed copies with the {@code with*} methods.
 */
public final class Node {
    private final String name;
    private final String op;
    private final List<String> inputs;
    private final Map<String, AttrValue> attrs;
    private final List<TensorType> outputTypes;
    private final String device;

    private Node(String name, String op, List<String> inputs, Map<String, AttrValue> attrs,
                 List<TensorType> outputTypes, String device) {
        this.name = Objects.requireNonNull(name, "name");
        this.op = Objects.requireNonNull(op, "op");
        this.inputs = List.copyOf(inputs);
        this.attrs = Collections.unmodifiableMap(new LinkedHashMap<>(attrs));
        this.outputTypes = List.copyOf(outputTypes);
        this.device = device == null ? "" : device;
    }

    public static Builder builder(String name, String op) {
        return new Builder(name, op);
    }

    public String name() {
        return name;
    }

    public String op() {
        return op;
    }

    /** All inputs in TensorFlow syntax, data inputs first, then control inputs ({@code ^name}). */
    public List<String> inputs() {
        return inputs;
    }

    /** The data inputs only (no control dependencies). */
    public List<TensorRef> dataInputs() {
        List<TensorRef> out = new ArrayList<>();
        for (String in : inputs) {
            if (!in.startsWith("^")) {
                out.add(TensorRef.parse(in));
            }
        }
        return out;
    }

    /** Data input {@code i}. */
    public TensorRef input(int i) {
        return dataInputs().get(i);
    }

    public int numDataInputs() {
        int n = 0;
        for (String in : inputs) {
            if (!in.startsWith("^")) {
                n++;
            }
        }
        return n;
    }

    /** Names of the nodes this one has a control dependency on. */
    public List<String> controlInputs() {
        List<String> out = new ArrayList<>();
        for (String in : inputs) {
            if (in.startsWith("^")) {
                out.add(in.substring(1));
            }
        }
        return out;
    }

    public Map<String, AttrValue> attrs() {
        return attrs;
    }

    public boolean hasAttr(String key) {
        return attrs.containsKey(key);
    }

    public AttrValue attr(String key) {
        return attrs.get(key);
    }

    /** Output types as far as known (may be shorter than the real number of outputs when unknown). */
    public List<TensorType> outputTypes() {
        return outputTypes;
    }

    /** The type of output {@code i}, or null when unknown. */
    public TensorType outputType(int i) {
        return i < outputTypes.size() ? outputTypes.get(i) : null;
    }

    public String device() {
        return device;
    }

    // ---- typed attribute access; each throws a message naming node and attribute when absent or mistyped ----

    public long attrInt(String key) {
        return get(key, AttrValue.I.class).value();
    }

    public long attrInt(String key, long orElse) {
        return attrs.get(key) instanceof AttrValue.I i ? i.value() : orElse;
    }

    public float attrFloat(String key) {
        return get(key, AttrValue.F.class).value();
    }

    public float attrFloat(String key, float orElse) {
        return attrs.get(key) instanceof AttrValue.F f ? f.value() : orElse;
    }

    public boolean attrBool(String key, boolean orElse) {
        return attrs.get(key) instanceof AttrValue.B b ? b.value() : orElse;
    }

    public String attrString(String key) {
        return get(key, AttrValue.S.class).text();
    }

    public String attrString(String key, String orElse) {
        return attrs.get(key) instanceof AttrValue.S s ? s.text() : orElse;
    }

    public DType attrType(String key) {
        return get(key, AttrValue.Type.class).value();
    }

    public Shape attrShape(String key) {
        return get(key, AttrValue.ShapeValue.class).value();
    }

    public Tensor attrTensor(String key) {
        return get(key, AttrValue.TensorValue.class).value();
    }

    public long[] attrInts(String key) {
        return get(key, AttrValue.ListI.class).values().clone();
    }

    public long[] attrInts(String key, long[] orElse) {
        return attrs.get(key) instanceof AttrValue.ListI l ? l.values().clone() : orElse;
    }

    private <T extends AttrValue> T get(String key, Class<T> type) {
        AttrValue v = attrs.get(key);
        if (v == null) {
            throw new IllegalStateException("node '" + name + "' (" + op + ") has no attribute '" + key + "'");
        }
        if (!type.isInstance(v)) {
            throw new IllegalStateException("node '" + name + "' (" + op + ") attribute '" + key + "' is "
                    + v.getClass().getSimpleName() + ", expected " + type.getSimpleName());
        }
        return type.cast(v);
    }

    // ---- changed copies ----

    public Node withInputs(List<String> newInputs) {
        return new Node(name, op, newInputs, attrs, outputTypes, device);
    }

    public Node withAttr(String key, AttrValue value) {
        Map<String, AttrValue> a = new LinkedHashMap<>(attrs);
        if (value == null) {
            a.remove(key);
        } else {
            a.put(key, value);
        }
        return new Node(name, op, inputs, a, outputTypes, device);
    }

    public Node withOutputTypes(List<TensorType> types) {
        return new Node(name, op, inputs, attrs, types, device);
    }

    public Node withName(String newName) {
        return new Node(newName, op, inputs, attrs, outputTypes, device);
    }

    public Builder toBuilder() {
        Builder b = new Builder(name, op);
        b.inputs.addAll(inputs);
        b.attrs.putAll(attrs);
        b.outputTypes.addAll(outputTypes);
        b.device = device;
        return b;
    }

    @Override
    public String toString() {
        return name + " = " + op + inputs;
    }

    /** Builds a node; the usual way to make new ones in import and passes. */
    public static final class Builder {
        private String name;
        private String op;
        private final List<String> inputs = new ArrayList<>();
        private final Map<String, AttrValue> attrs = new LinkedHashMap<>();
        private final List<TensorType> outputTypes = new ArrayList<>();
        private String device = "";

        private Builder(String name, String op) {
            this.name = name;
            this.op = op;
        }

        public Builder name(String n) {
            this.name = n;
            return this;
        }

        public Builder op(String o) {
            this.op = o;
            return this;
        }

        public Builder input(String ref) {
            inputs.add(ref);
            return this;
        }

        public Builder input(TensorRef ref) {
            inputs.add(ref.toString());
            return this;
        }

        public Builder inputs(List<String> refs) {
            inputs.clear();
            inputs.addAll(refs);
            return this;
        }

        public Builder attr(String key, AttrValue value) {
            attrs.put(key, value);
            return this;
        }

        public Builder attr(String key, long v) {
            return attr(key, AttrValue.of(v));
        }

        public Builder attr(String key, float v) {
            return attr(key, AttrValue.of(v));
        }

        public Builder attr(String key, boolean v) {
            return attr(key, AttrValue.of(v));
        }

        public Builder attr(String key, String v) {
            return attr(key, AttrValue.of(v));
        }

        public Builder attr(String key, DType v) {
            return attr(key, AttrValue.of(v));
        }

        public Builder attr(String key, Tensor v) {
            return attr(key, AttrValue.of(v));
        }

        public Builder removeAttr(String key) {
            attrs.remove(key);
            return this;
        }

        public Builder outputType(TensorType t) {
            outputTypes.add(t);
            return this;
        }

        public Builder outputTypes(List<TensorType> ts) {
            outputTypes.clear();
            outputTypes.addAll(ts);
            return this;
        }

        public Builder device(String d) {
            this.device = d;
            return this;
        }

        public Node build() {
            return new Node(name, op, inputs, attrs, outputTypes, device);
        }
    }
}
