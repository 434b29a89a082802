package dev.kiln.tensorflow;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.file.Path;

/**
 * Every runnable model in ../shared/models: import (freeze, inline) → SavedModel and frozen graph → run original and
 * exports through TensorFlow on the same random inputs → max relative error ≤ 1e-5.
 */
class SharedModelsRoundTripTest {
    @TempDir
    Path tmp;

    @ParameterizedTest(name = "{0} [{1}]")
    @CsvSource({
        "tfserving_half_plus_two_cpu, serving_default, 3",
        "tfserving_half_plus_two_cpu, regress_x2_to_y3, 3",
        "tfserving_half_plus_two_tf2_cpu, serving_default, 3",
        "tfserving_half_plus_two_tf2_cpu, regress_x2_to_y3, 3",
        "tfserving_half_plus_two_mkl, serving_default, 3",
        "tfserving_half_plus_two_mkl, regress_x2_to_y3, 1",
        "tfserving_half_plus_three, serving_default, 3",
        "tfjava_saved_model_using_python, add, 3",
        "tfjava_saved_model_using_python, get_const_scalar, 3",
        "tfjava_saved_model_using_python, get_const_vector, 3",
        "tfjava_saved_model_using_python, get_const_matrix, 3",
        "tfjava_saved_model_using_python, get_variable, 3",
        "tf2onnx_regression_saved_model, serving_default, 3",
        "tf2onnx_saved_model_with_redundant_inputs, serving_default, 3",
        "mlnet_mnist_conv_model, serving_default, 3",
        "mlnet_mnist_lr_model, serving_default, 3",
        "mlnet_model_matmul, serving_default, 3",
        "mlnet_model_matmul/frozen_saved_model.pb, serving_default, 3",
        "tfnet_keras_python_func_model, serving_default, 3",
        "tfnet_keras_simple_model_from_auto_compile, serving_default, 3",
        "tfrust_keras_single_input_saved_model, serving_default, 3",
        "tfrust_regression_model, tensorflow/serving/regress, 3",
        "kotlindl_mnist1_saved_model, serving_default, 3",
        "mlperf_tiny_kws_dscnn, serving_default, 3",
        "frozen_tf2onnx_fc_layers/frozen.pb, serving_default, 3",
    })
    void roundTripMatchesTensorFlow(String model, String signature, int batch) {
        // batch: the random batch size; regress_x2_to_y3 of the mkl model adds x2 [-1,1] to a [1,10,10,1] tensor,
        // which only broadcasts for batch 1
        Path m = RoundTrip.sharedModels().resolve(model);
        RoundTrip.check(model + "[" + signature + "]", m, ImportOptions.builder().signature(signature).build(), tmp,
                batch);
    }
}
