package dev.kiln.cli;

import dev.kiln.ErrorCode;
import dev.kiln.pipeline.CompareJob;
import dev.kiln.pipeline.Reports;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code kiln compare A B}: run both on the same inputs and compare outputs (and optionally every shared layer). */
@Command(name = "compare", mixinStandardHelpOptions = true,
        description = "Run two models on the same inputs and compare their outputs: pass when every element "
                + "satisfies |a-b| <= atol + rtol*|a|. Exit status 8 when an output fails.")
final class CompareCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "A", description = "the reference: SavedModel directory, .pb or .onnx")
    Path a;

    @Parameters(index = "1", paramLabel = "B", description = "the model compared against A")
    Path b;

    @Option(names = "--data", paramLabel = "FILE", description = ".npy or .npz inputs (default: seeded random)")
    String data;

    @Option(names = "--atol", paramLabel = "X", defaultValue = "1e-5", description = "absolute tolerance (1e-5)")
    double atol;

    @Option(names = "--rtol", paramLabel = "Y", defaultValue = "1e-3", description = "relative tolerance (1e-3)")
    double rtol;

    @Option(names = "--per-layer", description = "also compare every intermediate tensor the two models share")
    boolean perLayer;

    @Option(names = "--batch", paramLabel = "N", defaultValue = "1", description = "batch size (default: 1)")
    int batch;

    @Option(names = "--json", description = "print the comparison as JSON")
    boolean json;

    @Mixin
    ModelOptions modelOptions;

    @Override
    public Integer call() {
        CompareJob.Result r = CompareJob.builder(a, b).data(data).atol(atol).rtol(rtol).perLayer(perLayer)
                .batch(batch).importOptions(modelOptions.importOptions()).build().run();
        if (json) {
            System.out.println(Reports.toJson(r));
        } else {
            print(r);
        }
        return r.passed() ? 0 : ErrorCode.VERIFICATION_FAILED.exitStatus();
    }

    private static void print(CompareJob.Result r) {
        System.out.println("A        " + r.modelA());
        System.out.println("B        " + r.modelB());
        System.out.println("inputs   " + r.inputs() + ", " + r.batches() + " batch(es); pass: |a-b| <= "
                + r.atol() + " + " + r.rtol() + " * |a|");
        System.out.println();
        System.out.printf(Locale.ROOT, "%-24s %-16s %11s %11s %11s %10s  %s%n", "output", "shape", "max abs",
                "mean abs", "max rel", "cosine", "result");
        for (CompareJob.OutputResult o : r.outputs()) {
            System.out.printf(Locale.ROOT, "%-24s %-16s %11.3g %11.3g %11.3g %10.6f  %s%n", o.name(), o.shapeA(),
                    o.maxAbsError(), o.meanAbsError(), o.maxRelError(), o.cosine(),
                    o.passed() ? "PASS" : "FAIL: " + o.message());
        }
        CompareJob.PerLayer p = r.perLayer();
        if (p != null) {
            System.out.println();
            System.out.println("per layer: matched by " + p.method() + "; " + p.matched() + " of " + p.candidates()
                    + " tensors of A compared");
            p.notes().forEach(n -> System.out.println("  " + n));
            System.out.printf(Locale.ROOT, "%-32s %-16s %-18s %11s %11s %10s %10s%n", "tensor", "op", "shape",
                    "max abs", "rel mean", "cosine", "result");
            for (CompareJob.LayerResult l : p.layers()) {
                System.out.printf(Locale.ROOT, "%-32s %-16s %-18s %11.3g %11.3g %10.6f %10s%s%n", l.name(), l.op(),
                        l.shape(), l.maxAbsError(), l.relativeMeanError(), l.cosine(), l.passed() ? "pass" : "FAIL",
                        l.name().equals(p.firstJump()) ? "  <- error jumps here" : "");
            }
            System.out.println("first error jump: " + (p.firstJump() == null ? "none" : p.firstJump())
                    + "; first failing layer: " + (p.firstFailing() == null ? "none" : p.firstFailing()));
        }
        System.out.println();
        System.out.println(r.passed() ? "PASSED" : "FAILED");
    }
}
