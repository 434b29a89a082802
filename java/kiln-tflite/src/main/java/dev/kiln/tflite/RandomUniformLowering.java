package dev.kiln.tflite;

import dev.kiln.graph.Node;
import dev.kiln.graph.TensorRef;

import static dev.kiln.tflite.TfliteSchema.*;

/**
 * RandomUniform → RANDOM_UNIFORM with TF's seeds (the values differ from TensorFlow's generator: only graphs whose
 * result does not depend on them, such as dropout at keep probability 1, compute the same).
 */
final class RandomUniformLowering implements Lowering {
    @Override
    public void lower(Node n, TfliteEmitter e) {
        int shape = e.input(n, 0);
        int out = e.output(TensorRef.of(n.name(), 0));
        e.op(RANDOM_UNIFORM, new int[] {shape}, new int[] {out},
                BuiltinOptions.random(n.attrInt("seed", 0), n.attrInt("seed2", 0)));
    }
}
