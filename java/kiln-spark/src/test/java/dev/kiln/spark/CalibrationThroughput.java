package dev.kiln.spark;

import dev.kiln.data.DataSources;
import dev.kiln.data.FloatConversion;
import dev.kiln.pipeline.CalibrateJob;
import dev.kiln.tensorflow.TfImporter;

import org.apache.spark.sql.SparkSession;

import java.nio.file.Path;
import java.util.Locale;

/**
 * The README's throughput figures (not a test): calibration samples/s of the single-process pipeline, and of Spark in
 * local[1] and local[2] (cold: the executor loads the model; warm: it is loaded), with the per-partition overheads
 * (model load, statistics to bytes and back) and the size of one partition's statistics.
 * <pre>{@code java <spark flags> -cp <kiln-spark test classpath> dev.kiln.spark.CalibrationThroughput [MODEL] [N]}</pre>
 */
public final class CalibrationThroughput {
    private CalibrationThroughput() {
    }

    public static void main(String[] args) {
        Path model = SparkTestSupport.shared().resolve("models").resolve(args.length > 0 ? args[0]
                : "mlnet_mnist_conv_model");
        long n = args.length > 1 ? Long.parseLong(args[1]) : 2000;
        Path images = SparkTestSupport.shared().resolve("data/mnist/images_u8.npy");
        double scale = 1.0 / 255;

        for (String round : new String[] {"cold", "warm"}) { // warm: the JVM's second run (JIT, TensorFlow loaded)
            long t0 = System.nanoTime();
            CalibrateJob.Result single = CalibrateJob.builder(model).withOutputs(true)
                    .data(DataSources.parse(images.toString(), Path.of(""), TfImporter.load(model).inputs(),
                            FloatConversion.scale(scale)).range(0, n).build()).build().run();
            double wall = (System.nanoTime() - t0) / 1e9;
            System.out.printf(Locale.ROOT, "single %-9s %6.0f samples/s collecting (%.2f s), %.2f s with import%n",
                    round, single.summary().samplesPerSecond(), single.summary().seconds(), wall);
        }
        for (String master : new String[] {"local[1]", "local[2]"}) {
            SparkSession spark = SparkTestSupport.local(master);
            int cores = master.equals("local[1]") ? 1 : 2;
            report(master + " first", run(spark, model, images, scale, n, cores));
            report(master + " warm", best(run(spark, model, images, scale, n, cores),
                    run(spark, model, images, scale, n, cores)));
            report(master + " 8 parts", best(run(spark, model, images, scale, n, 8),
                    run(spark, model, images, scale, n, 8)));
            spark.stop();
        }
    }

    private static SparkCalibration.Result best(SparkCalibration.Result a, SparkCalibration.Result b) {
        return a.seconds() <= b.seconds() ? a : b;
    }

    private static SparkCalibration.Result run(SparkSession spark, Path model, Path images, double scale, long n,
                                               int partitions) {
        return SparkCalibration.builder(CalibrationSpec.of(model.toString()))
                .data(DataSpec.of(images.toString()).scaled(scale, 0)).range(0, n).partitions(partitions).build()
                .run(spark);
    }

    private static void report(String what, SparkCalibration.Result r) {
        ShardStatistics t = r.totals();
        System.out.printf(Locale.ROOT, "%-16s %6.0f samples/s (%.2f s, %d partitions); model load %.2f s; forward "
                        + "%.2f s, histograms %.2f s, statistics to bytes and back %.3f s (summed); merged statistics "
                        + "%,d bytes gzipped%n", what, t.samples() / r.seconds(), r.seconds(), t.partitions(),
                t.loadNanos() / 1e9, t.forwardNanos() / 1e9, t.histogramNanos() / 1e9, t.serializeNanos() / 1e9,
                t.statistics().length);
    }
}
