package dev.kiln.cli;

import dev.kiln.KilnArgumentException;
import dev.kiln.sparse.PruningPattern;
import dev.kiln.sparse.PruningPlan;
import dev.kiln.sparse.PruningReport;
import dev.kiln.pipeline.PruneJob;

import java.nio.file.Path;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.Callable;

import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code kiln prune MODEL --sparsity 0.5 | --pattern 2:4 | --block 4x4 -o OUT}: one-shot magnitude pruning. */
@Command(name = "prune", mixinStandardHelpOptions = true,
        description = "Prune the weights of Conv2D, depthwise and MatMul layers by magnitude (one shot, no "
                + "fine-tuning) and write the pruned SavedModel, ONNX and a sparsity report.")
final class PruneCommand implements Callable<Integer> {

    @Parameters(index = "0", paramLabel = "MODEL", description = "SavedModel directory or frozen GraphDef .pb")
    Path model;

    @Option(names = {"-o", "--output"}, required = true, paramLabel = "DIR", description = "output directory")
    Path output;

    @Option(names = "--sparsity", paramLabel = "S", description = "unstructured: the share of weights set to zero, "
            + "in [0, 1) (with --block: the share of blocks)")
    Double sparsity;

    @Option(names = "--global", description = "with --sparsity: one magnitude threshold over all selected layers "
            + "instead of the same sparsity in each")
    boolean global;

    @Option(names = "--pattern", paramLabel = "N:M", description = "N:M sparsity along the input channels (2:4 for "
            + "TensorRT's sparse tensor cores)")
    String pattern;

    @Option(names = "--block", paramLabel = "KxK", description = "square blocks of KxK weights (with --sparsity)")
    String block;

    @Option(names = "--layers", split = ",", paramLabel = "NAME", description = "only these layers (node names)")
    Set<String> layers;

    @Option(names = "--ops", split = ",", paramLabel = "OP", description = "only these op types")
    Set<String> ops;

    @Option(names = "--include-first-and-last", description = "also prune the first and the last prunable layer "
            + "(skipped by default)")
    boolean firstAndLast;

    @Option(names = "--skip-indivisible", description = "skip a layer whose input channels M does not divide "
            + "(default: an error naming it)")
    boolean skipIndivisible;

    @Option(names = "--sensitivity", description = "first prune each layer alone at 50/70/90%% and print what each "
            + "costs on --eval-data (top-1 points with --labels, else 1 - cosine)")
    boolean sensitivity;

    @Option(names = "--target-sparsity", paramLabel = "T", description = "with --sensitivity: print a per-layer plan "
            + "that reaches global sparsity T within --budget")
    Double target;

    @Option(names = "--budget", paramLabel = "B", description = "with --target-sparsity: the largest cost allowed "
            + "(points of top-1 with --labels, else 1 - cosine; default 1)")
    double budget = 1.0;

    @Option(names = "--force", description = "write into an output directory that holds other files")
    boolean force;

    @Mixin
    ModelOptions modelOptions;

    @Mixin
    EvalOptions eval = new EvalOptions();

    @Override
    public Integer call() {
        int given = (pattern != null ? 1 : 0) + (block != null ? 1 : 0) + (sparsity != null && block == null ? 1 : 0);
        KilnArgumentException.check(given == 1, "give one of --sparsity S, --pattern N:M or --block KxK --sparsity S");
        PruningPattern p;
        if (pattern != null) {
            String[] nm = pattern.split(":");
            try {
                KilnArgumentException.check(nm.length == 2, "--pattern must be N:M, got '" + pattern + "'");
                p = PruningPattern.nm(Integer.parseInt(nm[0].trim()), Integer.parseInt(nm[1].trim()));
            } catch (NumberFormatException e) {
                throw new KilnArgumentException("--pattern must be N:M with whole numbers, got '" + pattern + "'");
            }
        } else if (block != null) {
            String[] k = block.toLowerCase(Locale.ROOT).split("x");
            KilnArgumentException.check(sparsity != null, "--block needs --sparsity (the share of blocks)");
            try {
                KilnArgumentException.check(k.length == 2 && k[0].trim().equals(k[1].trim()),
                        "--block must be KxK (square), got '" + block + "'");
                p = PruningPattern.block(Integer.parseInt(k[0].trim()), sparsity);
            } catch (NumberFormatException e) {
                throw new KilnArgumentException("--block must be KxK with a whole number, got '" + block + "'");
            }
        } else {
            p = global ? PruningPattern.unstructuredGlobal(sparsity) : PruningPattern.unstructured(sparsity);
        }
        PruningPlan.Builder plan = PruningPlan.builder(p).includeFirstAndLast(firstAndLast)
                .skipIndivisible(skipIndivisible);
        if (layers != null) {
            plan.layers(layers);
        }
        if (ops != null) {
            plan.ops(ops);
        }
        OutputDirs.checkWritable(output, force);
        java.util.List<dev.kiln.graph.SignatureTensor> inputs = dev.kiln.tensorflow.TfImporter.load(model,
                modelOptions.importOptions().toBuilder().loadWeights(false).build()).inputs();
        dev.kiln.data.RepresentativeData data = eval.data(inputs);
        long[] labels = eval.labels();
        KilnArgumentException.check(!sensitivity || data != null, "--sensitivity needs --eval-data");
        KilnArgumentException.check(target == null || sensitivity, "--target-sparsity goes with --sensitivity");
        PruningPlan built = plan.build();
        if (sensitivity) {
            dev.kiln.graph.Graph g = dev.kiln.tensorflow.TfImporter.load(model, modelOptions.importOptions());
            dev.kiln.passes.Passes.optimizeForInference().run(g);
            dev.kiln.pipeline.PruningSensitivity s = dev.kiln.pipeline.PruningSensitivity.builder(g, data)
                    .labels(labels).selection(built).build();
            System.out.println(s.scan().toMarkdown());
            if (target != null) {
                System.out.println(s.plan(target, budget));
            }
        }
        PruneJob.Builder job = PruneJob.builder(model, output).plan(built).importOptions(modelOptions.importOptions());
        if (data != null) {
            job.evaluate(data, labels);
        }
        PruningReport r = job.build().run();
        System.out.println(r.toMarkdown());
        System.out.println("wrote " + output.resolve(PruneJob.SAVED_MODEL) + ", " + output.resolve(PruneJob.ONNX) + ", "
                + output.resolve(PruneJob.REPORT));
        return 0;
    }
}
