package dev.kiln.spark;

import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;
import dev.kiln.calib.CalibrationStatistics;
import dev.kiln.calib.CalibrationTable;
import dev.kiln.calib.ThresholdMethod;
import dev.kiln.data.ArrayData;
import dev.kiln.data.RepresentativeData;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.onnx.Int8Target;
import dev.kiln.pipeline.CalibrateJob;
import dev.kiln.pipeline.ModelFingerprint;
import dev.kiln.tensorflow.TfImporter;

import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.fs.FileStatus;
import org.apache.hadoop.fs.FileSystem;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;

/**
 * INT8 calibration on Spark: the representative data is cut into pieces ({@link ShardTask}: sample ranges of one data
 * set, or one shard file each), every partition runs the FP32 model over its pieces in TensorFlow on its executor
 * (the model loaded once per executor JVM, {@link ExecutorModels}) and streams the activations into Kiln's
 * histograms; a tree aggregation merges the partitions' statistics exactly, and the driver computes the tables once.
 * The tables are byte for byte those of {@code kiln calibrate} (one process, {@link CalibrateJob}) on the same data,
 * whatever the partitioning.
 *
 * <pre>{@code
 * SparkCalibration.Result r = SparkCalibration.builder(CalibrationSpec.of("model"))
 *         .data(DataSpec.of("hdfs://nn/calib/images.npy").scaled(1 / 255.0, 0)).partitions(64).build().run(spark);
 * r.calibration().write(Path.of("out"));   // the files kiln calibrate writes
 * }</pre>
 */
public final class SparkCalibration {
    private final CalibrationSpec spec;
    private final DataSpec data;
    private final Dataset<Row> rows;
    private final String rowsDescription;
    private final long[] window;
    private final ThresholdMethod method;
    private final Map<String, ThresholdMethod> methods;
    private final int partitions;
    private final List<long[]> splits;
    private final Long shuffleSeed;
    private final Consumer<String> log;

    private SparkCalibration(Builder b) {
        this.spec = b.spec;
        KilnArgumentException.check((b.data == null) != (b.rows == null), "calibration needs representative data: "
                + "files (data) or DataFrame rows (rows), one of them");
        this.data = b.data;
        this.rows = b.rows;
        this.rowsDescription = b.rowsDescription;
        this.window = b.window;
        this.method = b.method;
        this.methods = Map.copyOf(b.methods);
        this.partitions = b.partitions;
        this.splits = b.splits;
        this.shuffleSeed = b.shuffleSeed;
        this.log = b.log;
    }

    public static Builder builder(CalibrationSpec spec) {
        return new Builder(spec);
    }

    /**
     * The tables and statistics ({@link CalibrateJob.Result}, written by its {@code write} as {@code kiln calibrate}
     * writes them) and where the time went: the totals of every partition, and the wall time of the Spark job.
     */
    public record Result(CalibrateJob.Result calibration, ShardStatistics totals, double seconds) {
    }

    /** Runs the calibration on {@code spark}'s executors; the tables are computed here, on the driver. */
    public Result run(SparkSession spark) {
        Path localModel = HadoopPaths.local(spec.model());
        List<SignatureTensor> inputs = TfImporter.load(localModel, spec.importOptions().toBuilder()
                .loadWeights(false).build()).inputs();
        if (rows != null) {
            return runOnRows(spark, localModel, inputs);
        }
        List<ShardTask> tasks;
        RepresentativeData described;
        List<String> shards = shardFiles(data.spec());
        if (shards != null) {
            KilnArgumentException.check(window == null, "--calib-range selects samples of one data set; the shards "
                    + "of " + data.spec() + " are calibrated whole");
            tasks = new ArrayList<>();
            for (String s : shards) {
                tasks.add(new ShardTask(tasks.size(), new DataSpec(s, data.scale(), data.offset(), data.batchSize()),
                        0, -1));
            }
            described = null; // described after the run, when the sample count is known
        } else {
            long[] w = window != null ? window : defaultWindow(data.sampleCount(inputs));
            ArrayData whole = data.read(inputs, w[0], w[1]); // checks files, types and shapes before any task runs
            described = whole;
            tasks = ranges(w, whole.batchSize(), fixesBatch(inputs));
        }
        if (shuffleSeed != null) {
            java.util.Collections.shuffle(tasks, new java.util.Random(shuffleSeed));
        }
        int slices = Math.max(1, Math.min(partitions > 0 ? partitions : tasks.size(), tasks.size()));
        log.accept(String.format(Locale.ROOT, "calibrate  %s over %s: %d pieces in %d partitions on %s",
                spec.model(), data.spec(), tasks.size(), slices, spark.sparkContext().master()));
        long t0 = System.nanoTime();
        ShardStatistics totals = aggregate(spark, tasks, slices);
        double seconds = (System.nanoTime() - t0) / 1e9;
        if (described == null) {
            described = RepresentativeData.of(List.of(), shardContent(shards, totals.samples()));
        }
        return finish(localModel, described, totals, seconds);
    }

