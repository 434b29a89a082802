package dev.kiln.sparse;

import dev.kiln.KilnArgumentException;

import java.util.Locale;

/**
 * What a {@link Pruner} keeps of each selected weight: the largest magnitudes to a target sparsity (per layer or with
 * one threshold over all selected layers), N of every M along the input-channel axis, or the k x k blocks of largest
 * energy on the {@code [out, in * kh * kw]} view.
 */
public sealed interface PruningPattern {

    /** The name used in reports: {@code "unstructured"}, {@code "2:4"}, {@code "block4x4"}. */
    String label();

    /** Unstructured magnitude pruning of each layer to {@code sparsity} in [0, 1). */
    static PruningPattern unstructured(double sparsity) {
        return new Unstructured(sparsity, false);
    }

    /** Unstructured with one magnitude threshold over all selected layers: together they are {@code sparsity}. */
    static PruningPattern unstructuredGlobal(double sparsity) {
        return new Unstructured(sparsity, true);
    }

    /** N:M along the input-channel axis (TensorRT / cuSPARSELt: Conv2D HWIO axis I, MatMul axis K). */
    static PruningPattern nm(int n, int m) {
        return new NM(n, m);
    }

    /** The 2:4 pattern of sparse tensor cores. */
    static PruningPattern twoFour() {
        return new NM(2, 4);
    }

    /** k x k blocks of largest L2 energy, to {@code sparsity} of the blocks. */
    static PruningPattern block(int k, double sparsity) {
        return new Block(k, sparsity);
    }

    /**
     * Parses the {@code --prune} spelling: {@code S} (unstructured share, e.g. 0.5), {@code global:S}, {@code N:M}
     * (e.g. 2:4) or {@code KxK:S} (blocks).
     */
    static PruningPattern parse(String spec) {
        KilnArgumentException.check(spec != null, "pruning spec must not be null");
        String v = spec.trim().toLowerCase(Locale.ROOT);
        try {
            if (v.startsWith("global:")) {
                return unstructuredGlobal(Double.parseDouble(v.substring(7)));
            }
            if (v.contains("x") && v.contains(":")) {
                String[] kb = v.split(":");
                String[] k = kb[0].split("x");
                KilnArgumentException.check(kb.length == 2 && k.length == 2 && k[0].equals(k[1]),
                        "blocks must be KxK:S, got '" + spec + "'");
                return block(Integer.parseInt(k[0]), Double.parseDouble(kb[1]));
            }
            if (v.contains(":")) {
                String[] nm = v.split(":");
                KilnArgumentException.check(nm.length == 2, "N:M expected, got '" + spec + "'");
                return nm(Integer.parseInt(nm[0]), Integer.parseInt(nm[1]));
            }
            return unstructured(Double.parseDouble(v));
        } catch (NumberFormatException e) {
            throw new KilnArgumentException("expected S, global:S, N:M or KxK:S, got '" + spec + "'");
        }
    }

    private static void checkSparsity(double sparsity) {
        KilnArgumentException.check(sparsity >= 0 && sparsity < 1,
                "sparsity must be within [0, 1), got " + sparsity);
    }

    /** See {@link #unstructured(double)} and {@link #unstructuredGlobal(double)}. */
    record Unstructured(double sparsity, boolean global) implements PruningPattern {
        public Unstructured {
            checkSparsity(sparsity);
        }

        @Override
        public String label() {
            return "unstructured";
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "unstructured %.1f%%%s", 100 * sparsity, global ? " (global)" : "");
        }
    }

    /** See {@link #nm(int, int)}. */
    record NM(int n, int m) implements PruningPattern {
        public NM {
            KilnArgumentException.check(m > 0, "N:M needs m > 0, got " + n + ":" + m);
            KilnArgumentException.check(n > 0 && n < m, "N:M needs 0 < n < m, got " + n + ":" + m);
            KilnArgumentException.check(m <= 16, "N:M needs m <= 16 (the kernels' limit), got " + n + ":" + m);
        }

        @Override
        public String label() {
            return n + ":" + m;
        }

        @Override
        public String toString() {
            return label() + " along the input-channel axis";
        }
    }

    /** See {@link #block(int, double)}. */
    record Block(int k, double sparsity) implements PruningPattern {
        public Block {
            KilnArgumentException.check(k >= 1, "block size must be >= 1, got " + k);
            checkSparsity(sparsity);
        }

        @Override
        public String label() {
            return "block" + k + "x" + k;
        }

        @Override
        public String toString() {
            return String.format(Locale.ROOT, "%s blocks %.1f%%", label(), 100 * sparsity);
        }
    }
}
