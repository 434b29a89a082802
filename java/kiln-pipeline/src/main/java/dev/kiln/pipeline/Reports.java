package dev.kiln.pipeline;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import dev.kiln.KilnException;
import dev.kiln.passes.PassResult;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/** Writes an {@link OptimizeReport} as a console summary, report.json and report.html (with SVG bar charts). */
public final class Reports {
    /**
     * JSON for machines: NaN and ±Infinity (an unmeasured top-1, the SQNR of identical outputs) are written as null,
     * not as the strings "NaN" and "Infinity" that a reader would have to special-case.
     */
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT)
            .registerModule(new com.fasterxml.jackson.databind.module.SimpleModule("kiln-non-finite-as-null")
                    .addSerializer(Double.class, new NonFiniteAsNull())
                    .addSerializer(double.class, new NonFiniteAsNull())
                    .addSerializer(Float.class, new NonFiniteAsNull())
                    .addSerializer(float.class, new NonFiniteAsNull()));

    /** Writes a finite number as itself and NaN or ±Infinity as null. */
    private static final class NonFiniteAsNull extends com.fasterxml.jackson.databind.ser.std.StdSerializer<Number> {
        NonFiniteAsNull() {
            super(Number.class);
        }

        @Override
        public void serialize(Number v, com.fasterxml.jackson.core.JsonGenerator g,
                              com.fasterxml.jackson.databind.SerializerProvider p) throws IOException {
            double d = v.doubleValue();
            if (Double.isFinite(d)) {
                if (v instanceof Float f) {
                    g.writeNumber(f);
                } else {
                    g.writeNumber(d);
                }
            } else {
                g.writeNull();
            }
        }
    }

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
        dev.kiln.AtomicFiles.write(target, text);
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
        out.printf(Locale.ROOT, "verification against TensorFlow on the original (%d random samples%s)%n",
                r.verifications().isEmpty() ? 0 : r.verifications().get(0).samples(), lengths(r));
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
        if (r.lowRank() != null) {
            out.println();
            out.printf(Locale.ROOT, "low rank   %s: parameters %,d -> %,d (%.1f%% fewer), %d layers factorized%n",
                    r.lowRank().rule(), r.lowRank().parametersBefore(), r.lowRank().parametersAfter(),
                    100 * r.lowRank().reduction(), r.lowRank().factorized().size());
        }
        if (r.pruning() != null) {
            out.println();
            out.printf(Locale.ROOT, "pruning    %s: %d layers, global sparsity %.1f%% (cost: the evaluation below)%n",
                    r.pruning().plan(), r.pruning().layers().size(), 100 * r.pruning().globalSparsity());
        }
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
        if (r.weightMethod() != null) {
            out.println("int8 weights per output channel, range by " + r.weightMethod());
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

    private static final String STYLE = "body{font-family:system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;"
            + "margin:0 auto;padding:1.5em 2em 3em;max-width:1100px;color:#222;line-height:1.45}"
            + "h1{margin-bottom:.2em}h2{margin-top:1.8em;border-bottom:2px solid #d0602a;padding-bottom:.15em}"
            + ".sub{color:#555;margin:.2em 0}"
            + "table{border-collapse:collapse;margin:.6em 0;font-variant-numeric:tabular-nums}"
            + "td,th{border:1px solid #ddd;padding:4px 10px;text-align:right;vertical-align:top}"
            + "th{background:#f4efe9;font-weight:600}tr:nth-child(even) td{background:#fbfaf8}"
            + "td:first-child,th:first-child,td.l,th.l{text-align:left}"
            + "td:not(.l):not(:first-child){white-space:nowrap}"
            + ".pass{color:#17803d;font-weight:600}.fail{color:#c0262d;font-weight:600}.muted{color:#777}"
            + ".warn{background:#fff4e5;border-left:4px solid #e8900c;padding:.5em 1em;margin:.4em 0}"
            + "figure{margin:1em 0}figcaption{font-weight:600;margin-bottom:.3em}"
            + "svg{max-width:100%;height:auto;font-family:inherit}"
            + "details{margin:.2em 0}summary{cursor:pointer}code{font-size:90%}"
            + ".cards{display:flex;flex-wrap:wrap;gap:.8em;margin:1em 0}"
            + ".card{border:1px solid #e2d6cb;border-radius:6px;padding:.5em 1em;min-width:12em}"
            + ".card b{display:block;font-size:1.3em}.card span{color:#666;font-size:.9em}";

    /** Steps of the optimize job by their key in {@link OptimizeReport#timingsMillis()}, in words. */
    private static final java.util.Map<String, String> STEPS = java.util.Map.of(
            "import", "read the TensorFlow model into Kiln's graph",
            "optimize", "graph passes for inference (below)",
            "export", "write the float outputs (SavedModel, ONNX FP32/FP16)",
            "calibrate", "run the calibration data, set INT8 ranges per tensor",
            "mixed-precision", "measure each layer's sensitivity, choose layers to keep in float",
            "export-int8", "write the INT8 outputs (QDQ ONNX per target, fake-quantized SavedModel)",
            "verify", "compare the float outputs with TensorFlow on the original",
            "evaluate", "accuracy, error and latency of every output on held-out data; per-layer error");

    public static String toHtml(OptimizeReport r) {
        StringBuilder h = new StringBuilder();
        h.append("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">"
                // Self-contained: the page may load nothing, run nothing.
                + "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; "
                + "style-src 'unsafe-inline'\">"
                + "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>Kiln report: ")
                .append(esc(r.model())).append("</title><style>").append(STYLE).append("</style></head><body>");
        h.append("<h1>Kiln optimize</h1><p class=\"sub\"><code>").append(esc(r.model())).append("</code>")
                .append(r.modelNote().isEmpty() ? "" : " — " + esc(r.modelNote())).append("</p>");
        OptimizeReport.Environment e = r.environment();
        h.append("<p class=\"sub\">Kiln ").append(esc(r.kilnVersion())).append(" · ").append(esc(e.cpu()))
                .append(", ").append(e.cores()).append(" cores · ").append(esc(e.os())).append(" · Java ")
                .append(esc(e.java())).append(" · TensorFlow ").append(esc(e.tensorflow())).append(" · ONNX Runtime ")
                .append(esc(e.onnxRuntime())).append(" · kernel backend ").append(esc(e.kernelBackend()))
                .append("</p>");
        htmlSummary(r, h);
        if (!r.warnings().isEmpty()) {
            h.append("<section id=\"warnings\"><h2>Warnings</h2>");
            r.warnings().forEach(w -> h.append("<p class=\"warn\">").append(esc(relative(r, w))).append("</p>"));
            h.append("</section>");
        }
        htmlPipeline(r, h);

        h.append("<section id=\"passes\"><h2>Graph passes</h2><p>").append(r.original().nodes()).append(" → ")
                .append(r.optimized().nodes()).append(" nodes; weights ").append(humanBytes(r.original()
                        .constantBytes())).append(" → ").append(humanBytes(r.optimized().constantBytes()))
                .append(String.format(Locale.ROOT, "; %,d parameters.</p>", r.optimized().parameters()));
        h.append(barChart(r.passes().stream().map(PassResult::pass).toList(),
                r.passes().stream().map(p -> (double) p.nodesAfter()).toList(), "nodes after each pass", ""));
        h.append("<table><tr><th>pass</th><th>nodes before</th><th>after</th><th>removed</th><th>folded</th>"
                + "<th>fused</th><th>added</th><th class=\"l\">what changed</th></tr>");
        for (PassResult p : r.passes()) {
            h.append("<tr><td>").append(esc(p.pass())).append("</td><td>").append(p.nodesBefore()).append("</td><td>")
                    .append(p.nodesAfter()).append("</td><td>").append(p.removed()).append("</td><td>")
                    .append(p.folded()).append("</td><td>").append(p.fused()).append("</td><td>").append(p.added())
                    .append("</td><td class=\"l\">");
            if (p.notes().isEmpty()) {
                h.append("<span class=\"muted\">nothing</span>");
            } else if (p.notes().size() == 1) {
                h.append(esc(p.notes().get(0)));
            } else {
                h.append("<details><summary>").append(esc(p.notes().get(0))).append(" … (")
                        .append(p.notes().size()).append(" changes)</summary>");
                p.notes().subList(1, p.notes().size()).forEach(n -> h.append(esc(n)).append("<br>"));
                h.append("</details>");
            }
            h.append("</td></tr>");
        }
        h.append("</table></section>");

        h.append("<section id=\"outputs\"><h2>Outputs</h2>");
        h.append(barChart(r.artifacts().stream().map(a -> a.format() + " " + a.precision()).toList(),
                r.artifacts().stream().map(a -> a.bytes() / 1024.0).toList(), "size on disk", " KiB"));
        h.append("<table><tr><th>format</th><th>precision</th><th>size</th><th class=\"l\">file</th></tr>");
        for (OptimizeReport.Artifact a : r.artifacts()) {
            h.append("<tr><td>").append(esc(a.format())).append("</td><td>").append(esc(a.precision()))
                    .append("</td><td>").append(humanBytes(a.bytes())).append("</td><td class=\"l\"><code>")
                    .append(esc(relative(r, a.path()))).append("</code></td></tr>");
        }
        h.append("</table></section>");

        h.append("<section id=\"verification\"><h2>Verification against TensorFlow on the original</h2><p>")
                .append(r.verifications().isEmpty() ? 0 : r.verifications().get(0).samples())
                .append(" random samples").append(esc(lengths(r)))
                .append(" through each float output; INT8 outputs are measured on held-out data "
                        + "below.</p><table><tr><th>output</th><th>runtime</th><th>max abs error</th>"
                        + "<th>max rel error</th><th>tolerance (rel)</th><th>median latency</th><th>result</th>"
                        + "</tr>");
        for (OptimizeReport.Verification v : r.verifications()) {
            boolean ref = v.artifact().equals("original");
            h.append("<tr><td>").append(esc(relative(r, v.artifact()))).append("</td><td>").append(esc(v.runtime()))
                    .append("</td><td>").append(ref ? "–" : small(v.maxAbsError())).append("</td><td>")
                    .append(ref ? "–" : small(v.maxRelError())).append("</td><td>")
                    .append(ref ? "–" : small(v.tolerance())).append("</td><td>").append(millis(
                            v.medianLatencyMillis())).append("</td><td class=\"").append(ref ? "" : v.passed()
                            ? "pass" : "fail").append("\">").append(ref ? "reference" : v.passed() ? "PASS" : "FAIL")
                    .append("</td></tr>");
        }
        h.append("</table>");
        h.append(barChart(r.verifications().stream().map(v -> relative(r, v.artifact()) + " (" + v.runtime() + ")")
                        .toList(), r.verifications().stream().map(OptimizeReport.Verification::medianLatencyMillis)
                        .toList(), "median latency, one sample", " ms"));
        h.append("</section>");
        htmlInt8(r, h);
        h.append("<section id=\"ops\"><h2>Ops</h2><table><tr><th>op</th><th>original</th><th>optimized</th>"
                + "</tr>");
        java.util.TreeSet<String> ops = new java.util.TreeSet<>(r.original().ops().keySet());
        ops.addAll(r.optimized().ops().keySet());
        for (String op : ops) {
            int before = r.original().ops().getOrDefault(op, 0);
            int after = r.optimized().ops().getOrDefault(op, 0);
            h.append("<tr><td>").append(esc(op)).append("</td><td>").append(before).append("</td><td")
                    .append(before == after ? ">" : " class=\"pass\">").append(after).append("</td></tr>");
        }
        h.append("</table></section><p class=\"muted\">Every number on this page comes from this run. "
                + "Machine-readable: report.json beside this file.</p></body></html>\n");
        return h.toString();
    }

    /** Size, accuracy and latency before and after, at a glance. */
    private static void htmlSummary(OptimizeReport r, StringBuilder h) {
        h.append("<section id=\"summary\"><div class=\"cards\">");
        card(h, r.original().nodes() + " → " + r.optimized().nodes(), "graph nodes");
        Evaluation e = r.evaluation();
        Evaluation.Result fp32 = e == null ? null : e.candidates().stream()
                .filter(c -> c.name().equals("onnx fp32")).findFirst().orElse(null);
        Evaluation.Result best = e == null ? null : e.candidates().stream()
                .filter(c -> c.name().startsWith("onnx int8")).min(java.util.Comparator.comparingLong(
                        Evaluation.Result::bytes)).orElse(null);
        if (fp32 != null && best != null) {
            card(h, humanBytes(fp32.bytes()) + " → " + humanBytes(best.bytes()), "size, ONNX FP32 → "
                    + best.name().substring("onnx ".length()));
            if (e.labelled()) {
                card(h, pct(e.reference().top1()) + " → " + pct(best.top1()), String.format(Locale.ROOT,
                        "top-1, original → %s (%+.2f points)", best.name().substring("onnx ".length()),
                        100 * (best.top1() - e.reference().top1())));
            }
            card(h, millis(fp32.medianBatchMillis()) + " → " + millis(best.medianBatchMillis()),
                    "ONNX Runtime per batch, FP32 → INT8");
        } else {
            r.artifacts().stream().filter(a -> a.format().equals("onnx")).forEach(a -> card(h, humanBytes(a.bytes()),
                    "ONNX " + a.precision()));
        }
        long total = r.timingsMillis().values().stream().mapToLong(Long::longValue).sum();
        card(h, seconds(total), "total time");
        boolean ok = r.allPassed();
        h.append("<div class=\"card\"><b class=\"").append(ok ? "pass" : "fail").append("\">")
                .append(ok ? "PASS" : "FAIL").append("</b><span>verification of the float outputs</span></div>");
        h.append("</div></section>");
    }

    private static void card(StringBuilder h, String value, String what) {
        h.append("<div class=\"card\"><b>").append(esc(value)).append("</b><span>").append(esc(what))
                .append("</span></div>");
    }

    private static void htmlPipeline(OptimizeReport r, StringBuilder h) {
        h.append("<section id=\"pipeline\"><h2>Pipeline</h2><table><tr><th>#</th><th class=\"l\">step</th>"
                + "<th class=\"l\">what it does</th><th>time</th></tr>");
        int i = 1;
        long total = 0;
        for (java.util.Map.Entry<String, Long> t : r.timingsMillis().entrySet()) {
            h.append("<tr><td>").append(i++).append("</td><td class=\"l\">").append(esc(t.getKey()))
                    .append("</td><td class=\"l\">").append(esc(STEPS.getOrDefault(t.getKey(), "")))
                    .append("</td><td>").append(seconds(t.getValue())).append("</td></tr>");
            total += t.getValue();
        }
        h.append("<tr><th class=\"l\"></th><th class=\"l\">total</th><th></th><th>").append(seconds(total))
                .append("</th></tr></table>");
        h.append(barChart(List.copyOf(r.timingsMillis().keySet()), r.timingsMillis().values().stream()
                .map(v -> v / 1000.0).toList(), "time per step", " s"));
        h.append("</section>");
    }

    private static void htmlInt8(OptimizeReport r, StringBuilder h) {
        if (r.lowRank() != null) {
            h.append("<h2>Low rank</h2><p>").append(esc(r.lowRank().rule())).append(String.format(Locale.ROOT,
                    ": parameters %,d &rarr; %,d (%.1f%% fewer), %d layers factorized</p>",
                    r.lowRank().parametersBefore(), r.lowRank().parametersAfter(), 100 * r.lowRank().reduction(),
                    r.lowRank().factorized().size()));
        }
        if (r.pruning() != null) {
            h.append("<h2>Pruning</h2><p>").append(esc(r.pruning().plan())).append(String.format(Locale.ROOT,
                    ": %d layers, global sparsity %.1f%%</p>", r.pruning().layers().size(),
                    100 * r.pruning().globalSparsity()));
            h.append(barChart(r.pruning().layers().stream().map(dev.kiln.sparse.PruningReport.Layer::name).toList(),
                    r.pruning().layers().stream().map(l -> 100 * l.sparsity()).toList(), "sparsity per layer", " %"));
        }
        CalibrateJob.Summary c = r.calibration();
        if (c != null) {
            h.append("<section id=\"calibration\"><h2>Calibration</h2><p>").append(esc(c.data())).append(c.random()
                    ? " <b class=\"fail\">RANDOM data: a smoke run, not a calibration</b>" : "").append("</p>");
            h.append(String.format(Locale.ROOT, "<p>%,d samples in %,d batches, %d tensors, threshold method %s%s; "
                    + "%s (%,.0f samples/s); Kiln's histograms %.1f%% of the time (%.2f GB/s). Non-finite values "
                    + "excluded: %,d not-a-number, %,d infinite.</p>", c.samples(), c.batches(), c.tensors(),
                    esc(c.method()),
                    c.overrides().isEmpty() ? "" : " " + esc(c.overrides().toString()), seconds(Math.round(
                            1000 * c.seconds())), c.samplesPerSecond(), 100 * c.kilnShare(), c.activationGBps(),
                    c.nanCount(), c.infCount()));
            if (!c.notes().isEmpty()) {
                h.append("<ul>");
                c.notes().forEach(n -> h.append("<li>").append(esc(n)).append("</li>"));
                h.append("</ul>");
            }
            if (r.weightMethod() != null) {
                h.append("<p>INT8 weights per output channel, range by ").append(esc(r.weightMethod()))
                        .append(".</p>");
            }
            h.append("</section>");
        }
        htmlPrecision(r, h);
        Evaluation e = r.evaluation();
        if (e != null) {
            h.append("<section id=\"accuracy\"><h2>Accuracy on held-out data</h2><p>").append(esc(e.data()))
                    .append(String.format(Locale.ROOT, ", %,d samples. Error against the original (TensorFlow, FP32)"
                            + " on the same inputs.</p>", e.samples()))
                    .append("<table><tr><th>model</th><th>runtime</th><th>size</th><th>top-1</th>"
                            + "<th>change (points)</th><th>min cosine</th><th>min SQNR</th><th>max abs error</th>"
                            + "<th>median per batch</th></tr>");
            double ref = e.reference().top1();
            h.append("<tr><td>original (FP32)</td><td>tensorflow</td><td>–</td><td>")
                    .append(e.labelled() ? pct(ref) : "–")
                    .append("</td><td>–</td><td>–</td><td>–</td><td>–</td><td>")
                    .append(millis(e.reference().medianBatchMillis())).append("</td></tr>");
            for (Evaluation.Result x : e.candidates()) {
                double maxAbs = x.outputs().stream().mapToDouble(Evaluation.OutputMetrics::maxAbsError).max()
                        .orElse(0);
                double drop = 100 * (x.top1() - ref);
                h.append("<tr><td>").append(esc(x.name())).append("</td><td>").append(esc(x.runtime()))
                        .append("</td><td>").append(humanBytes(x.bytes())).append("</td><td>")
                        .append(e.labelled() ? pct(x.top1()) : "–").append("</td><td")
                        .append(e.labelled() && drop < -1 ? " class=\"fail\">" : ">")
                        .append(e.labelled() && Double.isFinite(drop) ? String.format(Locale.ROOT, "%+.2f", drop)
                                : "–")
                        .append("</td><td>").append(Double.isFinite(x.minCosine())
                                ? String.format(Locale.ROOT, "%.6f", x.minCosine()) : "–")
                        .append("</td><td>").append(sqnr(x.minSqnrDb())).append("</td><td>").append(small(maxAbs))
                        .append("</td><td>").append(millis(x.medianBatchMillis())).append("</td></tr>");
            }
            h.append("</table>");
            if (e.labelled()) {
                h.append(barChart(e.candidates().stream().map(Evaluation.Result::name).toList(),
                        e.candidates().stream().map(x -> 100 * x.top1()).toList(), "top-1 accuracy (original: "
                        + pct(ref) + ")", "%"));
            }
            h.append(barChart(e.candidates().stream().map(Evaluation.Result::name).toList(),
                    e.candidates().stream().map(x -> x.bytes() / 1024.0).toList(), "size on disk", " KiB"));
            h.append(barChart(e.candidates().stream().map(x -> x.name() + " (" + x.runtime() + ")").toList(),
                    e.candidates().stream().map(Evaluation.Result::medianBatchMillis).toList(),
                    "median latency per batch (original on TensorFlow: " + millis(e.reference().medianBatchMillis())
                            + ")", " ms"));
            h.append("</section>");
        }
        if (!r.layers().isEmpty()) {
            h.append("<section id=\"layers\"><h2>Per-layer quantization error</h2><p>SQNR and cosine of the "
                    + "fake-quantized model against FP32 at each quantized tensor, accumulated from the input up to "
                    + "and including that tensor's own quantization; higher is better, ∞ means exact.</p>");
            h.append(barChart(r.layers().stream().map(l -> l.tensor() + " → " + layerName(l.consumer())).toList(),
                    r.layers().stream().map(OptimizeReport.LayerError::sqnrDb).toList(),
                    "SQNR at each quantized tensor", " dB"));
            h.append("<table><tr><th>tensor</th><th class=\"l\">feeds</th><th>SQNR</th><th>cosine</th></tr>");
            for (OptimizeReport.LayerError l : r.layers()) {
                h.append("<tr><td>").append(esc(l.tensor())).append("</td><td class=\"l\">").append(esc(l.consumer()))
                        .append("</td><td>").append(sqnr(l.sqnrDb())).append("</td><td>")
                        .append(Double.isFinite(l.cosine()) ? String.format(Locale.ROOT, "%.6f", l.cosine()) : "–")
                        .append("</td></tr>");
            }
            h.append("</table></section>");
        }
        List<OptimizeReport.Artifact> sat = r.artifacts().stream().filter(a -> a.precision().startsWith("int8")
                && a.saturation() != null && !a.saturation().isEmpty()).toList();
        if (!sat.isEmpty()) {
            h.append("<section id=\"saturation\"><h2>ONNX Runtime on x86 CPUs without VNNI</h2><table><tr>"
                    + "<th>file</th><th class=\"l\">integer layers exact on stock kernels?</th></tr>");
            sat.forEach(a -> h.append("<tr><td><code>").append(esc(relative(r, a.path()))).append("</code></td>"
                    + "<td class=\"l\">").append(esc(a.saturation())).append("</td></tr>"));
            h.append("</table></section>");
        }
    }

    /** Which layers run in INT8, which stayed in float, and why. */
    private static void htmlPrecision(OptimizeReport r, StringBuilder h) {
        OptimizeReport.MixedPrecision m = r.mixedPrecision();
        if (m == null && r.calibration() == null && r.layers().isEmpty()) {
            return;
        }
        h.append("<section id=\"precision\"><h2>Precision per layer</h2>");
        if (m == null || m.keptFloat().isEmpty()) {
            h.append("<p>Kept in float: <b>none</b> — ").append(m == null ? "no layer asked (--keep-float) and no "
                    + "accuracy budget (--max-accuracy-drop / --min-cosine), so every layer Kiln quantizes runs in INT8"
                    : esc(m.reason()) + (m.budget().isEmpty() ? "" : "; budget " + esc(m.budget()) + ", achieved "
                    + esc(m.achieved()))).append(".</p>");
        } else {
            h.append("<p>Kept in float: <b>").append(esc(String.join(", ", m.keptFloat()))).append("</b> — ")
                    .append(esc(m.reason())).append(m.budget().isEmpty() ? "" : "; budget " + esc(m.budget())
                            + ", achieved " + esc(m.achieved())).append(".</p>");
        }
        java.util.Set<String> kept = m == null ? java.util.Set.of() : java.util.Set.copyOf(m.keptFloat());
        if (!r.layers().isEmpty()) {
            h.append("<table><tr><th>layer</th><th class=\"l\">op</th><th class=\"l\">input</th>"
                    + "<th class=\"l\">precision</th></tr>");
            for (OptimizeReport.LayerError l : r.layers()) {
                String layer = layerName(l.consumer());
                h.append("<tr><td>").append(esc(layer)).append("</td><td class=\"l\">")
                        .append(esc(layerOp(l.consumer()))).append("</td><td class=\"l\">").append(esc(l.tensor()))
                        .append("</td><td class=\"l\">INT8</td></tr>");
            }
            for (String k : kept) {
                h.append("<tr><td>").append(esc(k)).append("</td><td></td><td></td><td class=\"l fail\">float (")
                        .append(esc(m.reason())).append(")</td></tr>");
            }
            h.append("</table>");
            java.util.Set<String> quantizedOps = new java.util.TreeSet<>();
            r.layers().forEach(l -> quantizedOps.add(layerOp(l.consumer())));
            java.util.List<String> floatOps = r.optimized().ops().keySet().stream().sorted()
                    .filter(op -> !quantizedOps.contains(op) && !java.util.Set.of("Const", "Placeholder", "Identity",
                            "NoOp").contains(op)).toList();
            if (!floatOps.isEmpty()) {
                h.append("<p class=\"muted\">The other ops (").append(esc(String.join(", ", floatOps)))
                        .append(") take float inputs in the fake-quantized model: Kiln quantizes the inputs of "
                                + "convolutions and matrix products (the ONNX Runtime layout also keeps pooling "
                                + "and concatenation in integer, and fuses bias and ReLU into the integer op).</p>");
            }
        }
        if (m != null && !m.sensitivities().isEmpty()) {
            h.append(barChart(m.sensitivities().stream().map(s -> s.layer() + " (" + s.op() + ")").toList(),
                    m.sensitivities().stream().map(OptimizeReport.Sensitivity::cost).toList(),
                    "sensitivity: " + m.sensitivities().get(0).metric() + " with only this layer in INT8", ""));
        }
        h.append("</section>");
    }

    /** "conv1/Conv2D (Conv2D)" → "conv1/Conv2D". */
    private static String layerName(String consumer) {
        int p = consumer.lastIndexOf(" (");
        return p > 0 && consumer.endsWith(")") ? consumer.substring(0, p) : consumer;
    }

    /** "conv1/Conv2D (Conv2D)" → "Conv2D". */
    private static String layerOp(String consumer) {
        int p = consumer.lastIndexOf(" (");
        return p > 0 && consumer.endsWith(")") ? consumer.substring(p + 2, consumer.length() - 1) : "";
    }

    /** A path (or a text holding it) relative to the output directory, as the reader sees it beside the report. */
    private static String relative(OptimizeReport r, String s) {
        String dir = r.outputDir();
        if (dir == null || dir.isEmpty()) {
            return s;
        }
        String prefix = dir.endsWith("/") ? dir : dir + "/";
        return s.replace(prefix, "");
    }

    /** An SQNR in dB; an exact match (no error at all) is ∞. */
    private static String sqnr(double db) {
        if (Double.isNaN(db)) {
            return "–";
        }
        return db == Double.POSITIVE_INFINITY ? "∞ (exact)" : String.format(Locale.ROOT, "%.1f dB", db);
    }

    private static String millis(double ms) {
        if (!Double.isFinite(ms)) {
            return "–";
        }
        return String.format(Locale.ROOT, ms >= 100 ? "%,.0f ms" : ms >= 10 ? "%.1f ms" : "%.2f ms", ms);
    }

    private static String seconds(long ms) {
        return ms < 1000 ? ms + " ms" : String.format(Locale.ROOT, "%.1f s", ms / 1000.0);
    }

    /** A small error or tolerance, for people: 0, 0.0123, or 1.25 × 10⁻⁶ (no Java exponent form). */
    private static String small(double v) {
        if (Double.isNaN(v)) {
            return "–";
        }
        if (Double.isInfinite(v)) {
            return v > 0 ? "∞" : "−∞";
        }
        if (v == 0) {
            return "0";
        }
        double a = Math.abs(v);
        if (a >= 1e-3 && a < 1e4) {
            return num(v);
        }
        int exp = (int) Math.floor(Math.log10(a));
        double mant = v / Math.pow(10, exp);
        String m = String.format(Locale.ROOT, "%.2f", mant);
        if (m.startsWith("10.") || m.startsWith("-10.")) {
            exp++;
            m = String.format(Locale.ROOT, "%.2f", v / Math.pow(10, exp));
        }
        return (m.equals("1.00") ? "" : m + " × ") + "10" + superscript(exp);
    }

    private static String superscript(int n) {
        String digits = "⁰¹²³⁴⁵⁶⁷⁸⁹";
        StringBuilder s = new StringBuilder(n < 0 ? "⁻" : "");
        for (char ch : Integer.toString(Math.abs(n)).toCharArray()) {
            s.append(digits.charAt(ch - '0'));
        }
        return s.toString();
    }

    /** A chart or table number: three significant digits, grouped thousands, never an exponent, NaN or Infinity. */
    private static String num(double v) {
        if (Double.isNaN(v)) {
            return "n/a";
        }
        if (Double.isInfinite(v)) {
            return v > 0 ? "∞" : "−∞";
        }
        if (v == Math.rint(v) && Math.abs(v) < 1e15) {
            return String.format(Locale.ROOT, "%,d", (long) v);
        }
        double a = Math.abs(v);
        if (a >= 100) {
            return String.format(Locale.ROOT, "%,.0f", v);
        }
        if (a < 1e-6) {
            return small(v);
        }
        return new java.math.BigDecimal(v).round(new java.math.MathContext(3)).stripTrailingZeros()
                .toPlainString();
    }

    /**
     * A horizontal SVG bar chart. Labels too long for the label column are cut with "…" (the full label is the bar's
     * tooltip); a NaN value has no bar and reads "n/a", an infinite one a full bar reading "∞".
     */
    public static String barChart(List<String> labels, List<Double> values, String title, String unit) {
        double max = values.stream().mapToDouble(Double::doubleValue).filter(Double::isFinite).max().orElse(1);
        if (!(max > 0)) {
            max = 1;
        }
        int rowH = 22;
        int longest = labels.stream().mapToInt(String::length).max().orElse(0);
        int labelW = Math.max(90, Math.min(380, longest * 7 + 16)); // ~7 px a character at 12 px
        int width = 910;
        int barW = width - labelW - 110;
        int maxChars = (labelW - 12) / 7;
        int height = rowH * labels.size() + 4;
        StringBuilder s = new StringBuilder();
        s.append("<figure><figcaption>").append(esc(title)).append("</figcaption><svg role=\"img\" aria-label=\"")
                .append(esc(title))
                .append("\" width=\"").append(width).append("\" height=\"").append(height).append("\" viewBox=\"0 0 ")
                .append(width).append(' ').append(height).append("\" font-size=\"12\">");
        for (int i = 0; i < labels.size(); i++) {
            double v = values.get(i);
            double frac = Double.isNaN(v) ? 0 : Double.isInfinite(v) ? (v > 0 ? 1 : 0) : Math.max(0, v / max);
            int w = (int) Math.round(barW * frac);
            int y = i * rowH + 2;
            String label = labels.get(i);
            String shown = label.length() <= maxChars ? label : label.substring(0, maxChars - 1) + "…";
            s.append("<g><title>").append(esc(label)).append(": ").append(esc(num(v) + unit)).append("</title>");
            s.append("<text x=\"").append(labelW - 8).append("\" y=\"").append(y + 14)
                    .append("\" text-anchor=\"end\">").append(esc(shown)).append("</text>");
            s.append("<rect x=\"").append(labelW).append("\" y=\"").append(y).append("\" width=\"").append(w)
                    .append("\" height=\"").append(rowH - 6).append("\" rx=\"2\" fill=\"#d0602a\"/>");
            s.append("<text x=\"").append(labelW + w + 6).append("\" y=\"").append(y + 14).append("\">")
                    .append(esc(num(v))).append(Double.isNaN(v) ? "" : esc(unit)).append("</text></g>");
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

    /** ", sequence lengths 1, 4, 9, 16" when the verification varied them (a model that keeps its loops), else "". */
    private static String lengths(OptimizeReport r) {
        if (r.verifications().isEmpty() || r.verifications().get(0).sequenceLengths() == null
                || r.verifications().get(0).sequenceLengths().isEmpty()) {
            return "";
        }
        return ", sequence lengths " + r.verifications().get(0).sequenceLengths().stream().map(String::valueOf)
                .collect(java.util.stream.Collectors.joining(", "));
    }
}