    /** Calibration on DataFrame rows ({@link TensorRows}): each partition's rows in batches, in partition order. */
    private Result runOnRows(SparkSession spark, Path localModel, List<SignatureTensor> inputs) {
        TensorRows layout = TensorRows.of(inputs, data == null ? 0 : data.batchSize());
        CalibrationSpec s = spec;
        String what = rowsDescription; // the lambda below must not capture this (not serializable)
        log.accept(String.format(Locale.ROOT, "calibrate  %s over %s: %d partitions on %s", spec.model(),
                rowsDescription, rows.rdd().getNumPartitions(), spark.sparkContext().master()));
        long t0 = System.nanoTime();
        ShardStatistics totals;
        boolean ok = false;
        TaskProgress progress = TaskProgress.attach(spark, "calibrate", rows.rdd().getNumPartitions(), log);
        try {
            totals = rows.javaRDD().mapPartitions(it -> collectRows(s, layout, what, it))
                    .treeReduce(ShardStatistics::merge, 2);
            ok = true;
        } catch (Exception e) { // SparkException is checked in Scala's eyes only
            throw SparkErrors.unwrap(e, "calibration on Spark");
        } finally {
            progress.detach(ok);
        }
        double seconds = (System.nanoTime() - t0) / 1e9;
        return finish(localModel, RepresentativeData.of(List.of(), rowsDescription + "; " + totals.samples()
                + " samples"), totals, seconds);
    }

    private static Iterator<ShardStatistics> collectRows(CalibrationSpec spec, TensorRows layout, String what,
                                                         Iterator<org.apache.spark.sql.Row> it) {
        if (!it.hasNext()) {
            return java.util.Collections.emptyIterator();
        }
        long t0 = System.nanoTime();
        ExecutorModels.Lease lease = ExecutorModels.get(spec);
        ExecutorModels.Loaded m = lease.model();
        dev.kiln.calib.Calibrator.Result r = m.calibrator.collect(m.optimized, m.tensors,
                RepresentativeData.of(layout.batches(it), what), m::borrow, null);
        return List.of(ShardStatistics.of(r.statistics(), r.samples(), r.batches(), lease.loadNanos(),
                r.forwardNanos(), r.histogramNanos(), t0)).iterator();
    }

    /** The tables, once, on the driver, from the merged statistics. */
    private Result finish(Path localModel, RepresentativeData described, ShardStatistics totals, double seconds) {
        CalibrationStatistics stats = totals.unpack();
        checkMethods(stats);
        CalibrateJob job = CalibrateJob.builder(localModel).targets(spec.targets()).method(method).methods(methods)
                .bins(spec.bins()).withOutputs(spec.withOutputs()).data(described).build();
        Map<Int8Target, CalibrationTable> tables = job.tables(stats, ModelFingerprint.of(localModel));
        log.accept(String.format(Locale.ROOT, "calibrate  %d samples in %.1f s (%.0f samples/s) over %d partitions; "
                + "model loads %.1f s, statistics to bytes and back %.2f s (summed over tasks)", totals.samples(),
                seconds, totals.samples() / seconds, totals.partitions(), totals.loadNanos() / 1e9,
                totals.serializeNanos() / 1e9));
        return new Result(new CalibrateJob.Result(tables, stats, summary(described, totals, stats, seconds)), totals,
                seconds);
    }

    private ShardStatistics aggregate(SparkSession spark, List<ShardTask> tasks, int slices) {
        JavaSparkContext jsc = JavaSparkContext.fromSparkContext(spark.sparkContext());
        CalibrationSpec s = spec;
        JavaRDD<ShardStatistics> perPartition = jsc.parallelize(tasks, slices)
                .mapPartitions(it -> collectPartition(s, it));
        boolean ok = false;
        TaskProgress progress = TaskProgress.attach(spark, "calibrate", slices, log);
        try {
            ShardStatistics merged = perPartition.treeReduce(ShardStatistics::merge, 2);
            ok = true;
            return merged;
        } catch (Exception e) { // SparkException is checked in Scala's eyes only
            throw SparkErrors.unwrap(e, "calibration on Spark");
        } finally {
            progress.detach(ok);
        }
    }

