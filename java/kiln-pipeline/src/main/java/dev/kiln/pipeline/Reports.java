package dev.kiln.pipeline;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.kiln.KilnException;
import dev.kiln.passes.PassResult;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Locale;

/** Writes an {@link OptimizeReport} as a console summary, report.json and report.html (with SVG bar charts). */
public final class Reports {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    private Reports() {
    }

    public static String toJson(Object report) {
        try {
            return JSON.writeValueAsString(report);
        } catch (IOException e) {
            throw KilnException.internal("cannot serialize report", e);
        }
    }

    /** Writes text to {@code target} through a temporary file and a rename, so no half-written file is left. */
    public static void writeAtomically(Path target, String text) {
        Path tmp = target.resolveSibling(target.getFileName() + ".tmp");
        try {
            Files.writeString(tmp, text, StandardCharsets.UTF_8);
            Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            try {
                Files.deleteIfExists(tmp);
            } catch (IOException ignored) {
                // the original error matters more
            }
            throw KilnException.io("cannot write " + target + ": " + e.getMessage(), e);
        }
    }

    public static void printSummary(OptimizeReport r, PrintStream out) {
        out.println();
        out.println("model      " + r.model() + (r.modelNote().isEmpty() ? "" : "  (" + r.modelNote() + ")"));
        out.println("inputs     " + String.join(", ", r.original().inputs()));
        out.println("outputs    " + String.join(", ", r.original().outputs()));
        out.printf(Locale.ROOT, "nodes      %d -> %d    parameters %,d    weights %s%n", r.original().nodes(),
                r.optimized().nodes(), r.optimized().parameters(), humanBytes(r.optimized().constantBytes()));
        out.println("backend    " + r.environment().kernelBackend() + "    TensorFlow " + r.environment().tensorflow()
                + "    ONNX Runtime " + r.environment().onnxRuntime());
        out.println();
        out.println("passes");
        for (PassResult p : r.passes()) {
            out.println("  " + p);
            for (String note : p.notes().subList(0, Math.min(3, p.notes().size()))) {
                out.println("      " + note);
            }
            if (p.notes().size() > 3) {
                out.println("      ... " + (p.notes().size() - 3) + " more in report.json");
            }
        }
        out.println();
        out.println("outputs");
        for (OptimizeReport.Artifact a : r.artifacts()) {
            out.printf(Locale.ROOT, "  %-10s %-24s %10s  %s%n", a.format(), a.precision(), humanBytes(a.bytes()),
                    a.path());
            if (a.saturation() != null && a.precision().startsWith("int8")) {
                out.printf(Locale.ROOT, "  %-10s %-24s %10s  %s%n", "", "", "", a.saturation());
            }
        }
        out.println();
        out.printf(Locale.ROOT, "verification against TensorFlow on the original (%d random samples)%n",
                r.verifications().isEmpty() ? 0 : r.verifications().get(0).samples());
        out.printf(Locale.ROOT, "  %-12s %-44s %12s %12s %10s %8s  %s%n", "runtime", "artifact", "max abs err",
                "max rel err", "tolerance", "median", "");
        for (OptimizeReport.Verification v : r.verifications()) {
            out.printf(Locale.ROOT, "  %-12s %-44s %12.3e %12.3e %10.0e %6.2fms  %s%n", v.runtime(),
                    shorten(v.artifact(), 44), v.maxAbsError(), v.maxRelError(), v.tolerance(),
                    v.medianLatencyMillis(), v.artifact().equals("original") ? "reference" : v.passed() ? "PASS"
                            : "FAIL");
        }
        printInt8(r, out);
        out.println();
        out.println("report     " + Path.of(r.outputDir()).resolve("report.json") + ", "
                + Path.of(r.outputDir()).resolve("report.html"));
    }

