package dev.kiln.bench;

import dev.kiln.kernels.AxisView;
import dev.kiln.kernels.KernelBackends;
import dev.kiln.kernels.Kernels;
import dev.kiln.sparse.Sparsity;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * Masking and packing throughput, the numbers of docs/sparsity.md: on 25 random float32 MatMul weights of
 * 1024 x 1024 (100 MiB), per kernel backend, the dense bytes per second of masking (unstructured 50%, 2:4, 4x4
 * blocks at 50%) and of packing (CSR of the 50% weights, BSR of the block weights, 2:4 of the 2:4 weights), against
 * a plain {@code System.arraycopy} of the same bytes. Each cell is the best of 3 timed passes after one warm-up.
 *
 * Run: {@code java -Xmx4g -cp "benchmarks/target/classes:$(cat benchmarks/target/classpath.txt)"
 * dev.kiln.bench.SparsityBenchmark [backend ...]}
 */
public final class SparsityBenchmark {
    static final int N = 1024;
    static final int LAYERS = 25;

    private SparsityBenchmark() {
    }

    public static void main(String[] args) {
        List<String> backends = args.length > 0 ? List.of(args) : KernelBackends.availableNames();
        List<float[]> weights = new ArrayList<>();
        SplittableRandom rnd = new SplittableRandom(12);
        for (int i = 0; i < LAYERS; i++) {
            float[] w = new float[N * N];
            for (int j = 0; j < w.length; j++) {
                w[j] = (float) rnd.nextGaussian();
            }
            weights.add(w);
        }
        double gb = (double) LAYERS * N * N * 4 / 1e9;
        System.out.printf(Locale.ROOT, "machine: %s, %d cores, %s; %d x [%d, %d] float32 = %.1f MB; threads %d%n",
                System.getProperty("os.arch"), Runtime.getRuntime().availableProcessors(),
                System.getProperty("java.vm.name") + " " + System.getProperty("java.version"), LAYERS, N, N, gb * 1e3,
                KernelBackends.threads());
        float[] dst = new float[N * N];
        double copy = gbps(gb, w -> System.arraycopy(w, 0, dst, 0, w.length), weights);

        System.out.println();
        System.out.println("| backend | mask 50% | mask 2:4 | mask 4x4 blocks 50% | pack CSR | pack BSR 4x4 | pack 2:4 "
                + "| System.arraycopy |");
        System.out.println("|---|---:|---:|---:|---:|---:|---:|---:|");
        for (String name : backends) {
            Kernels k = KernelBackends.get(name);
            AxisView rowsOf4 = AxisView.of(new long[] {N, N}, 1); // groups of 4 along a row, as pack24 reads them
            long keep = Sparsity.keepCount((long) N * N, 0.5);
            long keepBlocks = Sparsity.keepCount((long) (N / 4) * (N / 4), 0.5);
            double mu = gbps(gb, w -> k.maskMagnitude(w, keep), weights);
            double m24 = gbps(gb, w -> k.maskNM(w, rowsOf4, 2, 4), weights);
            double mb = gbps(gb, w -> k.maskBlock(w, N, N, 4, 4, keepBlocks), weights);
            List<float[]> half = new ArrayList<>();
            List<float[]> nm = new ArrayList<>();
            List<float[]> blocks = new ArrayList<>();
            for (float[] w : weights) {
                half.add(Sparsity.apply(w, k.maskMagnitude(w, keep)));
                nm.add(Sparsity.apply(w, k.maskNM(w, rowsOf4, 2, 4)));
                blocks.add(Sparsity.apply(w, k.maskBlock(w, N, N, 4, 4, keepBlocks)));
            }
            double pc = gbps(gb, w -> k.packCsr(w, N, N), half);
            double pb = gbps(gb, w -> k.packBsr(w, N, N, 4, 4), blocks);
            double p24 = gbps(gb, w -> k.pack24(w, N, N), nm);
            System.out.printf(Locale.ROOT, "| %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f |%n", k.name(), mu,
                    m24, mb, pc, pb, p24, copy);
        }
        System.out.println("\n(GB/s of dense float32 input; 1 GB = 1e9 bytes)");
    }

    /** Dense GB/s over all weights: the best of 3 timed passes after one warm-up pass. */
    static double gbps(double gb, Consumer<float[]> op, List<float[]> weights) {
        long best = Long.MAX_VALUE;
        for (int pass = 0; pass < 4; pass++) {
            long t0 = System.nanoTime();
            for (float[] w : weights) {
                op.accept(w);
            }
            long t = System.nanoTime() - t0;
            if (pass > 0) {
                best = Math.min(best, t);
            }
        }
        return gb / (best / 1e9);
    }
}