    /** An executor's work: every piece of its partition into one set of statistics. */
    private static Iterator<ShardStatistics> collectPartition(CalibrationSpec spec, Iterator<ShardTask> it) {
        if (!it.hasNext()) {
            return java.util.Collections.emptyIterator();
        }
        long t0 = System.nanoTime();
        ExecutorModels.Lease lease = ExecutorModels.get(spec);
        CalibrationStatistics stats = CalibrationStatistics.create(dev.kiln.kernels.KernelBackends.get(),
                spec.bins(), name -> false); // merged-in tensors keep their own histogram sides
        long[] sums = new long[4];
        while (it.hasNext()) {
            long[] r = it.next().collect(lease.model(), stats);
            for (int k = 0; k < 4; k++) {
                sums[k] += r[k];
            }
        }
        return List.of(ShardStatistics.of(stats, sums[0], sums[1], lease.loadNanos(), sums[2], sums[3], t0))
                .iterator();
    }

    /** The first min(1000, half) samples: {@code kiln calibrate}'s default. */
    private static long[] defaultWindow(long n) {
        return new long[] {0, Math.max(1, Math.min(1000, n / 2))};
    }

    /**
     * The window cut into pieces: the explicit splits, else one per partition of equal size; boundaries on
     * multiples of the batch size, so each piece's batches are the single run's. That is what makes the tables
     * byte-equal: TensorFlow's forward pass is not batch invariant to the last bit (measured: a softmax output of
     * 0x3f7fffff in one batch layout is 0x3f800000 in another), and a model with a fixed batch size drops only the
     * single run's last short batch.
     */
    private List<ShardTask> ranges(long[] w, int batch, boolean fixedBatch) {
        long usable = fixedBatch ? w[1] / batch * batch : w[1];
        KilnArgumentException.check(usable > 0, "the calibration range has " + w[1] + " samples, fewer than the "
                + "model's fixed batch size " + batch);
        List<long[]> pieces = new ArrayList<>();
        if (splits != null) {
            long at = 0;
            for (long[] s : splits) {
                pieces.add(new long[] {at, s[0]});
                at += s[0];
            }
            KilnArgumentException.check(at == w[1], "the splits add up to " + at + " samples, the calibration "
                    + "range has " + w[1]);
        } else {
            long batches = (usable + batch - 1) / batch;
            int n = (int) Math.max(1, Math.min(partitions > 0 ? partitions : 1, batches));
            for (int i = 0; i < n; i++) {
                long from = batches * i / n * batch;
                long to = Math.min(usable, batches * (i + 1) / n * batch);
                pieces.add(new long[] {from, to - from});
            }
        }
        List<ShardTask> tasks = new ArrayList<>();
        for (long[] p : pieces) {
            long count = Math.min(p[1], usable - p[0]);
            if (count > 0) {
                // TensorFlow's kernels are not batch invariant to the last bit (a row's softmax can differ by one
                // ulp with its position in the batch): pieces start where the single run's batches start
                KilnArgumentException.check(splits == null || count % batch == 0 || p[0] + count == usable,
                        "split of " + count + " samples: splits must be multiples of the batch size " + batch
                        + " (but the last), so that every batch is one the single-process run feeds");
                tasks.add(new ShardTask(tasks.size(), data, w[0] + p[0], count));
            }
        }
        return tasks;
    }

    private static boolean fixesBatch(List<SignatureTensor> inputs) {
        return inputs.stream().anyMatch(in -> in.type().shape().hasRank() && in.type().shape().rank() > 0
                && in.type().shape().dim(0) > 0);
    }

    /** The files a spec with a glob ({@code shards/part-*.npy}) matches, sorted; null for a spec without one. */
    static List<String> shardFiles(String spec) {
        if (!spec.contains("*") && !spec.contains("?")) {
            return null;
        }
        KilnArgumentException.check(!spec.contains(",") && !spec.contains("="), "--data " + spec + ": a glob of "
                + "shards is one file per shard (.npy, or .npz with arrays named after the inputs), not name=file lists");
        try {
            boolean uri = HadoopPaths.isUri(spec);
            URI u = uri ? URI.create(spec.replace("*", "%2A").replace("?", "%3F")) : null;
            FileSystem fs = uri ? FileSystem.get(u, new Configuration()) : FileSystem.getLocal(new Configuration());
            FileStatus[] found = fs.globStatus(new org.apache.hadoop.fs.Path(spec));
            KilnArgumentException.check(found != null && found.length > 0, "--data " + spec + " matches no file");
            List<String> files = new ArrayList<>();
            for (FileStatus f : found) {
                files.add(uri ? f.getPath().toString() : Path.of(f.getPath().toUri()).toString());
            }
            files.sort(null);
            return files;
        } catch (IOException e) {
            throw KilnException.io("cannot list " + spec + ": " + e.getMessage(), e);
        }
    }

