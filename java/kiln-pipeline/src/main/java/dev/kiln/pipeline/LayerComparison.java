package dev.kiln.pipeline;

import dev.kiln.KilnException;
import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.Shape;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.graph.TensorType;
import dev.kiln.onnx.OnnxProbes;
import dev.kiln.onnx.OnnxReader;
import dev.kiln.onnx.OnnxRunner;
import dev.kiln.onnx.proto.Onnx.ModelProto;
import dev.kiln.onnx.proto.Onnx.NodeProto;
import dev.kiln.tensorflow.ImportOptions;
import dev.kiln.tensorflow.TfImporter;
import dev.kiln.tensorflow.TfRunner;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Per-layer comparison for {@link CompareJob}: makes the intermediate tensors of both models visible as extra outputs,
 * runs both on one batch and compares the tensors they share by name.
 * <ul>
 *   <li>TensorFlow vs TensorFlow: every float node output (not constants, inputs or signature outputs) of the
 *   imported graphs, by node name;</li>
 *   <li>ONNX vs ONNX: every value a node produces, by value name;</li>
 *   <li>TensorFlow vs ONNX: TF node name against the ONNX node of the same name (Kiln's exporter keeps TF node names
 *   for most ops), its first output; a rank-4 ONNX tensor in NCHW is transposed to NHWC when that makes the shapes
 *   agree; tensors whose shapes still differ are skipped and counted.</li>
 * </ul>
 */
final class LayerComparison {
    private LayerComparison() {
    }

    /** One model's intermediate tensors: keys in graph order, and a run that fetches some of them. */
    private interface Side {
        Map<String, String> keysInOrder(); // key -> op

        Map<String, Tensor> run(Collection<String> keys, Map<String, Tensor> feed);
    }

    static CompareJob.PerLayer compare(Path a, Path b, ImportOptions opts, Map<String, Tensor> feed, double atol,
                                       double rtol) {
        boolean ta = ModelFiles.nativeRuntime(a) == BenchRuntime.TENSORFLOW;
        boolean tb = ModelFiles.nativeRuntime(b) == BenchRuntime.TENSORFLOW;
        boolean byNode = ta != tb;
        String method = ta && tb ? "TensorFlow node names" : !ta && !tb ? "ONNX value names"
                : "TensorFlow node name = ONNX node name (first output); NCHW transposed to NHWC where shapes agree";
        Path tmp;
        try {
            tmp = Files.createTempDirectory("kiln-compare");
        } catch (IOException e) {
            throw KilnException.io("cannot create a temporary directory: " + e.getMessage(), e);
        }
        try {
            Side sa = ta ? tfSide(a, opts) : onnxSide(a, byNode, tmp.resolve("a.onnx"));
            Side sb = tb ? tfSide(b, opts) : onnxSide(b, byNode, tmp.resolve("b.onnx"));
            Map<String, String> ka = sa.keysInOrder();
            Set<String> kb = sb.keysInOrder().keySet();
            List<String> shared = ka.keySet().stream().filter(kb::contains).toList();
            List<String> notes = new ArrayList<>();
            List<CompareJob.LayerResult> layers = new ArrayList<>();
            if (!shared.isEmpty()) {
                Map<String, Tensor> feedB = CompareJob.renamed(feed, inputRenaming(a, b, opts));
                Map<String, Tensor> va = sa.run(shared, feed);
                Map<String, Tensor> vb = sb.run(shared, feedB);
                int nonFloat = 0;
                int shapeDiffers = 0;
                for (String k : shared) {
                    Tensor x = va.get(k);
                    Tensor y = vb.get(k);
                    if (x == null || y == null || !isFloat(x) || !isFloat(y)) {
                        nonFloat++;
                        continue;
                    }
                    double[] dx = TensorErrors.values(x);
                    double[] dy = TensorErrors.values(y);
                    // Kiln's ONNX keeps rank-4 activations in NCHW: transpose that side even when the shapes
                    // happen to be equal (H = W = C), where a direct comparison would pair the wrong elements
                    if (byNode && !tb && nchwOf(x.shape(), y.shape())) {
                        dy = nchwToNhwc(dy, y.shape().dims());
                    } else if (byNode && !ta && nchwOf(y.shape(), x.shape())) {
                        dx = nchwToNhwc(dx, x.shape().dims());
                    } else if (!x.shape().equals(y.shape())) {
                        shapeDiffers++;
                        continue;
                    }
                    TensorErrors e = new TensorErrors();
                    e.add(dx, dy, atol, rtol);
                    layers.add(new CompareJob.LayerResult(k, ka.get(k), x.shape().toString(), e.maxAbs(), e.meanAbs(),
                            e.relativeMeanError(), e.cosine(), e.failing() == 0));
                }
                if (nonFloat > 0) {
                    notes.add(nonFloat + " shared tensors skipped: not floating point (shapes, indices, INT8 values)");
                }
                if (shapeDiffers > 0) {
                    notes.add(shapeDiffers + " shared tensors skipped: shapes differ (layout or a different graph)");
                }
            }
            String jump = null;
            double before = 0;
            for (CompareJob.LayerResult l : layers) {
                if (l.relativeMeanError() > 1e-6 && l.relativeMeanError() > 10 * before) {
                    jump = l.name();
                    break;
                }
                before = Math.max(before, l.relativeMeanError());
            }
            String firstFailing = layers.stream().filter(l -> !l.passed()).map(CompareJob.LayerResult::name)
                    .findFirst().orElse(null);
            return new CompareJob.PerLayer(method, ka.size(), layers.size(), layers, jump, firstFailing, notes);
        } finally {
            deleteTree(tmp);
        }
    }

