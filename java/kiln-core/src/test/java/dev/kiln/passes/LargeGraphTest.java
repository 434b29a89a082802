package dev.kiln.passes;

import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LargeGraphTest {

    @Test
    void optimizeForInferenceStaysFastOnTwentyThousandNodes() {
        int layers = 2000;
        Graph g = new Graph();
        TestGraphs.placeholder(g, "x", 1, 8);
        String prev = "x";
        for (int i = 0; i < layers; i++) {
            TestGraphs.constant(g, "w" + i, Tensor.ofFloats(Shape.of(8, 8), new float[64]));
            TestGraphs.op(g, "read" + i, "Identity", "w" + i);
            TestGraphs.op(g, "mm" + i, "MatMul", prev, "read" + i);
            TestGraphs.constant(g, "b" + i, Tensor.ofFloats(Shape.of(8), new float[8]));
            TestGraphs.op(g, "ba" + i, "BiasAdd", "mm" + i, "b" + i);
            TestGraphs.constant(g, "s" + i, Tensor.ofFloats(Shape.of(8), new float[8]));
            TestGraphs.op(g, "mul" + i, "Mul", "ba" + i, "s" + i);
            TestGraphs.constant(g, "o" + i, Tensor.ofFloats(Shape.of(8), new float[8]));
            TestGraphs.op(g, "add" + i, "AddV2", "mul" + i, "o" + i);
            g.add(Node.builder("deps" + i, "NoOp").input("^add" + i).build());
            TestGraphs.op(g, "relu" + i, "Relu", "add" + i, "^deps" + i);
            TestGraphs.op(g, "out" + i, "Identity", "relu" + i);
            prev = "out" + i;
        }
        TestGraphs.signature(g, "x", prev);
        long t0 = System.nanoTime();
        List<PassResult> r = Passes.optimizeForInference().run(g);
        double seconds = (System.nanoTime() - t0) / 1e9;
        System.out.printf("optimizeForInference on %d layers: %.2f s%n", layers, seconds);
        r.forEach(System.out::println);
        assertEquals(Map.of("BiasAdd", layers, "Const", 2 * layers, "MatMul", layers, "Placeholder", 1,
                "Relu", layers), g.opHistogram());
        assertEquals(DType.FLOAT, g.node("add0").attrType("T"));
        assertTrue(seconds < 30, "took " + seconds + " s");
    }
}
