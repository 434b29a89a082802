package dev.kiln.bench;

import dev.kiln.lowrank.Svd;

import java.util.Locale;
import java.util.Random;

/**
 * Times the SVD behind low-rank factorization ({@link Svd}, EJML, double precision) on random square matrices: the
 * cost of factorizing one layer of that size. Not a JMH benchmark: a layer is factorized once, so one cold and a few
 * warm runs are what matters.
 *
 * <pre>java -cp benchmarks/target/kiln-benchmarks.jar dev.kiln.bench.SvdBenchmark [sizes, default 256 1024 2048]</pre>
 * Sizes above 1024 are run once: the time grows as n³ (about 5 s at 1024, 43 s at 2048 and, by that, about 6 minutes
 * at 4096 on two AVX2 cores, so 4096 is not in the default list).
 */
public final class SvdBenchmark {
    private SvdBenchmark() {
    }

    public static void main(String[] args) {
        int[] sizes = args.length == 0 ? new int[] {256, 1024, 2048}
                : java.util.Arrays.stream(args).mapToInt(Integer::parseInt).toArray();
        System.out.printf(Locale.ROOT, "EJML SVD (U, S, V), %d processors, Java %s%n",
                Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"));
        System.out.println("| size | first run (s) | best of warm runs (s) |");
        System.out.println("|---|---|---|");
        Random rnd = new Random(1);
        for (int n : sizes) {
            float[] w = new float[n * n];
            for (int i = 0; i < w.length; i++) {
                w[i] = (float) rnd.nextGaussian();
            }
            double first = time(w, n);
            double best = Double.NaN;
            if (n <= 1024) {
                best = Double.MAX_VALUE;
                for (int rep = 0; rep < 3; rep++) {
                    best = Math.min(best, time(w, n));
                }
            }
            System.out.printf(Locale.ROOT, "| %d×%d | %.3f | %s |%n", n, n, first,
                    Double.isNaN(best) ? "-" : String.format(Locale.ROOT, "%.3f", best));
        }
    }

    private static double time(float[] w, int n) {
        long t0 = System.nanoTime();
        Svd svd = Svd.of(w, n, n);
        double s = (System.nanoTime() - t0) / 1e9;
        if (svd.singularValues()[0] <= 0) {
            throw new IllegalStateException("degenerate SVD");
        }
        return s;
    }
}
