package dev.kiln.spark;

import dev.kiln.KilnArgumentException;
import dev.kiln.data.ArrayData;
import dev.kiln.data.DataSources;
import dev.kiln.data.FloatConversion;
import dev.kiln.data.NpyFile;
import dev.kiln.data.RepresentativeData;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.onnx.Precision;
import dev.kiln.pipeline.OptimizeJob;
import dev.kiln.tensorflow.RecurrentLayers;
import dev.kiln.tensorflow.TfImporter;

import java.nio.file.Path;
import java.util.List;
import java.util.Set;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * The optimize options of one row of a batch conversion, written as {@code kiln optimize} flags
 * ({@code --format onnx --precision fp32,fp16 --seed 7}); the defaults are kiln optimize's. {@link #canonical()} is
 * every option with its value in a fixed order: with the model's bytes, the address of the row's outputs.
 */
@Command(name = "options")
final class ConversionOptions {
    @Option(names = "--format", split = ",")
    List<String> formats = List.of("savedmodel", "onnx");

    @Option(names = "--precision", split = ",")
    List<String> precisions = List.of("fp32");

    @Option(names = "--opset")
    int opset = 17;

    @Option(names = "--samples")
    int samples = 4;

    @Option(names = "--batch")
    int batch = 2;

    @Option(names = "--seed")
    long seed = 42;

    @Option(names = "--calib-random")
    boolean calibRandom;

    @Option(names = "--calib-samples")
    int calibSamples = 64;

    @Option(names = "--data", description = "INT8 calibration data: a path or URI")
    String data;

    @Option(names = "--data-scale")
    String dataScale = "1";

    @Option(names = "--eval-data", description = "held-out evaluation data: a path or URI")
    String evalData;

    @Option(names = "--eval-range", description = "START:COUNT of the evaluation data (default: all)")
    String evalRange;

    @Option(names = "--labels", description = "class labels (.npy, indexed like the evaluation data): top-1")
    String labels;

    @Option(names = "--tags", split = ",")
    List<String> tags = List.of("serve");

    @Option(names = "--signature")
    String signature;

    @Option(names = "--rnn", description = "loops and Keras LSTM/GRU layers: auto, unroll, keep or loop (as kiln "
            + "optimize --rnn)")
    String rnn = "auto";

    /** Parses a row's options (blank: all defaults); a bad flag fails naming it. */
    static ConversionOptions parse(String options) {
        ConversionOptions o = new ConversionOptions();
        String s = options == null ? "" : options.strip();
        try {
            new CommandLine(o).parseArgs(s.isEmpty() ? new String[0] : s.split("\\s+"));
        } catch (CommandLine.ParameterException e) {
            throw new KilnArgumentException("options '" + s + "': " + e.getMessage());
        }
        o.formatSet();
        o.precisionSet();
        o.recurrentLayers();
        return o;
    }

    RecurrentLayers recurrentLayers() {
        return RecurrentLayers.parse(rnn);
    }

    Set<OptimizeJob.Format> formatSet() {
        return OptimizeJob.formats(formats);
    }

    Set<Precision> precisionSet() {
        return OptimizeJob.precisions(precisions);
    }

    /** Every option and its value, sorted sets, one fixed order: equal for equal runs however they were written. */
    String canonical() {
        return "format=" + formatSet() + " precision=" + precisionSet() + " opset=" + opset + " samples=" + samples
                + " batch=" + batch + " seed=" + seed + " calibRandom=" + calibRandom + " calibSamples=" + calibSamples
                + " data=" + data + " dataScale=" + FloatConversion.parseNumber(dataScale) + " evalData=" + evalData
                + " evalRange=" + evalRange + " labels=" + labels + " tags="
                + new java.util.TreeSet<>(tags) + " signature=" + signature
                // absent when auto: the output addresses of earlier runs stay the same
                + (recurrentLayers() == RecurrentLayers.AUTO ? "" : " rnn=" + recurrentLayers());
    }

    /** The optimize job for {@code model} (a local path) writing into {@code out}. */
    OptimizeJob.Builder job(Path model, Path out) {
        dev.kiln.tensorflow.ImportOptions imports = dev.kiln.tensorflow.ImportOptions.builder()
                .tags(Set.copyOf(tags)).signature(signature).recurrentLayers(recurrentLayers())
                .build();
        OptimizeJob.Builder b = OptimizeJob.builder(model).output(out).formats(formatSet())
                .precisions(precisionSet()).importOptions(imports).opset(opset).samples(samples).batch(batch)
                .seed(seed).threads(1);
        if (precisionSet().contains(Precision.INT8)) {
            KilnArgumentException.check(calibRandom != (data != null), "--precision int8 needs --data or "
                    + "--calib-random (one of them)");
            List<SignatureTensor> inputs = TfImporter.load(model, imports.toBuilder().loadWeights(false).build())
                    .inputs();
            b.calibrationData(calibRandom ? RepresentativeData.random(inputs, 7, calibSamples).withBatchSize(16)
                    : DataSources.parse(DataSpec.of(data).localSpec(), Path.of(""), inputs,
                            FloatConversion.scale(FloatConversion.parseNumber(dataScale))).build());
        }
        if (evalData != null) {
            List<SignatureTensor> inputs = TfImporter.load(model, imports.toBuilder().loadWeights(false).build())
                    .inputs();
            ArrayData.Builder eval = DataSources.parse(DataSpec.of(evalData).localSpec(), Path.of(""), inputs,
                    FloatConversion.scale(FloatConversion.parseNumber(dataScale))).batchSize(64);
            long[] w = evalRange == null ? null : range(evalRange);
            RepresentativeData e = (w == null ? eval : eval.range(w[0], w[1])).build();
            b.evaluationData(e);
            if (labels != null) {
                try (NpyFile f = NpyFile.open(HadoopPaths.local(labels))) {
                    long start = w == null ? 0 : w[0];
                    KilnArgumentException.check(start + e.sampleCount() <= f.sampleCount(), "--labels " + labels
                            + " has " + f.sampleCount() + " labels; the evaluation needs samples " + start + ".."
                            + (start + e.sampleCount() - 1));
                    b.labels(f.read(start, (int) e.sampleCount()).asLongs());
                }
            }
        } else {
            KilnArgumentException.check(labels == null, "--labels need --eval-data");
        }
        return b;
    }

    private static long[] range(String spec) {
        String[] p = spec.split(":");
        try {
            KilnArgumentException.check(p.length == 2, "--eval-range must be START:COUNT, got '" + spec + "'");
            return new long[] {Long.parseLong(p[0].trim()), Long.parseLong(p[1].trim())};
        } catch (NumberFormatException ex) {
            throw new KilnArgumentException("--eval-range must be START:COUNT with whole numbers, got '" + spec + "'");
        }
    }
}
