package dev.kiln.pipeline;

import dev.kiln.data.DataSources;
import dev.kiln.data.FloatConversion;
import dev.kiln.data.NpyFile;
import dev.kiln.data.RepresentativeData;
import dev.kiln.graph.Graph;

import java.nio.file.Path;

/**
 * ../shared for the tests on real models: the models, and the real MNIST test set with the project's convention
 * (images 0-999 calibrate, 5000-9999 evaluate), pixels / 255.
 */
final class SharedMnist {
    private SharedMnist() {
    }

    /** The trained MNIST models of ../shared/models. */
    static final java.util.List<String> MODELS = java.util.List.of("kotlindl_mnist1_saved_model",
            "tfnet_keras_simple_model_from_auto_compile", "mlnet_mnist_conv_model");

    static Path shared() {
        return Path.of(System.getProperty("kiln.repo.root", "../.."), "..", "shared").normalize();
    }

    static Path models() {
        return shared().resolve("models");
    }

    static Path mnist() {
        return shared().resolve("data/mnist");
    }

    /** Images {@code start .. start+count-1} for the input of {@code g}, in batches of 100. */
    static RepresentativeData images(Graph g, long start, long count) {
        return DataSources.parse(mnist().resolve("images_u8.npy").toString(), Path.of(""), g.inputs(),
                FloatConversion.scale(1.0 / 255)).range(start, count).batchSize(100).build();
    }

    /** Their labels. */
    static long[] labels(long start, int count) {
        try (NpyFile f = NpyFile.open(mnist().resolve("labels_u8.npy"))) {
            return f.read(start, count).asLongs();
        }
    }
}
