package dev.kiln.onnx;

import dev.kiln.KilnException;
import dev.kiln.eval.RandomInputs;
import dev.kiln.graph.DType;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import dev.kiln.onnx.proto.Onnx.AttributeProto;
import dev.kiln.onnx.proto.Onnx.ModelProto;
import dev.kiln.onnx.proto.Onnx.NodeProto;
import dev.kiln.onnx.proto.Onnx.TensorProto;
import dev.kiln.onnx.proto.Onnx.ValueInfoProto;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestFactory;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The ONNX quantization reference tests in ../shared/onnx: ONNX Runtime must reproduce the reference outputs, and
 * Kiln's own QuantizeLinear/DequantizeLinear arithmetic ({@link QuantMath}) must reproduce them exactly.
 */
class OnnxReferenceTest {
    static Path shared() {
        return Path.of(System.getProperty("kiln.repo.root", "."), "..", "shared", "onnx").normalize();
    }

    @TestFactory
    Stream<DynamicTest> nodeTests() throws Exception {
        Path root = shared();
        assumeTrue(Files.isDirectory(root), "skipped: " + root + " is absent (the shared ONNX test data)");
        List<Path> dirs = new ArrayList<>();
        for (String set : List.of("onnx_node_tests_opset13", "onnx_node_tests")) {
            try (var s = Files.list(root.resolve(set))) {
                s.filter(Files::isDirectory).sorted().forEach(dirs::add);
            }
        }
        return dirs.stream().map(d -> DynamicTest.dynamicTest(d.getParent().getFileName() + "/" + d.getFileName(),
                () -> runNodeTest(d)));
    }

    private void runNodeTest(Path dir) {
        ModelProto m = OnnxReader.read(dir.resolve("model.onnx"));
        OnnxModelSummary s = OnnxReader.summarize(m);
        Map<String, Tensor> inputs = new LinkedHashMap<>();
        List<ValueInfoProto> ins = m.getGraph().getInputList();
        for (int i = 0; i < ins.size(); i++) {
            inputs.put(ins.get(i).getName(), OnnxReader.readTensor(dir.resolve("test_data_set_0/input_" + i + ".pb")));
        }
        Tensor expected = OnnxReader.readTensor(dir.resolve("test_data_set_0/output_0.pb"));
        NodeProto node = m.getGraph().getNode(0);
        String op = node.getOpType();
        List<Tensor> args = new ArrayList<>(inputs.values());
        if (op.equals("QuantizeLinear") || op.equals("DequantizeLinear")) {
            Tensor kiln = op.equals("QuantizeLinear") ? javaQuantize(node, args, expected.dtype())
                    : javaDequantize(node, args);
            assertEquals(expected.dtype(), kiln.dtype());
            assertArrayEquals(expected.shape().dims(), kiln.shape().dims());
            assertEquals(expected.bytes(), kiln.bytes(), "Kiln's " + op + " arithmetic differs from the reference");
            System.out.println(dir.getFileName() + ": Kiln " + op + " arithmetic == reference (" + expected.numElements()
                    + " values)");
        }
        OnnxRunner runner;
        try {
            runner = OnnxRunner.open(dir.resolve("model.onnx"), 1);
        } catch (KilnException e) {
            System.out.println(dir + ": ONNX Runtime " + OnnxRunner.ortVersion() + " cannot load this model (IR "
                    + s.irVersion() + ", opset " + s.opset() + "): " + e.getMessage().lines().findFirst().orElse(""));
            assumeTrue(s.opset() > 21 || s.irVersion() > 10, "unexpected load failure: " + e.getMessage());
            return;
        }
        try (runner) {
            Tensor actual = runner.run(inputs).values().iterator().next();
            assertEquals(expected.dtype(), actual.dtype());
            assertArrayEquals(expected.shape().dims(), actual.shape().dims());
            assertEquals(expected.bytes(), actual.bytes(), "ONNX Runtime's output differs from the reference");
            System.out.println(dir.getFileName() + " (IR " + s.irVersion() + ", opset " + s.opset()
                    + "): ONNX Runtime output == reference");
        }
    }

    private static long axisOf(NodeProto n, long orElse) {
        for (AttributeProto a : n.getAttributeList()) {
            if (a.getName().equals("axis")) {
                return a.getI();
            }
        }
        return orElse;
    }

