package dev.kiln.cli;

import dev.kiln.KilnArgumentException;
import dev.kiln.data.ArrayData;
import dev.kiln.data.DataSources;
import dev.kiln.data.FloatConversion;
import dev.kiln.data.RepresentativeData;
import dev.kiln.graph.SignatureTensor;

import java.nio.file.Path;
import java.util.List;

import picocli.CommandLine.Option;

/** Held-out data to measure what a lossy step (pruning, low rank) costs: data, its scale, a range and labels. */
final class EvalOptions {
    @Option(names = "--eval-data", paramLabel = "SPEC", description = "held-out data to measure the cost on "
            + "(FILE.npy, FILE.npz, an image folder, or name=FILE,...)")
    String data;

    @Option(names = "--data-scale", paramLabel = "S", description = "multiply the data by S (e.g. 1/255); default 1")
    String scale = "1";

    @Option(names = "--eval-range", paramLabel = "START:COUNT", description = "samples of the evaluation data")
    String range;

    @Option(names = "--labels", paramLabel = "FILE.npy", description = "class labels of the evaluation data file "
            + "(indexed like it): the cost is then the top-1 drop in points, else 1 - output cosine")
    Path labels;

    private long[] window() {
        return range == null ? null : Int8Options.range(range, "--eval-range");
    }

    /** The evaluation data, or null when none was given. */
    RepresentativeData data(List<SignatureTensor> inputs) {
        KilnArgumentException.check(labels == null || data != null, "--labels need --eval-data");
        if (data == null) {
            return null;
        }
        ArrayData.Builder b = DataSources.parse(data, Path.of(""), inputs,
                FloatConversion.scale(FloatConversion.parseNumber(scale)));
        long[] w = window();
        return (w == null ? b : b.range(w[0], w[1])).batchSize(100).build();
    }

    /** The labels of the evaluation samples, or null. */
    long[] labels() {
        if (labels == null) {
            return null;
        }
        return Int8Options.readLabels(labels, window());
    }
}
