package dev.kiln.cli;

import dev.kiln.tensorflow.ImportOptions;
import dev.kiln.tensorflow.RecurrentLayers;

import java.util.List;
import java.util.Set;

import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Option;

/** Options that say which part of a model to import: tags and signature, or inputs/outputs of a frozen graph. */
final class ModelOptions {
    /** Commas that separate tensors, not the dimensions inside a shape's brackets. */
    private static final String TENSOR_LIST_SPLIT = ",(?![^\\[]*\\])";

    @Option(names = "--tags", split = ",", paramLabel = "TAG", description = "SavedModel tag set (default: serve)")
    List<String> tags = List.of("serve");

    @Option(names = "--signature", paramLabel = "NAME",
            description = "signature (default: serving_default, or the model's only signature where it has none); "
                    + "export: 'all' writes every signature")
    String signature;

    @Option(names = "--inputs", split = TENSOR_LIST_SPLIT, paramLabel = "NAME[SHAPE]",
            description = "frozen .pb: input tensors (default: the Placeholders), each optionally with its shape "
                    + "as in tf2onnx: Reshape_1:0[1,490]")
    List<String> inputs = List.of();

    @Option(names = "--input-shapes", split = TENSOR_LIST_SPLIT, paramLabel = "NAME[SHAPE]",
            description = "shapes of inputs (a SavedModel's signature inputs by name, a frozen .pb's tensors), "
                    + "NAME[d0,d1,...] with -1 or ? for any size; fixes a Keras RNN's time steps so its loop unrolls")
    List<String> inputShapes = List.of();

    @Option(names = "--outputs", split = ",", paramLabel = "NAME",
            description = "frozen .pb: output tensor names (default: the sinks)")
    List<String> outputs = List.of();

    @Option(names = "--rnn", paramLabel = "MODE", converter = RecurrentLayersConverter.class,
            description = "loops and Keras LSTM layers: auto (default: unroll what has a known length, keep the "
                    + "rest: a Keras LSTM as one ONNX LSTM, any other loop as an ONNX Loop), unroll, keep (always "
                    + "keep), or loop (keep every loop, a Keras LSTM's too, as an ONNX Loop)")
    RecurrentLayers rnn = RecurrentLayers.AUTO;

    /** Reads --rnn through RecurrentLayers.parse, whose error names the accepted values. */
    static final class RecurrentLayersConverter implements ITypeConverter<RecurrentLayers> {
        @Override
        public RecurrentLayers convert(String value) {
            return RecurrentLayers.parse(value);
        }
    }

    ImportOptions importOptions() {
        return ImportOptions.builder().tags(Set.copyOf(tags)).signature(signature).tensorSpecs(inputs, inputShapes)
                .outputNames(outputs).recurrentLayers(rnn).build();
    }
}
