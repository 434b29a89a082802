package dev.kiln.onnx;

import dev.kiln.graph.HandBuiltGraphs;

/** The hand-built IR graphs of kiln-core's tests ({@link HandBuiltGraphs}), under the name the ONNX tests use. */
final class TestGraphs extends HandBuiltGraphs {
    TestGraphs(long seed) {
        super(seed);
    }
}
