package dev.kiln.pipeline;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;

/** How a {@link BenchJob.Result} is shown: a console table, JSON, and a self-contained HTML page with SVG charts. */
public final class BenchReports {
    private BenchReports() {
    }

    /** The pairs side by side, one column each, then unavailable runtimes and warnings. */
    public static void printTable(BenchJob.Result r, PrintStream out) {
        OptimizeReport.Environment e = r.environment();
        out.println("machine   " + e.cpu() + ", " + e.cores() + " cpus; TensorFlow " + e.tensorflow()
                + ", ONNX Runtime " + e.onnxRuntime());
        out.println("settings  batch " + r.settings().batch() + ", threads " + (r.settings().threads() == 0
                ? "runtime default" : r.settings().threads()) + ", warm-up " + r.settings().warmup() + ", "
                + r.settings().measure());
        List<BenchJob.Entry> es = r.entries();
        if (!es.isEmpty()) {
            out.println();
            List<String[]> rows = new ArrayList<>();
            rows.add(row("", es, BenchJob.Entry::label));
            rows.add(row("iterations", es, x -> Integer.toString(x.stats().iterations())));
            rows.add(row("inferences/s", es, x -> num(x.stats().inferencesPerSecond())));
            rows.add(row("samples/s", es, x -> num(x.stats().samplesPerSecond())));
            rows.add(row("min ms", es, x -> num(x.stats().minMs())));
            rows.add(row("mean ms", es, x -> num(x.stats().meanMs())));
            rows.add(row("median ms", es, x -> num(x.stats().medianMs())));
            rows.add(row("p90 ms", es, x -> num(x.stats().p90Ms())));
            rows.add(row("p95 ms", es, x -> num(x.stats().p95Ms())));
            rows.add(row("p99 ms", es, x -> num(x.stats().p99Ms())));
            rows.add(row("max ms", es, x -> num(x.stats().maxMs())));
            rows.add(row("stddev ms", es, x -> num(x.stats().stddevMs())));
            rows.add(row("cv", es, x -> String.format(Locale.ROOT, "%.1f%%", 100 * x.stats().cv())));
            if (es.stream().anyMatch(x -> x.nativeStats() != null)) {
                rows.add(row("bare ORT median ms", es, x -> x.nativeStats() == null ? "-"
                        : num(x.nativeStats().medianMs())));
                rows.add(row("kiln overhead", es, x -> x.kilnOverheadPercent() == null ? "-"
                        : String.format(Locale.ROOT, "%+.1f%%", x.kilnOverheadPercent())));
            }
            int[] w = new int[rows.get(0).length];
            for (String[] row : rows) {
                for (int i = 0; i < row.length; i++) {
                    w[i] = Math.max(w[i], row[i].length());
                }
            }
            for (String[] row : rows) {
                StringBuilder s = new StringBuilder(String.format("%-" + w[0] + "s", row[0]));
                for (int i = 1; i < row.length; i++) {
                    s.append("  ").append(String.format("%" + w[i] + "s", row[i]));
                }
                out.println(s.toString().stripTrailing());
            }
        }
        if (!r.unavailable().isEmpty()) {
            out.println();
            for (BenchJob.Unavailable u : r.unavailable()) {
                out.println(Path.of(u.model()).getFileName() + " (" + u.runtime() + "): not available: " + u.reason());
            }
        }
        for (BenchJob.Entry x : r.entries()) {
            x.warnings().forEach(w -> out.println("warning: " + x.label() + ": " + w));
        }
    }

    private static String[] row(String head, List<BenchJob.Entry> es, Function<BenchJob.Entry, String> f) {
        String[] r = new String[es.size() + 1];
        r[0] = head;
        for (int i = 0; i < es.size(); i++) {
            r[i + 1] = f.apply(es.get(i));
        }
        return r;
    }

    static String num(double v) {
        if (v >= 100) {
            return String.format(Locale.ROOT, "%.0f", v);
        }
        if (v >= 10) {
            return String.format(Locale.ROOT, "%.1f", v);
        }
        return String.format(Locale.ROOT, "%.3f", v);
    }

