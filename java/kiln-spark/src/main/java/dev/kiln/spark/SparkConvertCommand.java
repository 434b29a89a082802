package dev.kiln.spark;

import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

import java.util.List;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code kiln spark convert LIST.csv --master local[2] -o DIR}: {@code kiln optimize} for every (model, options) row of
 * the list on Spark's executors; results.csv and results.json in DIR, the outputs under DIR/artifacts/KEY.
 */
@Command(name = "convert", mixinStandardHelpOptions = true,
        description = "Optimize many models on Spark: one kiln optimize job per row of LIST.csv (columns model, "
                + "options), results in DIR/results.csv and results.json.")
final class SparkConvertCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "LIST.csv", description = "header line 'model,options'; options are kiln "
            + "optimize flags, e.g. \"--format onnx --precision fp32,fp16\" (quoted when they hold commas)")
    String list;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "DIR", description = "results and, under "
            + "DIR/artifacts, the outputs (content-addressed): a directory every executor mounts, or a URI (hdfs://, "
            + "s3a://, ...)")
    String output;

    @Mixin
    SparkOptions sparkOptions = new SparkOptions();

    @Override
    public Integer call() {
        SparkSession spark = sparkOptions.session("kiln spark convert");
        Dataset<Row> results = BatchConversion.run(spark, BatchConversion.read(spark, list), output,
                s -> System.err.println("kiln: " + s));
        List<String> written = BatchConversion.write(results, output);
        long failed = 0;
        for (ConversionRow r : results.collectAsList().stream().map(ConversionRow::of).toList()) {
            System.out.println(String.format("%-9s %s%s", r.status(), r.model(), r.reason() != null ? ": " + r.reason()
                    : " -> " + r.output() + " (" + r.summary() + ")"));
            failed += "failed".equals(r.status()) ? 1 : 0;
        }
        written.forEach(p -> System.out.println("wrote     " + p));
        return failed == 0 ? 0 : 1; // the job finished; the exit status says that some rows did not
    }
}
