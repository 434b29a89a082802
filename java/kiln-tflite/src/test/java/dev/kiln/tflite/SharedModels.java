package dev.kiln.tflite;

import dev.kiln.tensorflow.ImportOptions;

import java.nio.file.Path;
import java.util.List;

/** ../shared for the tests on real models; tests that read it skip with a message where it is absent. */
final class SharedModels {
    private SharedModels() {
    }

    static Path shared() {
        return Path.of(System.getProperty("kiln.repo.root", "../.."), "..", "shared").normalize();
    }

    static Path models() {
        return shared().resolve("models");
    }

    /** The models of ../shared/models that TF Java runs with float inputs (the ONNX oracle test's list). */
    static final List<String> RUNNABLE = List.of("kotlindl_mnist1_saved_model", "mlnet_mnist_conv_model",
            "mlnet_mnist_lr_model", "mlnet_model_matmul", "tf2onnx_regression_saved_model",
            "tf2onnx_saved_model_with_redundant_inputs", "tfnet_keras_python_func_model",
            "tfnet_keras_simple_model_from_auto_compile", "tfrust_keras_single_input_saved_model",
            "tfrust_regression_model", "tfserving_half_plus_three", "tfserving_half_plus_two_cpu",
            "tfserving_half_plus_two_mkl", "tfserving_half_plus_two_tf2_cpu", "mlperf_tiny_kws_dscnn",
            "frozen_tf2onnx_fc_layers/frozen.pb", "tfjava_saved_model_using_python",
            "tfnet_keras_lstm_from_sequential");

    /** The trained MNIST models. */
    static final List<String> MNIST = List.of("kotlindl_mnist1_saved_model",
            "tfnet_keras_simple_model_from_auto_compile", "mlnet_mnist_conv_model");

    static ImportOptions importOptions(String name) {
        return name.equals("tfrust_regression_model")
                ? ImportOptions.builder().tags("train", "serve").signature("tensorflow/serving/regress").build()
                : name.equals("tfjava_saved_model_using_python") ? ImportOptions.builder().signature("add").build()
                : ImportOptions.defaults();
    }
}
