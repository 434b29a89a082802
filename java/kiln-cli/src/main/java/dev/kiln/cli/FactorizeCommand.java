package dev.kiln.cli;

import dev.kiln.KilnArgumentException;
import dev.kiln.lowrank.LowRankReport;
import dev.kiln.pipeline.FactorizeJob;

import java.nio.file.Path;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code kiln factorize MODEL --energy 0.95 | --reduction 0.5 | --rank R -o OUT}: low-rank factorization. */
@Command(name = "factorize", mixinStandardHelpOptions = true,
        description = "Replace MatMul and Conv2D weights by two low-rank factors (truncated SVD) where that saves "
                + "parameters, and write the SavedModel, ONNX and a report.")
final class FactorizeCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "MODEL", description = "SavedModel directory or frozen GraphDef .pb")
    Path model;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "DIR", description = "output directory")
    Path output;

    @Option(names = "--energy", paramLabel = "E", description = "keep this share of the squared singular values, "
            + "in (0, 1] (e.g. 0.95)")
    Double energy;

    @Option(names = "--reduction", paramLabel = "F", description = "cut each layer's parameters by this share, in "
            + "[0, 1)")
    Double reduction;

    @Option(names = "--rank", paramLabel = "R", description = "the same rank for every layer")
    Integer rank;

    @Option(names = "--layers", split = ",", paramLabel = "NAME", description = "only these layers (node names)")
    Set<String> layers;

    @Option(names = "--min-parameters", paramLabel = "N", description = "only layers with at least N weights")
    Long minParameters;

    @Option(names = "--force", description = "write into an output directory that holds other files")
    boolean force;

    @Mixin
    ModelOptions modelOptions;

    @Mixin
    EvalOptions eval = new EvalOptions();

    @Override
    public Integer call() {
        int given = (energy != null ? 1 : 0) + (reduction != null ? 1 : 0) + (rank != null ? 1 : 0);
        KilnArgumentException.check(given == 1, "give one of --energy E, --reduction F or --rank R");
        FactorizeJob.Builder b = FactorizeJob.builder(model, output).importOptions(modelOptions.importOptions());
        if (energy != null) {
            b.energy(energy);
        } else if (reduction != null) {
            b.reduction(reduction);
        } else {
            b.rank(rank);
        }
        if (layers != null) {
            b.layers(layers);
        }
        if (minParameters != null) {
            b.minParameters(minParameters);
        }
        OutputDirs.checkWritable(output, force);
        dev.kiln.data.RepresentativeData data = eval.data(dev.kiln.tensorflow.TfImporter.load(model,
                modelOptions.importOptions().toBuilder().loadWeights(false).build()).inputs());
        if (data != null) {
            b.evaluate(data, eval.labels());
        }
        FactorizeJob.Result r = b.build().run();
        LowRankReport rep = r.report();
        for (LowRankReport.Layer l : rep.layers()) {
            System.out.printf(Locale.ROOT, "  %-32s %-8s %5d x %-5d rank %-4d %,9d -> %,9d parameters  energy %.4f%s%n",
                    l.name(), l.op(), l.rows(), l.cols(), l.rank(), l.parametersBefore(), l.parametersAfter(),
                    l.keptEnergy(), l.factorized() ? "" : "  (kept: " + l.note() + ")");
        }
        System.out.printf(Locale.ROOT, "parameters %,d -> %,d (%.1f%% fewer)%n", rep.parametersBefore(),
                rep.parametersAfter(), 100 * rep.reduction());
        if (rep.accuracy() != null) {
            System.out.println("against the original: " + rep.accuracy().toJson());
        }
        System.out.println("wrote " + r.savedModel() + ", " + r.onnx() + ", " + r.reportJson());
        return 0;
    }
}
