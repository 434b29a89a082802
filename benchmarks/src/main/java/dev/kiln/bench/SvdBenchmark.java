package dev.kiln.bench;

import dev.kiln.lowrank.Svd;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * Times the SVD behind low-rank factorization on random square matrices with both engines side by side in one run:
 * LAPACK's {@code dgesdd} (OpenBLAS through JavaCPP) and EJML (pure Java): the cost of factorizing one layer of that
 * size. Not a JMH benchmark: a layer is factorized once, so one cold and a few warm runs are what matters.
 *
 * <pre>java -cp "benchmarks/target/classes:$(cat benchmarks/target/classpath.txt)" dev.kiln.bench.SvdBenchmark [--ejml-max N] [sizes...]</pre>
 * Default sizes 256 1024 2048 4096. Sizes above 1024 are run once. EJML grows as n³ and one thread (about 6 minutes at
 * 4096 on two AVX2 cores): {@code --ejml-max N} leaves it out above N.
 */
public final class SvdBenchmark {
    private SvdBenchmark() {
    }

    public static void main(String[] args) {
        List<Integer> sizes = new ArrayList<>();
        int ejmlMax = Integer.MAX_VALUE;
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--ejml-max")) {
                ejmlMax = Integer.parseInt(args[++i]);
            } else {
                sizes.add(Integer.parseInt(args[i]));
            }
        }
        if (sizes.isEmpty()) {
            sizes = List.of(256, 1024, 2048, 4096);
        }
        System.out.printf(Locale.ROOT, "SVD (U, S, Vᵀ, double precision), %d processors, Java %s%n",
                Runtime.getRuntime().availableProcessors(), System.getProperty("java.version"));
        System.out.println("| size | LAPACK first (s) | LAPACK best warm (s) | EJML first (s) | EJML best warm (s) "
                + "| EJML / LAPACK |");
        System.out.println("|---|---|---|---|---|---|");
        Random rnd = new Random(1);
        for (int n : sizes) {
            double[] w = new double[n * n];
            for (int i = 0; i < w.length; i++) {
                w[i] = rnd.nextGaussian();
            }
            double[] lapack = time(w, n, Svd.Engine.LAPACK);
            double[] ejml = n <= ejmlMax ? time(w, n, Svd.Engine.EJML) : new double[] {Double.NaN, Double.NaN};
            double ratio = best(ejml) / best(lapack);
            System.out.printf(Locale.ROOT, "| %d×%d | %.3f | %s | %s | %s | %s |%n", n, n, lapack[0], fmt(lapack[1]),
                    fmt(ejml[0]), fmt(ejml[1]), Double.isNaN(ratio) ? "-" : String.format(Locale.ROOT, "%.1fx",
                            ratio));
        }
    }

    /** The first run and the best of three warm runs (NaN above 1024: run once). */
    private static double[] time(double[] w, int n, Svd.Engine engine) {
        double first = once(w, n, engine);
        double best = Double.NaN;
        if (n <= 1024) {
            best = Double.MAX_VALUE;
            for (int rep = 0; rep < 3; rep++) {
                best = Math.min(best, once(w, n, engine));
            }
        }
        return new double[] {first, best};
    }

    private static double best(double[] t) {
        return Double.isNaN(t[1]) ? t[0] : t[1];
    }

    private static double once(double[] w, int n, Svd.Engine engine) {
        long t0 = System.nanoTime();
        Svd svd = Svd.of(w, n, n, engine);
        double s = (System.nanoTime() - t0) / 1e9;
        if (svd.singularValues()[0] <= 0) {
            throw new IllegalStateException("degenerate SVD");
        }
        return s;
    }

    private static String fmt(double v) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.3f", v);
    }
}
