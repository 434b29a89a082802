/**
 * Kiln's own TensorFlow shape inference: the output dtype and shape of every node of a flat inference graph, computed
 * in Java the way TensorFlow's shape functions compute them, so that importing a common model does not load
 * TensorFlow's native library (a fixed ~250 MB of resident memory, and its start-up time).
 *
 * <p>It answers only where it computes exactly what TensorFlow would: each op has a rule in {@link ShapeRules} (one
 * family per class), and a rule that meets a case it does not cover (an unknown rank where TensorFlow reasons
 * further, a value it cannot evaluate, an inconsistent graph) gives up, and the whole graph is then typed by
 * TensorFlow as before. {@code ShapeInferenceAgreesWithTensorFlowTest} holds every answer against TensorFlow's on the
 * op-coverage graphs, the example models and the shared models.
 */
package dev.kiln.tensorflow.shapes;