    /** B's name for each input of A, as the output comparison maps them. */
    private static Map<String, String> inputRenaming(Path a, Path b, ImportOptions opts) {
        try (ModelFiles.Opened ma = ModelFiles.open(a, opts, 1); ModelFiles.Opened mb = ModelFiles.open(b, opts, 1)) {
            return CompareJob.inputMapping(ma.inputs(), mb.inputs());
        }
    }

    private static boolean isFloat(Tensor t) {
        return t.dtype() == DType.FLOAT || t.dtype() == DType.HALF || t.dtype() == DType.DOUBLE
                || t.dtype() == DType.BFLOAT16;
    }

    /** Whether {@code nchw} is {@code nhwc} with channels moved to axis 1. */
    static boolean nchwOf(Shape nhwc, Shape nchw) {
        if (!nhwc.hasRank() || !nchw.hasRank() || nhwc.rank() != 4 || nchw.rank() != 4) {
            return false;
        }
        long[] h = nhwc.dims();
        long[] c = nchw.dims();
        return c[0] == h[0] && c[1] == h[3] && c[2] == h[1] && c[3] == h[2];
    }

    static double[] nchwToNhwc(double[] v, long[] nchw) {
        int n = (int) nchw[0];
        int c = (int) nchw[1];
        int h = (int) nchw[2];
        int w = (int) nchw[3];
        double[] out = new double[v.length];
        for (int in = 0; in < n; in++) {
            for (int ic = 0; ic < c; ic++) {
                for (int ih = 0; ih < h; ih++) {
                    for (int iw = 0; iw < w; iw++) {
                        out[((in * h + ih) * w + iw) * c + ic] = v[((in * c + ic) * h + ih) * w + iw];
                    }
                }
            }
        }
        return out;
    }

    private static Side tfSide(Path model, ImportOptions opts) {
        Graph g = TfImporter.load(model, opts);
        Set<String> skip = new HashSet<>();
        g.inputs().forEach(i -> skip.add(i.tensor().node()));
        Map<String, String> keys = new LinkedHashMap<>();
        for (Node n : g.topologicalOrder()) {
            if (skip.contains(n.name()) || n.op().equals("Const") || n.op().equals("Placeholder")
                    || n.outputTypes().isEmpty() || n.outputType(0).dtype() != DType.FLOAT
                    || g.isOutput(TensorRef.of(n.name(), 0))) {
                continue;
            }
            keys.put(n.name(), n.op());
        }
        return new Side() {
            @Override
            public Map<String, String> keysInOrder() {
                return keys;
            }

            @Override
            public Map<String, Tensor> run(Collection<String> want, Map<String, Tensor> feed) {
                Graph p = g.copy();
                Map<String, String> probe = new LinkedHashMap<>();
                int i = 0;
                for (String k : want) {
                    String name = "kiln_probe_" + i++;
                    p.addOutput(new SignatureTensor(name, TensorRef.of(k, 0), new TensorType(DType.FLOAT,
                            Shape.unknown())));
                    probe.put(name, k);
                }
                try (TfRunner r = TfRunner.of(p)) {
                    Map<String, Tensor> out = new LinkedHashMap<>();
                    r.run(feed).forEach((n, t) -> {
                        if (probe.containsKey(n)) {
                            out.put(probe.get(n), t);
                        }
                    });
                    return out;
                }
            }
        };
    }

    /** Keys are value names, or with {@code byNode} the names of the nodes (their first output). */
    private static Side onnxSide(Path model, boolean byNode, Path probed) {
        ModelProto m = OnnxReader.read(model);
        Map<String, String> keys = new LinkedHashMap<>();
        Map<String, String> value = new LinkedHashMap<>(); // key -> value name
        for (Map.Entry<String, NodeProto> e : OnnxProbes.intermediateValues(m).entrySet()) {
            NodeProto n = e.getValue();
            if (byNode) {
                if (n.getName().isEmpty() || !n.getOutput(0).equals(e.getKey()) || keys.containsKey(n.getName())) {
                    continue;
                }
                keys.put(n.getName(), n.getOpType());
                value.put(n.getName(), e.getKey());
            } else {
                keys.put(e.getKey(), n.getOpType());
                value.put(e.getKey(), e.getKey());
            }
        }
        return new Side() {
            @Override
            public Map<String, String> keysInOrder() {
                return keys;
            }

            @Override
            public Map<String, Tensor> run(Collection<String> want, Map<String, Tensor> feed) {
                List<String> values = want.stream().map(value::get).toList();
                OnnxProbes.withOutputs(m, values, probed);
                try (OnnxRunner r = OnnxRunner.open(probed, 1)) {
                    Map<String, Tensor> got = r.run(feed);
                    Map<String, Tensor> out = new LinkedHashMap<>();
                    for (String k : want) {
                        out.put(k, got.get(value.get(k)));
                    }
                    return out;
                }
            }
        };
    }

    private static void deleteTree(Path dir) {
        try (var paths = Files.walk(dir)) {
            paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // a leftover temporary directory is harmless
        }
    }
}