    private static void printInt8(OptimizeReport r, PrintStream out) {
        CalibrateJob.Summary c = r.calibration();
        if (c != null) {
            out.println();
            out.printf(Locale.ROOT, "calibration  %s%s%n", c.data(), c.random() ? "  [RANDOM: smoke run only]" : "");
            out.printf(Locale.ROOT, "  %d samples, %d tensors, method %s%s; %.1f s (%.0f samples/s), Kiln's "
                    + "histograms %.1f%% of the time%s%n", c.samples(), c.tensors(), c.method(),
                    c.overrides().isEmpty() ? "" : " " + c.overrides(), c.seconds(), c.samplesPerSecond(),
                    100 * c.kilnShare(), c.nanCount() + c.infCount() > 0 ? ", " + c.nanCount() + " NaN / "
                    + c.infCount() + " Inf excluded" : "");
            c.notes().forEach(n -> out.println("  " + n));
        }
        OptimizeReport.MixedPrecision m = r.mixedPrecision();
        if (m != null) {
            out.println();
            out.println("mixed precision  kept in float: " + (m.keptFloat().isEmpty() ? "none" : m.keptFloat())
                    + " — " + m.reason() + (m.budget().isEmpty() ? "" : "; budget " + m.budget() + ", achieved "
                    + m.achieved()));
            for (OptimizeReport.Sensitivity s : m.sensitivities()) {
                out.printf(Locale.ROOT, "  %-40s %-22s %s %.5f%n", s.layer(), s.op(), s.metric(), s.cost());
            }
        }
        Evaluation e = r.evaluation();
        if (e != null) {
            out.println();
            out.printf(Locale.ROOT, "evaluation on %s (%d samples)%n", e.data(), e.samples());
            out.printf(Locale.ROOT, "  %-36s %-12s %10s %8s %9s %10s %10s %9s%n", "model", "runtime", "size",
                    "top-1", "drop", "cosine", "SQNR dB", "ms/batch");
            double ref = e.reference().top1();
            out.printf(Locale.ROOT, "  %-36s %-12s %10s %8s %9s %10s %10s %9.2f%n", "original (FP32)", "tensorflow", "",
                    e.labelled() ? pct(ref) : "-", "", "", "", e.reference().medianBatchMillis());
            for (Evaluation.Result x : e.candidates()) {
                out.printf(Locale.ROOT, "  %-36s %-12s %10s %8s %9s %10.6f %10.1f %9.2f%n", shorten(x.name(), 36),
                        x.runtime(), humanBytes(x.bytes()), e.labelled() ? pct(x.top1()) : "-",
                        e.labelled() ? String.format(Locale.ROOT, "%+.2f", 100 * (x.top1() - ref)) : "",
                        x.minCosine(), x.minSqnrDb(), x.medianBatchMillis());
            }
        }
        if (!r.layers().isEmpty()) {
            out.println();
            out.println("per-layer error of the fake-quantized model (SQNR in dB, accumulated from the input)");
            for (OptimizeReport.LayerError l : r.layers()) {
                out.printf(Locale.ROOT, "  %-40s %8.1f dB  cosine %.6f  -> %s%n", shorten(l.tensor(), 40), l.sqnrDb(),
                        l.cosine(), l.consumer());
            }
        }
        if (!r.warnings().isEmpty()) {
            out.println();
            r.warnings().forEach(w -> out.println("warning: " + w));
        }
    }

