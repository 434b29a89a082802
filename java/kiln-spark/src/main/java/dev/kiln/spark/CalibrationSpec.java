package dev.kiln.spark;

import dev.kiln.KilnArgumentException;
import dev.kiln.calib.Histogram;
import dev.kiln.onnx.Int8Target;
import dev.kiln.tensorflow.ImportOptions;
import dev.kiln.tensorflow.RecurrentLayers;

import java.io.Serializable;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;

/**
 * What an executor needs to calibrate its shard, in a form Spark can ship: the model (a local path or any
 * Hadoop-compatible URI), how to import it, the INT8 targets and histogram bins (which decide the tensors and their
 * histograms), and how to read the data. Also the key of the per-JVM model cache ({@link ExecutorModels}): equal specs
 * share one loaded model.
 *
 * @param model        SavedModel directory or frozen .pb: a path, or a URI such as hdfs://... or s3a://...
 * @param tags         SavedModel tags
 * @param signature    signature name, or null for the default
 * @param inputs       frozen graphs: input tensors as NAME or NAME[d0,d1,...]
 * @param outputs      frozen graphs: output tensor names
 * @param inputShapes  shapes of inputs as NAME[d0,d1,...]
 * @param rnn          what import does with loops and Keras LSTM/GRU layers (null: auto)
 * @param targets      INT8 layouts to calibrate for
 * @param withOutputs  also calibrate the signature outputs (as {@code kiln calibrate} does)
 * @param bins         histogram bins
 */
public record CalibrationSpec(String model, List<String> tags, String signature, List<String> inputs,
                              List<String> outputs, List<String> inputShapes, RecurrentLayers rnn,
                              Set<Int8Target> targets, boolean withOutputs, int bins) implements Serializable {

    public CalibrationSpec {
        KilnArgumentException.check(model != null && !model.isBlank(), "the model path must not be empty");
        KilnArgumentException.check(!targets.isEmpty(), "at least one INT8 target is needed");
        tags = List.copyOf(tags);
        inputs = List.copyOf(inputs);
        outputs = List.copyOf(outputs);
        inputShapes = List.copyOf(inputShapes);
        rnn = rnn == null ? RecurrentLayers.AUTO : rnn;
        targets = Set.copyOf(targets);
    }

    /** Default import, both INT8 targets, outputs calibrated too, 2048 bins: what {@code kiln calibrate} does. */
    public static CalibrationSpec of(String model) {
        return new CalibrationSpec(model, List.of("serve"), null, List.of(), List.of(), List.of(),
                RecurrentLayers.AUTO, EnumSet.allOf(Int8Target.class), true, Histogram.DEFAULT_BINS);
    }

    /** The same spec for other targets. */
    public CalibrationSpec withTargets(Set<Int8Target> t) {
        return new CalibrationSpec(model, tags, signature, inputs, outputs, inputShapes, rnn, t, withOutputs, bins);
    }

    /** The import options these fields say. */
    public ImportOptions importOptions() {
        return ImportOptions.builder().tags(Set.copyOf(tags)).signature(signature).tensorSpecs(inputs, inputShapes)
                .outputNames(outputs).recurrentLayers(rnn).build();
    }
}