    /** A self-contained page: settings, the table, and SVG charts of median latency, throughput and percentiles. */
    public static String toHtml(BenchJob.Result r) {
        StringBuilder h = new StringBuilder("<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>kiln bench"
                + "</title><style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}"
                + "td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}</style></head><body>"
                + "<h1>kiln bench</h1>");
        OptimizeReport.Environment e = r.environment();
        h.append("<p>").append(esc(e.cpu() + ", " + e.cores() + " cpus, " + e.os() + ", Java " + e.java()
                + ", TensorFlow " + e.tensorflow() + ", ONNX Runtime " + e.onnxRuntime())).append("</p><p>")
                .append(esc("batch " + r.settings().batch() + ", threads " + r.settings().threads() + ", warm-up "
                        + r.settings().warmup() + ", " + r.settings().measure() + ", seed " + r.settings().seed()))
                .append("</p>");
        List<BenchJob.Entry> es = r.entries();
        h.append("<table><tr><th>model (runtime)</th><th>iterations</th><th>inferences/s</th><th>samples/s</th>"
                + "<th>min</th><th>median</th><th>mean</th><th>p90</th><th>p95</th><th>p99</th><th>max</th>"
                + "<th>cv</th><th>kiln overhead</th></tr>");
        for (BenchJob.Entry x : es) {
            BenchStats s = x.stats();
            h.append("<tr><td>").append(esc(x.label())).append("</td>");
            for (String v : List.of(Integer.toString(s.iterations()), num(s.inferencesPerSecond()),
                    num(s.samplesPerSecond()), num(s.minMs()), num(s.medianMs()), num(s.meanMs()), num(s.p90Ms()),
                    num(s.p95Ms()), num(s.p99Ms()), num(s.maxMs()),
                    String.format(Locale.ROOT, "%.1f%%", 100 * s.cv()), x.kilnOverheadPercent() == null ? "-"
                            : String.format(Locale.ROOT, "%+.1f%%", x.kilnOverheadPercent()))) {
                h.append("<td>").append(v).append("</td>");
            }
            h.append("</tr>");
        }
        h.append("</table><p>Latencies in ms. Kiln overhead: Kiln's median against a bare ONNX Runtime loop on the "
                + "same session (pre-made input tensors, outputs not read).</p>");
        if (!es.isEmpty()) {
            List<String> labels = es.stream().map(BenchJob.Entry::label).toList();
            h.append(Reports.barChart(labels, es.stream().map(x -> x.stats().medianMs()).toList(),
                    "median latency (ms, lower is better)", " ms"));
            h.append(Reports.barChart(labels, es.stream().map(x -> x.stats().samplesPerSecond()).toList(),
                    "throughput (samples/s, higher is better)", "/s"));
            List<String> pl = new ArrayList<>();
            List<Double> pv = new ArrayList<>();
            for (BenchJob.Entry x : es) {
                BenchStats s = x.stats();
                double[] v = {s.medianMs(), s.p90Ms(), s.p95Ms(), s.p99Ms(), s.maxMs()};
                String[] n = {"p50", "p90", "p95", "p99", "max"};
                for (int i = 0; i < v.length; i++) {
                    pl.add(x.label() + " " + n[i]);
                    pv.add(v[i]);
                }
            }
            h.append(Reports.barChart(pl, pv, "latency percentiles (ms)", " ms"));
        }
        if (!r.unavailable().isEmpty()) {
            h.append("<h2>Not available</h2><ul>");
            r.unavailable().forEach(u -> h.append("<li>").append(esc(Path.of(u.model()).getFileName() + " ("
                    + u.runtime() + "): " + u.reason())).append("</li>"));
            h.append("</ul>");
        }
        List<String> warnings = new ArrayList<>();
        es.forEach(x -> x.warnings().forEach(w -> warnings.add(x.label() + ": " + w)));
        if (!warnings.isEmpty()) {
            h.append("<h2>Warnings</h2><ul>");
            warnings.forEach(w -> h.append("<li>").append(esc(w)).append("</li>"));
            h.append("</ul>");
        }
        return h.append("</body></html>\n").toString();
    }

    /** Writes bench.json and bench.html into {@code dir} (created if needed), each atomically; returns both paths. */
    public static List<Path> write(BenchJob.Result r, Path dir) {
        try {
            java.nio.file.Files.createDirectories(dir);
        } catch (java.io.IOException e) {
            throw dev.kiln.KilnException.io("cannot create output directory " + dir + ": " + e.getMessage(), e);
        }
        Path json = dir.resolve("bench.json");
        Path html = dir.resolve("bench.html");
        Reports.writeAtomically(json, Reports.toJson(r));
        Reports.writeAtomically(html, toHtml(r));
        return List.of(json, html);
    }

    private static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