    private static String pct(double v) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%.2f%%", 100 * v);
    }

    public static String toHtml(OptimizeReport r) {
        StringBuilder h = new StringBuilder();
        h.append("<!doctype html><html><head><meta charset=\"utf-8\"><title>Kiln report: ")
                .append(esc(r.model())).append("</title><style>body{font-family:sans-serif;margin:2em;max-width:1000px}"
                        + "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:right}"
                        + "td:first-child,th:first-child{text-align:left}.pass{color:#080}.fail{color:#c00}"
                        + "</style></head><body>");
        h.append("<h1>Kiln optimize</h1><p>").append(esc(r.model())).append(r.modelNote().isEmpty() ? ""
                : " — " + esc(r.modelNote())).append("</p>");
        OptimizeReport.Environment e = r.environment();
        h.append("<p>").append(esc(e.cpu())).append(", ").append(e.cores()).append(" cores · Java ")
                .append(esc(e.java())).append(" · TensorFlow ").append(esc(e.tensorflow())).append(" · ONNX Runtime ")
                .append(esc(e.onnxRuntime())).append(" · kernel backend ").append(esc(e.kernelBackend()))
                .append("</p>");

        h.append("<h2>Graph passes</h2>");
        h.append(barChart(r.passes().stream().map(PassResult::pass).toList(),
                r.passes().stream().map(p -> (double) p.nodesAfter()).toList(), "nodes after each pass", ""));
        h.append("<table><tr><th>pass</th><th>before</th><th>after</th><th>removed</th><th>folded</th>"
                + "<th>fused</th><th>added</th></tr>");
        for (PassResult p : r.passes()) {
            h.append("<tr><td>").append(esc(p.pass())).append("</td><td>").append(p.nodesBefore()).append("</td><td>")
                    .append(p.nodesAfter()).append("</td><td>").append(p.removed()).append("</td><td>")
                    .append(p.folded()).append("</td><td>").append(p.fused()).append("</td><td>").append(p.added())
                    .append("</td></tr>");
        }
        h.append("</table>");

        h.append("<h2>Outputs</h2>");
        h.append(barChart(r.artifacts().stream().map(a -> a.format() + " " + a.precision()).toList(),
                r.artifacts().stream().map(a -> a.bytes() / 1024.0).toList(), "size", " KiB"));

        h.append("<h2>Verification against TensorFlow on the original</h2><table><tr><th>artifact</th>"
                + "<th>runtime</th><th>max abs error</th><th>max rel error</th><th>tolerance</th>"
                + "<th>median latency</th><th>result</th></tr>");
        for (OptimizeReport.Verification v : r.verifications()) {
            boolean ref = v.artifact().equals("original");
            h.append("<tr><td>").append(esc(v.artifact())).append("</td><td>").append(esc(v.runtime()))
                    .append(String.format(Locale.ROOT, "</td><td>%.3e</td><td>%.3e</td><td>%.0e</td><td>%.3f ms",
                            v.maxAbsError(), v.maxRelError(), v.tolerance(), v.medianLatencyMillis()))
                    .append("</td><td class=\"").append(ref ? "" : v.passed() ? "pass" : "fail").append("\">")
                    .append(ref ? "reference" : v.passed() ? "PASS" : "FAIL").append("</td></tr>");
        }
        h.append("</table>");
        h.append(barChart(r.verifications().stream().map(v -> shorten(v.artifact(), 40)).toList(),
                r.verifications().stream().map(OptimizeReport.Verification::medianLatencyMillis).toList(),
                "median latency", " ms"));
        htmlInt8(r, h);
        h.append("<h2>Ops</h2><table><tr><th>op</th><th>original</th><th>optimized</th></tr>");
        java.util.TreeSet<String> ops = new java.util.TreeSet<>(r.original().ops().keySet());
        ops.addAll(r.optimized().ops().keySet());
        for (String op : ops) {
            h.append("<tr><td>").append(esc(op)).append("</td><td>").append(r.original().ops().getOrDefault(op, 0))
                    .append("</td><td>").append(r.optimized().ops().getOrDefault(op, 0)).append("</td></tr>");
        }
        h.append("</table><p>Machine-readable: report.json</p></body></html>\n");
        return h.toString();
    }

    private static void htmlInt8(OptimizeReport r, StringBuilder h) {
        if (!r.warnings().isEmpty()) {
            h.append("<h2>Warnings</h2><ul>");
            r.warnings().forEach(w -> h.append("<li class=\"fail\">").append(esc(w)).append("</li>"));
            h.append("</ul>");
        }
        CalibrateJob.Summary c = r.calibration();
        if (c != null) {
            h.append("<h2>Calibration</h2><p>").append(esc(c.data())).append(c.random()
                    ? " <b class=\"fail\">RANDOM data: a smoke run, not a calibration</b>" : "").append("</p>");
            h.append(String.format(Locale.ROOT, "<p>%d samples in %d batches, %d tensors, method %s%s; %.2f s "
                    + "(%.0f samples/s); Kiln's histograms %.1f%% of the time (%.2f GB/s); %d NaN, %d Inf excluded"
                    + "</p>", c.samples(), c.batches(), c.tensors(), esc(c.method()), c.overrides().isEmpty() ? ""
                    : " " + esc(c.overrides().toString()), c.seconds(), c.samplesPerSecond(), 100 * c.kilnShare(),
                    c.activationGBps(), c.nanCount(), c.infCount()));
        }
        OptimizeReport.MixedPrecision m = r.mixedPrecision();
        if (m != null) {
            h.append("<h2>Mixed precision</h2><p>Kept in float: ").append(esc(m.keptFloat().isEmpty() ? "none"
                    : m.keptFloat().toString())).append(" — ").append(esc(m.reason())).append(m.budget().isEmpty()
                    ? "" : "; budget " + esc(m.budget()) + ", achieved " + esc(m.achieved())).append("</p>");
            if (!m.sensitivities().isEmpty()) {
                h.append(barChart(m.sensitivities().stream().map(OptimizeReport.Sensitivity::layer).toList(),
                        m.sensitivities().stream().map(OptimizeReport.Sensitivity::cost).toList(),
                        "sensitivity: " + m.sensitivities().get(0).metric() + " with only this layer in INT8", ""));
            }
        }
        Evaluation e = r.evaluation();
        if (e != null) {
            h.append("<h2>Accuracy on held-out data</h2><p>").append(esc(e.data())).append(", ").append(e.samples())
                    .append(" samples</p><table><tr><th>model</th><th>runtime</th><th>size</th><th>top-1</th>"
                            + "<th>drop (points)</th><th>min cosine</th><th>min SQNR dB</th><th>max abs error</th>"
                            + "<th>ms per batch</th></tr>");
            double ref = e.reference().top1();
            h.append("<tr><td>original (FP32)</td><td>tensorflow</td><td></td><td>").append(pct(ref))
                    .append("</td><td></td><td></td><td></td><td></td><td>")
                    .append(String.format(Locale.ROOT, "%.2f", e.reference().medianBatchMillis())).append("</td></tr>");
            for (Evaluation.Result x : e.candidates()) {
                double maxAbs = x.outputs().stream().mapToDouble(Evaluation.OutputMetrics::maxAbsError).max()
                        .orElse(0);
                h.append("<tr><td>").append(esc(x.name())).append("</td><td>").append(esc(x.runtime()))
                        .append("</td><td>").append(humanBytes(x.bytes())).append("</td><td>")
                        .append(e.labelled() ? pct(x.top1()) : "-").append("</td><td>")
                        .append(e.labelled() ? String.format(Locale.ROOT, "%+.2f", 100 * (x.top1() - ref)) : "")
                        .append(String.format(Locale.ROOT, "</td><td>%.6f</td><td>%.1f</td><td>%.3e</td><td>%.2f",
                                x.minCosine(), x.minSqnrDb(), maxAbs, x.medianBatchMillis())).append("</td></tr>");
            }
            h.append("</table>");
            if (e.labelled()) {
                h.append(barChart(e.candidates().stream().map(Evaluation.Result::name).toList(),
                        e.candidates().stream().map(x -> 100 * x.top1()).toList(), "top-1 accuracy", " %"));
            }
            h.append(barChart(e.candidates().stream().map(Evaluation.Result::name).toList(),
                    e.candidates().stream().map(x -> x.bytes() / 1024.0).toList(), "size", " KiB"));
            h.append(barChart(e.candidates().stream().map(Evaluation.Result::name).toList(),
                    e.candidates().stream().map(Evaluation.Result::medianBatchMillis).toList(),
                    "median latency per batch", " ms"));
        }
        if (!r.layers().isEmpty()) {
            h.append("<h2>Per-layer quantization error</h2>");
            h.append(barChart(r.layers().stream().map(OptimizeReport.LayerError::tensor).toList(),
                    r.layers().stream().map(l -> Double.isInfinite(l.sqnrDb()) ? 0.0 : l.sqnrDb()).toList(),
                    "SQNR of the fake-quantized model at each quantized tensor (dB, higher is better)", " dB"));
        }
        List<OptimizeReport.Artifact> sat = r.artifacts().stream().filter(a -> a.precision().startsWith("int8")
                && a.saturation() != null && !a.saturation().isEmpty()).toList();
        if (!sat.isEmpty()) {
            h.append("<h2>ONNX Runtime on x86 CPUs without VNNI</h2><ul>");
            sat.forEach(a -> h.append("<li>").append(esc(a.path())).append(": ").append(esc(a.saturation()))
                    .append("</li>"));
            h.append("</ul>");
        }
    }

    /** A horizontal SVG bar chart. */
    public static String barChart(List<String> labels, List<Double> values, String title, String unit) {
        double max = values.stream().mapToDouble(Double::doubleValue).max().orElse(1);
        if (max <= 0) {
            max = 1;
        }
        int rowH = 22;
        int labelW = 300;
        int barW = 500;
        StringBuilder s = new StringBuilder();
        s.append("<figure><figcaption>").append(esc(title)).append("</figcaption><svg width=\"")
                .append(labelW + barW + 120).append("\" height=\"").append(rowH * labels.size() + 4)
                .append("\" font-size=\"12\">");
        for (int i = 0; i < labels.size(); i++) {
            double v = values.get(i);
            int w = (int) Math.round(barW * v / max);
            int y = i * rowH + 2;
            s.append("<text x=\"").append(labelW - 6).append("\" y=\"").append(y + 15)
                    .append("\" text-anchor=\"end\">").append(esc(labels.get(i))).append("</text>");
            s.append("<rect x=\"").append(labelW).append("\" y=\"").append(y).append("\" width=\"").append(w)
                    .append("\" height=\"").append(rowH - 6).append("\" fill=\"#d0602a\"/>");
            s.append("<text x=\"").append(labelW + w + 6).append("\" y=\"").append(y + 15).append("\">")
                    .append(v == Math.rint(v) ? Long.toString((long) v) : String.format(Locale.ROOT, "%.3g", v))
                    .append(esc(unit)).append("</text>");
        }
        return s.append("</svg></figure>").toString();
    }

    public static String humanBytes(long b) {
        if (b < 0) {
            return "?";
        }
        if (b < 1024) {
            return b + " B";
        }
        if (b < 1024 * 1024) {
            return String.format(Locale.ROOT, "%.1f KiB", b / 1024.0);
        }
        return String.format(Locale.ROOT, "%.1f MiB", b / (1024.0 * 1024));
    }

    private static String shorten(String s, int n) {
        return s.length() <= n ? s : "..." + s.substring(s.length() - n + 3);
    }

    private static String esc(String s) {
        return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("\"", "&quot;");
    }
}
