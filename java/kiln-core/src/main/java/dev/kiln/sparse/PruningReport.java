package dev.kiln.sparse;

import dev.kiln.eval.ModelAccuracy;

import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * What a {@link Pruner} did: one row per pruned layer, the notes (layers skipped and why), the sparsity of all
 * pruned layers together; once the layers were packed ({@link #withPacked(List)}), their packed and dense sizes; and,
 * where the pruned model was evaluated against the original, its accuracy (else null).
 */
public record PruningReport(String plan, List<Layer> layers, List<String> notes, List<Packed> packed,
                            ModelAccuracy accuracy) {

    public PruningReport {
        layers = List.copyOf(layers);
        notes = List.copyOf(notes);
        packed = List.copyOf(packed);
    }

    /** A report without packed sizes or an evaluation. */
    public PruningReport(String plan, List<Layer> layers, List<String> notes) {
        this(plan, layers, notes, List.of(), null);
    }

    /** One layer as packed in {@link PackedWeights}: its format and its packed and dense float32 bytes. */
    public record Packed(String name, String format, long packedBytes, long denseBytes) {
        /** Packed over dense bytes. */
        public double ratio() {
            return denseBytes == 0 ? 0 : (double) packedBytes / denseBytes;
        }
    }

    /** This report with the sizes of the packed layers. */
    public PruningReport withPacked(List<PackedWeights.Layer> layers) {
        return new PruningReport(plan, this.layers, notes, layers.stream()
                .map(l -> new Packed(l.name(), l.format().label(), l.packedBytes(), l.denseBytes())).toList(),
                accuracy);
    }

    /** Packed bytes over all packed layers. */
    public long packedBytes() {
        return packed.stream().mapToLong(Packed::packedBytes).sum();
    }

    /** Dense float32 bytes over all packed layers. */
    public long denseBytes() {
        return packed.stream().mapToLong(Packed::denseBytes).sum();
    }

    /** This report with the accuracy of the pruned model. */
    public PruningReport withAccuracy(ModelAccuracy a) {
        return new PruningReport(plan, layers, notes, packed, a);
    }

    /**
     * One pruned layer: its node name and op, the weight Const it now reads, the weight shape (TF layout), the
     * number of weights and of zeros after pruning, the pattern label, and the N:M check of the result along the
     * input-channel axis (the plan's N:M, or 2:4 for other patterns; null where the axis is not a multiple of M).
     */
    public record Layer(String name, String op, String weight, long[] shape, long weights, long zeros,
                        String pattern, NMReport nm) {
        public Layer {
            shape = shape.clone();
        }

        @Override
        public long[] shape() {
            return shape.clone();
        }

        public double sparsity() {
            return weights == 0 ? 0 : (double) zeros / weights;
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%s (%s) %s: %d of %d zero (%.2f%%), %s%s", name, op,
                    Arrays.toString(shape), zeros, weights, 100 * sparsity(), pattern,
                    nm == null ? "" : ", " + nm.n() + ":" + nm.m() + " " + (nm.ok() ? "ok" : "violated"));
        }
    }

    public long weights() {
        return layers.stream().mapToLong(Layer::weights).sum();
    }

    public long zeros() {
        return layers.stream().mapToLong(Layer::zeros).sum();
    }

    /** Zeros over weights, over all pruned layers. */
    public double globalSparsity() {
        long w = weights();
        return w == 0 ? 0 : (double) zeros() / w;
    }

    /** A markdown table, one row per layer and a total. */
    public String toMarkdown() {
        StringBuilder sb = new StringBuilder(
                "| layer | op | shape | weights | zeros | sparsity | pattern | N:M check |\n");
        sb.append("|---|---|---|---|---|---|---|---|\n");
        for (Layer l : layers) {
            sb.append(String.format(Locale.ROOT, "| %s | %s | %s | %d | %d | %.2f%% | %s | %s |%n", l.name(), l.op(),
                    Arrays.toString(l.shape()), l.weights(), l.zeros(), 100 * l.sparsity(), l.pattern(),
                    l.nm() == null ? "n/a" : l.nm().n() + ":" + l.nm().m() + (l.nm().ok() ? " ok" : " violated")));
        }
        sb.append(String.format(Locale.ROOT, "| total | | | %d | %d | %.2f%% | | |%n", weights(), zeros(),
                100 * globalSparsity()));
        if (!packed.isEmpty()) {
            sb.append("\n| layer | packed as | packed bytes | dense bytes | packed / dense |\n|---|---|---|---|---|\n");
            for (Packed p : packed) {
                sb.append(String.format(Locale.ROOT, "| %s | %s | %d | %d | %.3f |%n", p.name(), p.format(),
                        p.packedBytes(), p.denseBytes(), p.ratio()));
            }
            sb.append(String.format(Locale.ROOT, "| total | | %d | %d | %.3f |%n", packedBytes(), denseBytes(),
                    denseBytes() == 0 ? 0 : (double) packedBytes() / denseBytes()));
        }
        return sb.toString();
    }

    /** The report as JSON (for sparsity_report.json). */
    public String toJson() {
        StringBuilder sb = new StringBuilder("{\n  \"plan\": ").append(quote(plan));
        sb.append(String.format(Locale.ROOT, ",\n  \"weights\": %d,\n  \"zeros\": %d,\n  \"global_sparsity\": %.6f",
                weights(), zeros(), globalSparsity()));
        sb.append(",\n  \"layers\": [");
        for (int i = 0; i < layers.size(); i++) {
            Layer l = layers.get(i);
            sb.append(i == 0 ? "\n" : ",\n");
            sb.append(String.format(Locale.ROOT, "    {\"name\": %s, \"op\": %s, \"weight\": %s, \"shape\": %s, "
                            + "\"weights\": %d, \"zeros\": %d, \"sparsity\": %.6f, \"pattern\": %s, \"nm\": %s}",
                    quote(l.name()), quote(l.op()), quote(l.weight()), Arrays.toString(l.shape()), l.weights(),
                    l.zeros(), l.sparsity(), quote(l.pattern()), l.nm() == null ? "null"
                            : "{\"n\": " + l.nm().n() + ", \"m\": " + l.nm().m() + ", \"groups\": " + l.nm().nbGroups()
                            + ", \"bad\": " + l.nm().nbBad() + "}"));
        }
        sb.append("\n  ],\n  \"packed_bytes\": ").append(packedBytes());
        sb.append(",\n  \"dense_bytes\": ").append(denseBytes());
        sb.append(",\n  \"packed\": [");
        for (int i = 0; i < packed.size(); i++) {
            Packed p = packed.get(i);
            sb.append(i == 0 ? "\n" : ",\n").append(String.format(Locale.ROOT, "    {\"name\": %s, \"format\": %s, "
                    + "\"packed_bytes\": %d, \"dense_bytes\": %d}", quote(p.name()), quote(p.format()),
                    p.packedBytes(), p.denseBytes()));
        }
        sb.append(packed.isEmpty() ? "]" : "\n  ]");
        sb.append(",\n  \"notes\": [");
        for (int i = 0; i < notes.size(); i++) {
            sb.append(i == 0 ? "" : ", ").append(quote(notes.get(i)));
        }
        sb.append("]");
        if (accuracy != null) {
            sb.append(",\n  \"accuracy\": ").append(accuracy.toJson());
        }
        return sb.append("\n}\n").toString();
    }

    private static String quote(String s) {
        StringBuilder sb = new StringBuilder("\"");
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                default -> sb.append(c < 0x20 ? String.format("\\u%04x", (int) c) : String.valueOf(c));
            }
        }
        return sb.append('"').toString();
    }
}
