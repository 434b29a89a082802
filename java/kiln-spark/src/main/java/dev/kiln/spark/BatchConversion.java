package dev.kiln.spark;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.kiln.AtomicFiles;
import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;

import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;

/**
 * Many models converted on Spark: a DataFrame of (model, options) rows becomes one optimize job per row on the
 * executors ({@link ConversionTask}), and the results a DataFrame ({@link ConversionRow#SCHEMA}) written as
 * results.csv and results.json. Outputs are content-addressed, so a retried task or a re-run of the list reuses
 * what is done; a row that fails says why in its {@code reason} and the others go on.
 *
 * <pre>{@code
 * Dataset<Row> results = BatchConversion.run(spark, BatchConversion.read(spark, "models.csv"), "out", log);
 * }</pre>
 */
public final class BatchConversion {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private BatchConversion() {
    }

    /** The requests of a CSV file with a header: a {@code model} column and an optional {@code options} column. */
    public static Dataset<Row> read(SparkSession spark, String csv) {
        if (!HadoopPaths.isUri(csv)) {
            KilnArgumentException.check(java.nio.file.Files.isRegularFile(Path.of(csv)), "the model list " + csv
                    + " does not exist");
        }
        Dataset<Row> rows = spark.read().option("header", "true").option("quote", "\"").option("escape", "\"")
                .option("ignoreLeadingWhiteSpace", "true").option("ignoreTrailingWhiteSpace", "true").csv(csv);
        List<String> columns = Arrays.asList(rows.columns());
        KilnArgumentException.check(columns.contains("model"), csv + " has columns " + columns + ": a 'model' column "
                + "(and optionally 'options') is needed, with a header line");
        return columns.contains("options") ? rows.select("model", "options")
                : rows.select("model").withColumn("options", org.apache.spark.sql.functions.lit(""));
    }

    /**
     * Converts every request ({@code model}, {@code options} columns) into {@code outputDir} on the executors, one
     * task per row; returns the results in request order.
     */
    public static Dataset<Row> run(SparkSession spark, Dataset<Row> requests, String outputDir,
                                   Consumer<String> log) {
        List<ConversionTask> tasks = new ArrayList<>();
        String root = HadoopPaths.isUri(outputDir) ? outputDir.replaceAll("/+$", "") + "/artifacts"
                : Path.of(outputDir).toAbsolutePath().resolve("artifacts").toString();
        for (Row r : requests.select("model", "options").collectAsList()) {
            String model = r.getString(0);
            KilnArgumentException.check(model != null && !model.isBlank(), "row " + (tasks.size() + 1)
                    + " of the model list has no model");
            tasks.add(new ConversionTask(tasks.size(), model.strip(), r.isNullAt(1) ? "" : r.getString(1), root));
        }
        KilnArgumentException.check(!tasks.isEmpty(), "the model list is empty");
        log.accept(String.format(Locale.ROOT, "convert    %d models on %s into %s", tasks.size(),
                spark.sparkContext().master(), outputDir));
        JavaRDD<Row> rows = JavaSparkContext.fromSparkContext(spark.sparkContext())
                .parallelize(tasks, tasks.size()).map(t -> t.run().toRow());
        boolean ok = false;
        TaskProgress progress = TaskProgress.attach(spark, "convert", tasks.size(), log);
        List<Row> done;
        try {
            done = new ArrayList<>(rows.collect());
            ok = true;
        } catch (Exception e) { // SparkException is checked in Scala's eyes only
            throw SparkErrors.unwrap(e, "batch conversion on Spark");
        } finally {
            progress.detach(ok);
        }
        done.sort(Comparator.comparingInt(r -> r.getInt(0)));
        return spark.createDataFrame(done, ConversionRow.SCHEMA);
    }

    /**
     * Writes results.csv and results.json into {@code dir}, a local path (each file atomically) or a Hadoop URI
     * (uploaded); returns where they are.
     */
    public static List<String> write(Dataset<Row> results, String dir) {
        if (!HadoopPaths.isUri(dir)) {
            return write(results, Path.of(dir)).stream().map(Path::toString).toList();
        }
        try {
            Path local = java.nio.file.Files.createTempDirectory("kiln-results-");
            write(results, local);
            org.apache.hadoop.fs.FileSystem fs = org.apache.hadoop.fs.FileSystem.get(java.net.URI.create(dir),
                    new org.apache.hadoop.conf.Configuration());
            List<String> out = new ArrayList<>();
            for (String name : List.of("results.csv", "results.json")) {
                org.apache.hadoop.fs.Path dst = new org.apache.hadoop.fs.Path(dir.replaceAll("/+$", "") + "/" + name);
                fs.copyFromLocalFile(true, true, new org.apache.hadoop.fs.Path(local.resolve(name).toUri()), dst);
                out.add(dst.toString());
            }
            java.nio.file.Files.deleteIfExists(local);
            return out;
        } catch (java.io.IOException e) {
            throw KilnException.io("cannot write the results into " + dir + ": " + e.getMessage(), e);
        }
    }

    /** Writes results.csv and results.json into {@code dir} (each atomically); returns their paths. */
    public static List<Path> write(Dataset<Row> results, Path dir) {
        List<ConversionRow> rows = results.collectAsList().stream().map(ConversionRow::of).toList();
        Path csv = dir.resolve("results.csv");
        Path json = dir.resolve("results.json");
        StringBuilder b = new StringBuilder(String.join(",", ConversionRow.SCHEMA.fieldNames())).append('\n');
        for (ConversionRow r : rows) {
            Object[] v = {r.index(), r.model(), r.options(), r.key(), r.status(), r.output(), r.artifacts(),
                r.artifactBytes(), r.modelBytes(), r.passed(), r.summary(), r.accuracy(),
                String.format(Locale.ROOT, "%.2f", r.seconds()), r.reason()};
            for (int i = 0; i < v.length; i++) {
                b.append(i == 0 ? "" : ",").append(csvField(v[i]));
            }
            b.append('\n');
        }
        try {
            java.nio.file.Files.createDirectories(dir);
            AtomicFiles.write(csv, b.toString().getBytes(StandardCharsets.UTF_8));
            AtomicFiles.write(json, JSON.writeValueAsBytes(rows));
        } catch (java.io.IOException e) {
            throw KilnException.io("cannot write the results into " + dir + ": " + e.getMessage(), e);
        }
        return List.of(csv, json);
    }

    /** RFC 4180: quoted when it holds a comma, quote or line break; null is empty. */
    private static String csvField(Object o) {
        if (o == null) {
            return "";
        }
        String s = o.toString();
        return s.contains(",") || s.contains("\"") || s.contains("\n") || s.contains("\r")
                ? "\"" + s.replace("\"", "\"\"") + "\"" : s;
    }
}
