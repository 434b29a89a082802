package dev.kiln.onnx;

import dev.kiln.graph.Graph;
import dev.kiln.graph.Tensor;
import dev.kiln.onnx.proto.Onnx.ModelProto;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What Kiln writes, read back: signature, opset, ops, and weights transposed exactly once to ONNX layout. */
class RoundTripTest {
    @TempDir
    Path dir;

    @Test
    void writtenModelReadsBackWithWeightsInOnnxLayout() {
        Graph g = TestGraphs.cnn(9);
        Path p = dir.resolve("m.onnx");
        ExportResult r = OnnxExporter.builder().opset(13).build().export(g, p);
        ModelProto m = OnnxReader.read(p);
        OnnxModelSummary s = OnnxReader.summarize(m);
        assertEquals(13, s.opset());
        assertEquals(7, s.irVersion());
        assertEquals("kiln 0.1.0", s.producer());
        assertEquals(r.onnxOps(), s.ops());
        assertEquals(r.initializers(), s.initializers().size());
        Map<String, Tensor> inits = OnnxReader.initializers(m);
        Tensor hwio = g.constantValue(dev.kiln.graph.TensorRef.of("conv1/kernel", 0));
        Tensor oihw = inits.get("conv1/kernel");
        assertArrayEquals(new long[] {8, 3, 3, 3}, oihw.shape().dims());
        float[] a = hwio.floats();
        float[] b = oihw.floats();
        for (int h = 0; h < 3; h++) {
            for (int w = 0; w < 3; w++) {
                for (int i = 0; i < 3; i++) {
                    for (int o = 0; o < 8; o++) {
                        assertEquals(a[((h * 3 + w) * 3 + i) * 8 + o], b[((o * 3 + i) * 3 + h) * 3 + w]);
                    }
                }
            }
        }
        Tensor dw = inits.get("dw1/kernel");
        assertArrayEquals(new long[] {8, 1, 3, 3}, dw.shape().dims(), "depthwise [h,w,in,1] -> [in,1,h,w]");
        assertTrue(inits.containsKey("conv1/bias/bias"), "BiasAdd folded into the Conv's B input: " + inits.keySet());
        assertEquals(3, m.getGraph().getNodeList().stream().filter(n -> n.getOpType().equals("Conv")
                && n.getInputCount() == 3).count() + 1, "conv1 and conv2 take their bias; dw1 feeds BN");
    }

    @Test
    void float16RoundsToNearestEven() {
        for (float f : new float[] {0f, -0f, 1f, -2.5f, 65504f, 6.1e-5f, 5.96e-8f, 1e-9f, 1e6f, 0.1f, 3.14159f}) {
            float back = OnnxTensors.halfToFloat(OnnxTensors.floatToHalf(f));
            double rel = f == 0 ? Math.abs(back) : Math.abs(back - f) / Math.abs(f);
            assertTrue(rel <= 1.0 / 2048 || Math.abs(f) < 6.1e-5 || Math.abs(f) > 65504, f + " -> " + back);
        }
        assertEquals(Float.POSITIVE_INFINITY, OnnxTensors.halfToFloat(OnnxTensors.floatToHalf(1e6f)));
        assertEquals((short) 0x3C00, OnnxTensors.floatToHalf(1f));
        assertEquals((short) 0x3C00, OnnxTensors.floatToHalf(1f + 0x1p-11f), "tie rounds to even");
        assertEquals((short) 0x3C02, OnnxTensors.floatToHalf(1f + 3 * 0x1p-11f), "tie rounds to even (up)");
    }
}