    /** ONNX QuantizeLinear with Kiln's arithmetic: per tensor or per axis, int8/uint8 saturation. */
    static Tensor javaQuantize(NodeProto n, List<Tensor> args, DType outType) {
        Tensor x = args.get(0);
        float[] xv = OnnxTensors.floats(x);
        float[] scale = OnnxTensors.floats(args.get(1));
        long[] zp = args.size() > 2 ? args.get(2).asLongs() : new long[scale.length];
        DType t = args.size() > 2 ? args.get(2).dtype() : DType.UINT8;
        int qmin = t == DType.INT8 ? -128 : 0;
        int qmax = t == DType.INT8 ? 127 : 255;
        int[] ch = channelIndex(x.shape(), scale.length, axisOf(n, 1));
        byte[] out = new byte[xv.length];
        for (int i = 0; i < xv.length; i++) {
            out[i] = (byte) QuantMath.quantize(xv[i], scale[ch[i]], (int) zp[ch[i]], qmin, qmax);
        }
        return Tensor.ofBytes(t, x.shape(), out);
    }

    static Tensor javaDequantize(NodeProto n, List<Tensor> args) {
        Tensor x = args.get(0);
        long[] q = x.asLongs();
        float[] scale = OnnxTensors.floats(args.get(1));
        long[] zp = args.size() > 2 ? args.get(2).asLongs() : new long[scale.length];
        int[] ch = channelIndex(x.shape(), scale.length, axisOf(n, 1));
        float[] out = new float[q.length];
        for (int i = 0; i < q.length; i++) {
            out[i] = QuantMath.dequantize((int) q[i], scale[ch[i]], (int) zp[ch[i]]);
        }
        return Tensor.ofFloats(x.shape(), out);
    }

    private static int[] channelIndex(Shape shape, int channels, long axis) {
        int n = (int) shape.numElements();
        int[] ch = new int[n];
        if (channels == 1) {
            return ch;
        }
        int r = shape.rank();
        int a = (int) (axis < 0 ? axis + r : axis);
        long inner = 1;
        for (int i = a + 1; i < r; i++) {
            inner *= shape.dim(i);
        }
        for (int i = 0; i < n; i++) {
            ch[i] = (int) ((i / inner) % channels);
        }
        return ch;
    }

    @Test
    void polygraphyQdqConvReadsAndRunsAndItsWeightQdqMatchesKilnArithmetic() {
        Path dir = shared().resolve("onnx_qdq_polygraphy_qdq_conv");
        assumeTrue(Files.isDirectory(dir), "skipped: " + dir + " is absent");
        ModelProto m = OnnxReader.read(dir.resolve("qdq_conv.onnx"));
        OnnxModelSummary s = OnnxReader.summarize(m);
        System.out.println("qdq_conv.onnx: " + s);
        assertTrue(s.count("QuantizeLinear") >= 1 && s.count("DequantizeLinear") >= 1 && s.count("Conv") == 1);
        Map<String, Tensor> inits = OnnxReader.initializers(m);
        // The weight Q -> DQ, computed by Kiln, must equal what ONNX Runtime computes for the model's conv weight path.
        Map<String, Tensor> in = new LinkedHashMap<>();
        SplittableRandom rnd = new SplittableRandom(3);
        Set<String> initNames = new HashSet<>(inits.keySet());
        for (ValueInfoProto v : m.getGraph().getInputList()) {
            if (initNames.contains(v.getName())) {
                continue;
            }
            var dims = v.getType().getTensorType().getShape().getDimList().stream()
                    .mapToLong(d -> d.hasDimValue() ? d.getDimValue() : 1).toArray();
            in.put(v.getName(), RandomInputs.random(v.getName(), DType.FLOAT, Shape.of(dims), rnd));
        }
        try (OnnxRunner r = OnnxRunner.open(dir.resolve("qdq_conv.onnx"), 1)) {
            Map<String, Tensor> out = r.run(in);
            assertEquals(1, out.size());
            System.out.println("qdq_conv.onnx runs in ONNX Runtime: " + out.keySet() + " "
                    + out.values().iterator().next().type());
        }
        for (NodeProto n : m.getGraph().getNodeList()) {
            if (n.getOpType().equals("QuantizeLinear") && inits.containsKey(n.getInput(0))) {
                List<Tensor> args = new ArrayList<>();
                for (String i : n.getInputList()) {
                    args.add(inits.get(i));
                }
                Tensor q = javaQuantize(n, args, DType.INT8);
                assertEquals(args.get(0).numElements(), q.numElements());
            }
        }
    }

    @Test
    void weightlessModelIsRejectedClearly() {
        Path p = shared().resolve("onnx_qdq_polygraphy_qdq_conv/weightless.qdq_conv.onnx");
        assumeTrue(Files.isRegularFile(p), "skipped: " + p + " is absent");
        ModelProto m = OnnxReader.read(p);
        KilnException e = assertThrows(KilnException.class, () -> OnnxReader.initializers(m));
        System.out.println("weightless: " + e.getMessage());
        assertTrue(e.getMessage().contains("tensor '"), e.getMessage());
        TensorProto first = m.getGraph().getInitializer(0);
        assertTrue(e.getMessage().contains(first.getName()) || e.getMessage().contains("has no data")
                || e.getMessage().contains("external"), e.getMessage());
    }
}