    private String shardContent(List<String> shards, long samples) {
        String conv = data.scale() == 1 && data.offset() == 0 ? "" : String.format(Locale.ROOT, ", x * %s + %s",
                data.scale(), data.offset());
        return shards.size() + " shards " + data.spec() + " (" + String.join(", ", shards.stream()
                .map(f -> f.substring(f.lastIndexOf('/') + 1)).toList()) + ")" + conv + "; " + samples + " samples";
    }

    private void checkMethods(CalibrationStatistics stats) {
        for (String name : methods.keySet()) {
            boolean known = stats.tensorNames().stream().anyMatch(t -> t.equals(name)
                    || t.substring(0, Math.max(0, t.lastIndexOf(':'))).equals(name));
            KilnArgumentException.check(known, "--calib-method: tensor '" + name + "' is not among the tensors the "
                    + "INT8 export quantizes");
        }
    }

    private CalibrateJob.Summary summary(RepresentativeData d, ShardStatistics t, CalibrationStatistics stats,
                                         double seconds) {
        long nan = 0;
        long inf = 0;
        for (String name : stats.tensorNames()) {
            nan += stats.get(name).nanCount();
            inf += stats.get(name).infCount();
        }
        Map<String, String> overrides = new LinkedHashMap<>();
        methods.forEach((k, v) -> overrides.put(k, CalibrationTable.methodName(v)));
        long busy = t.forwardNanos() + t.histogramNanos();
        return new CalibrateJob.Summary(d.description(), false, t.samples(), (int) t.batches(),
                CalibrationTable.methodName(method), overrides, stats.tensorNames().size(), seconds,
                t.samples() / seconds, 0, busy == 0 ? 0 : (double) t.histogramNanos() / busy, nan, inf, d.notes());
    }

    /** Options; the defaults are {@code kiln calibrate}'s. */
    public static final class Builder {
        private final CalibrationSpec spec;
        private DataSpec data;
        private Dataset<Row> rows;
        private String rowsDescription;
        private long[] window;
        private ThresholdMethod method = CalibrateJob.DEFAULT_METHOD;
        private Map<String, ThresholdMethod> methods = Map.of();
        private int partitions;
        private List<long[]> splits;
        private Long shuffleSeed;
        private Consumer<String> log = s -> { };

        private Builder(CalibrationSpec spec) {
            this.spec = Objects.requireNonNull(spec, "spec");
        }

        /** The representative data: one data set (cut into sample ranges) or a glob of shard files. */
        public Builder data(DataSpec d) {
            this.data = Objects.requireNonNull(d, "data");
            return this;
        }

        /**
         * DataFrame rows instead of files: one row per sample, a column per model input (named after it) holding the
         * flattened sample as an array of floats or doubles ({@link TensorRows}); {@code description} says what they
         * are in the table. Each partition's rows run in batches from its start, so partitions of whole batches give
         * the bytes of one process over the same rows in order.
         */
        public Builder rows(Dataset<Row> r, String description) {
            this.rows = Objects.requireNonNull(r, "rows");
            this.rowsDescription = Objects.requireNonNull(description, "description");
            return this;
        }

        /** Samples {@code start .. start+count-1} (default: the first min(1000, half), as kiln calibrate). */
        public Builder range(long start, long count) {
            KilnArgumentException.check(start >= 0 && count > 0, "calibration range: START must be >= 0 and COUNT "
                    + "> 0, got " + start + ":" + count);
            this.window = new long[] {start, count};
            return this;
        }

        public Builder method(ThresholdMethod m) {
            this.method = Objects.requireNonNull(m);
            return this;
        }

        public Builder methods(Map<String, ThresholdMethod> m) {
            this.methods = Objects.requireNonNull(m);
            return this;
        }

        /** Spark partitions (default: one per piece; for one data set, pieces of equal size, one per partition). */
        public Builder partitions(int n) {
            KilnArgumentException.check(n >= 1, "partitions must be >= 1, got " + n);
            this.partitions = n;
            return this;
        }

        /**
         * Cuts the range into pieces of these sizes, in order (they must add up to the range; each a multiple of the
         * batch size but the last), dealt to the partitions in turn: for uneven partitions and tests of them.
         */
        public Builder splits(long... sizes) {
            KilnArgumentException.check(sizes.length > 0 && Arrays.stream(sizes).allMatch(s -> s > 0),
                    "splits must be sizes > 0");
            this.splits = Arrays.stream(sizes).mapToObj(s -> new long[] {s}).toList();
            return this;
        }

        /** Deals the pieces to the partitions in a random order (seeded): the result must not change. */
        public Builder shuffle(long seed) {
            this.shuffleSeed = seed;
            return this;
        }

        /** Progress lines. */
        public Builder log(Consumer<String> l) {
            this.log = Objects.requireNonNull(l);
            return this;
        }

        public SparkCalibration build() {
            return new SparkCalibration(this);
        }
    }
}
