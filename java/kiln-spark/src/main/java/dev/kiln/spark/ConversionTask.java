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
 * @param root     the output root: a local path, or a file system every executor mounts
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
            Path out = Path.of(root).resolve(key);
            Path row = out.resolve(ROW_FILE);
            if (Files.isRegularFile(row)) {
                return JSON.readValue(row.toFile(), ConversionRow.class).reusedBy(index, model, options, seconds(t0));
            }
            String k = key;
            AtomicFiles.writeDirectory(out, tmp -> {
                OptimizeReport report = o.job(local, tmp).log(s -> { }).build().run();
                // the job wrote into the temporary directory: the report names its files relative to the output
                String abs = tmp.toAbsolutePath().toString();
                Files.writeString(tmp.resolve("report.json"), Reports.toJson(report).replace(abs + "/", "")
                        .replace("\"" + abs + "\"", "\".\""));
                ConversionRow done = result(k, out, tmp, report, Files.exists(local) ? OptimizeJob.sizeOf(local) : 0,
                        seconds(t0));
                Files.write(tmp.resolve(ROW_FILE), JSON.writeValueAsBytes(done));
            });
            return JSON.readValue(row.toFile(), ConversionRow.class);
        } catch (KilnException e) {
            return ConversionRow.failed(index, model, options, key, seconds(t0), e.getMessage());
        } catch (Exception | LinkageError e) {
            return ConversionRow.failed(index, model, options, key, seconds(t0), e.getClass().getSimpleName() + ": "
                    + e.getMessage());
        }
    }

    private ConversionRow result(String key, Path out, Path tmp, OptimizeReport r, long modelBytes, double secs) {
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
        return new ConversionRow(index, model, options, key, "converted", out.toString(), String.join("; ", artifacts),
                bytes, modelBytes, r.allPassed(), summary, accuracy, secs, null);
    }

    private static double seconds(long t0) {
        return (System.nanoTime() - t0) / 1e9;
    }
}
