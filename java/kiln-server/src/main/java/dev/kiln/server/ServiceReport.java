package dev.kiln.server;

import dev.kiln.pipeline.OptimizeReport;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The report as the service shows it: file paths relative to the job's output directory (the server's own paths
 * are nobody's business, and the output moves from its staging directory when it is published), the model by its
 * uploaded name; and the short summary that GET /v1/jobs/{id} returns.
 */
final class ServiceReport {
    private ServiceReport() {
    }

    static OptimizeReport relativize(OptimizeReport r, Path outDir, String modelName) {
        List<OptimizeReport.Artifact> artifacts = new ArrayList<>();
        for (OptimizeReport.Artifact a : r.artifacts()) {
            artifacts.add(new OptimizeReport.Artifact(a.format(), a.precision(), relative(a.path(), outDir), a.bytes(),
                    a.saturation()));
        }
        List<OptimizeReport.Verification> verifications = new ArrayList<>();
        for (OptimizeReport.Verification v : r.verifications()) {
            verifications.add(new OptimizeReport.Verification(relative(v.artifact(), outDir), v.runtime(), v.samples(),
                    v.sequenceLengths(), v.maxAbsError(), v.maxRelError(), v.tolerance(), v.passed(),
                    v.medianLatencyMillis()));
        }
        List<OptimizeReport.OutputFile> files = new ArrayList<>();
        for (OptimizeReport.OutputFile f : r.files()) {
            files.add(new OptimizeReport.OutputFile(relative(f.path(), outDir), f.bytes(), f.sha256()));
        }
        return new OptimizeReport(r.kilnVersion(), r.environment(), modelName, r.modelNote(), ".", r.original(),
                r.optimized(), r.passes(), artifacts, verifications, r.calibration(), r.weightMethod(), r.evaluation(),
                r.layers(), r.mixedPrecision(), r.pruning(), r.lowRank(), r.warnings(), r.timingsMillis(), files);
    }

    private static String relative(String path, Path outDir) {
        Path p = Path.of(path);
        Path base = outDir.toAbsolutePath().normalize();
        Path abs = p.toAbsolutePath().normalize();
        return abs.startsWith(base) ? base.relativize(abs).toString() : path;
    }

    /** What GET /v1/jobs/{id} shows of a finished job's report. */
    static Map<String, Object> summary(OptimizeReport r) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("allPassed", r.allPassed());
        m.put("nodes", Map.of("original", r.original().nodes(), "optimized", r.optimized().nodes()));
        List<Map<String, Object>> artifacts = new ArrayList<>();
        for (OptimizeReport.Artifact a : r.artifacts()) {
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("name", a.path());
            e.put("format", a.format());
            e.put("precision", a.precision());
            e.put("bytes", a.bytes());
            artifacts.add(e);
        }
        m.put("artifacts", artifacts);
        List<Map<String, Object>> verifications = new ArrayList<>();
        for (OptimizeReport.Verification v : r.verifications()) {
            Map<String, Object> e = new LinkedHashMap<>();
            e.put("artifact", v.artifact());
            e.put("runtime", v.runtime());
            e.put("passed", v.passed());
            e.put("maxRelError", v.maxRelError());
            verifications.add(e);
        }
        m.put("verifications", verifications);
        m.put("warnings", r.warnings());
        m.put("timingsMillis", r.timingsMillis());
        return m;
    }
}
