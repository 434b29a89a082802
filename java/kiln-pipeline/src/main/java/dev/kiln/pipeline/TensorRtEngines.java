package dev.kiln.pipeline;

import dev.kiln.onnx.OnnxReader;
import dev.kiln.tensorrt.EngineBuilder;
import dev.kiln.tensorrt.EngineOptions;
import dev.kiln.tensorrt.EnginePlan;
import dev.kiln.tensorrt.TensorRtOnnxSupport;
import dev.kiln.tensorrt.TensorRtProbe;

import java.nio.file.Path;
import java.util.function.Consumer;

/**
 * One TensorRT engine from one of Kiln's ONNX files: built where TensorRT and a GPU are usable; elsewhere the
 * manifest of the engine that would be built and a trtexec script with the same flags, and a message saying so.
 * Bad options fail the same way in both cases, before anything is written.
 */
public final class TensorRtEngines {
    private static final int MAX_LOGGED_PROBLEMS = 20;

    private TensorRtEngines() {
    }

    /**
     * What happened: {@code built} with the engine and its manifest, or planned with the script, the trtexec command
     * line and the reason no engine was built.
     */
    public record Outcome(Path onnx, Path engine, boolean built, Path manifest, Path script, String commandLine,
                          String reason, TensorRtOnnxSupport.Report parserSupport) {
        /** One line for logs and reports. */
        public String summary() {
            return built ? "built TensorRT engine " + engine + " from " + onnx + " (manifest " + manifest + ")"
                    : "no TensorRT engine built for " + engine + " (" + reason + "); wrote " + script + " and "
                    + manifest + ": run the script on a machine with TensorRT " + TensorRtProbe.PRESET_TENSORRT_VERSION
                    + " and an NVIDIA GPU";
        }
    }

    /** The script's name beside the engine: {@code build_<engine file name without extension>.sh}. */
    public static Path scriptFor(Path engine) {
        String name = engine.getFileName().toString();
        int dot = name.lastIndexOf('.');
        return engine.resolveSibling("build_" + (dot > 0 ? name.substring(0, dot) : name) + ".sh");
    }

    /**
     * Builds {@code engine} from {@code onnx}, or writes the plan where TensorRT is not usable. Either way the ONNX is
     * first checked node by node against TensorRT's published support table and what the parser would refuse is
     * logged (a warning, not a failure: a newer TensorRT or a plugin may take it).
     */
    public static Outcome buildOrPlan(Path sourceModel, Path onnx, Path engine, EngineOptions options,
                                      Consumer<String> log) {
        TensorRtOnnxSupport.Report support = TensorRtOnnxSupport.check(OnnxReader.read(onnx));
        log.accept("tensorrt   " + (support.buildable() ? "" : "warning: ") + support.summary());
        support.problems().stream().limit(MAX_LOGGED_PROBLEMS)
                .forEach(p -> log.accept("tensorrt   not supported: " + p));
        if (support.problems().size() > MAX_LOGGED_PROBLEMS) {
            log.accept("tensorrt   … and " + (support.problems().size() - MAX_LOGGED_PROBLEMS) + " more ("
                    + "kiln inspect " + onnx + " --json lists them all)");
        }
        TensorRtProbe.Result probe = TensorRtProbe.probe();
        if (probe.available()) {
            EngineBuilder.Result r = EngineBuilder.build(onnx, engine, options, sourceModel, log);
            Outcome o = new Outcome(onnx, engine, true, r.manifestFile(), null, null, null, support);
            log.accept(String.format("tensorrt   %s in %.1f s", o.summary(), r.manifest().buildSeconds()));
            return o;
        }
        String reason = "TensorRT is not usable here: " + probe.reason();
        EnginePlan.Result p = EnginePlan.write(onnx, engine, options, sourceModel, scriptFor(engine), reason);
        Outcome o = new Outcome(onnx, engine, false, p.manifestFile(), p.script(), p.commandLine(), reason, support);
        log.accept("tensorrt   " + o.summary());
        log.accept("tensorrt   " + p.commandLine());
        return o;
    }
}
