package dev.kiln.spark;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.AtomicFiles;
import dev.kiln.KilnException;
import dev.kiln.pipeline.Evaluation;
import dev.kiln.pipeline.ModelFingerprint;
import dev.kiln.pipeline.OptimizeJob;
import dev.kiln.pipeline.OptimizeReport;
import dev.kiln.pipeline.Reports;

import java.io.Serializable;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * One row of a batch conversion, run on an executor: the optimize job of {@code kiln optimize} for one model and its
 * options, into {@code <root>/<key>} where the key is the SHA-256 of the model's bytes and the canonical options.
 * The directory is written atomically with the report and the row's result; a retry (a re-run of a failed Spark task,
 * or of the whole list) finds it and reuses it. Any failure becomes the row's reason: it never fails the job.
 *
 * @param index    the row's position
 * @param model    path or URI of the model
 * @param options  kiln optimize flags
 * @param root     the output root: a directory every executor mounts, or a Hadoop-compatible URI
 */
record ConversionTask(int index, String model, String options, String root) implements Serializable {
    static final String ROW_FILE = "kiln-spark-row.json";
    private static final ObjectMapper JSON = new ObjectMapper();

    ConversionRow run() {
        long t0 = System.nanoTime();
        String key = null;
        try {
            ConversionOptions o = ConversionOptions.parse(options);
            Path local = HadoopPaths.local(model);
            if (!Files.exists(local)) {
                throw KilnException.io("model " + model + " does not exist", null);
            }
            key = HadoopPaths.digest(ModelFingerprint.of(local) + "\n" + o.canonical()).substring(0, 32);
            OutputStore store = OutputStore.of(root);
            ConversionRow before = store.row(key);
            if (before != null) {
                return before.reusedBy(index, model, options, seconds(t0));
            }
            String k = key;
            String output = store.location(key);
            Path written = store.localDirectory(key);
            AtomicFiles.writeDirectory(written, tmp -> {
                OptimizeReport report = o.job(local, tmp).log(s -> { }).build().run();
                // the job wrote into the temporary directory: the report names its files relative to the output
                String abs = tmp.toAbsolutePath().toString();
                Files.writeString(tmp.resolve("report.json"), Reports.toJson(report).replace(abs + "/", "")
                        .replace("\"" + abs + "\"", "\".\""));
                Files.write(tmp.resolve(ROW_FILE), JSON.writeValueAsBytes(result(k, output, tmp, report,
                        OptimizeJob.sizeOf(local), seconds(t0))));
            });
            store.publish(key, written);
            ConversionRow done = JSON.readValue(written.resolve(ROW_FILE).toFile(), ConversionRow.class);
            store.cleanUp(written);
            return done;
        } catch (KilnException e) {
            return ConversionRow.failed(index, model, options, key, seconds(t0), e.getMessage());
        } catch (Exception | LinkageError e) {
            return ConversionRow.failed(index, model, options, key, seconds(t0), e.getClass().getSimpleName() + ": "
                    + e.getMessage());
        }
    }

    private ConversionRow result(String key, String out, Path tmp, OptimizeReport r, long modelBytes, double secs) {
        List<String> artifacts = new ArrayList<>();
        long bytes = 0;
        for (OptimizeReport.Artifact a : r.artifacts()) {
            artifacts.add(a.format() + "/" + a.precision() + " " + tmp.relativize(Path.of(a.path())) + " " + a.bytes());
            bytes += a.bytes();
        }
        Double accuracy = null;
        Evaluation ev = r.evaluation();
        if (ev != null && ev.labelled() && !ev.candidates().isEmpty()) {
            accuracy = ev.candidates().get(0).top1();
        }
        String summary = String.format(Locale.ROOT, "%d -> %d nodes, %d artifacts, %s", r.original().nodes(),
                r.optimized().nodes(), r.artifacts().size(), r.allPassed() ? "all verifications passed"
                        : "verification FAILED");
        return new ConversionRow(index, model, options, key, "converted", out, String.join("; ", artifacts),
                bytes, modelBytes, r.allPassed(), summary, accuracy, secs, null);
    }

    private static double seconds(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }
}
