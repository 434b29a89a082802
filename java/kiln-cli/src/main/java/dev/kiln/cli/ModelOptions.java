package dev.kiln.cli;

import dev.kiln.tensorflow.ImportOptions;

import java.util.List;
import java.util.Set;

import picocli.CommandLine.Option;

/** Options that say which part of a model to import: tags and signature, or inputs/outputs of a frozen graph. */
final class ModelOptions {

    @Option(names = "--tags", split = ",", paramLabel = "TAG", description = "SavedModel tag set (default: serve)")
    List<String> tags = List.of("serve");

    @Option(names = "--signature", paramLabel = "NAME", description = "signature (default: serving_default, or the model's only signature where it has no serving_default)")
    String signature;

    @Option(names = "--inputs", split = ",", paramLabel = "NAME",
            description = "frozen .pb: input tensor names (default: the Placeholders)")
    List<String> inputs = List.of();

    @Option(names = "--outputs", split = ",", paramLabel = "NAME",
            description = "frozen .pb: output tensor names (default: the sinks)")
    List<String> outputs = List.of();

    ImportOptions importOptions() {
        return ImportOptions.builder().tags(Set.copyOf(tags)).signature(signature).inputNames(inputs)
                .outputNames(outputs).build();
    }
}
