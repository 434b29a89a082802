package dev.kiln.tensorflow.shapes;

/** Thrown by a rule that cannot tell what TensorFlow would infer: the graph is then typed by TensorFlow itself. */
final class CannotInfer extends RuntimeException {
    CannotInfer(String reason) {
        super(reason, null, false, false);
    }
}
