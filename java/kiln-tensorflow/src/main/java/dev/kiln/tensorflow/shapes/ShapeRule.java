package dev.kiln.tensorflow.shapes;

import dev.kiln.graph.Shape;

import java.util.List;

/** The output shapes of one op, computed from its node's attributes and its inputs' types and known values. */
@FunctionalInterface
interface ShapeRule {
    /** One shape per output; {@link NodeShapes#giveUp} (throws) where the rule cannot tell what TensorFlow would. */
    List<Shape> outputs(NodeShapes n);
}
