package dev.kiln.pipeline;

import dev.kiln.data.RepresentativeData;
import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.Shape;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.graph.TensorType;
import dev.kiln.quant.FakeQuantInsertion;
import dev.kiln.tensorflow.TfRunner;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Per-layer quantization error: for every FakeQuantWithMinMaxVars of the fake-quantized graph, its output (what the
 * next layer reads in the INT8 model) against the same tensor of the FP32 graph, as SQNR and cosine over the data.
 * The error accumulates from the input, so the layer where SQNR drops is where INT8 hurts.
 */
final class LayerErrors {
    private LayerErrors() {
    }

    static List<OptimizeReport.LayerError> measure(Graph fp32, Graph fakeQuant, RepresentativeData data) {
        Map<String, TensorRef> fqOut = new LinkedHashMap<>();   // probe name -> fake-quant output in fakeQuant
        Map<String, TensorRef> fpOut = new LinkedHashMap<>();   // probe name -> the same tensor in fp32
        Map<String, String> consumer = new LinkedHashMap<>();
        Map<String, String> inputs = new LinkedHashMap<>(); // tensor -> signature input name
        for (SignatureTensor in : fp32.inputs()) {
            inputs.put(in.tensor().toString(), in.name());
        }
        int i = 0;
        for (Node n : fakeQuant.nodes()) {
            if (!n.op().equals(FakeQuantInsertion.FAKE_QUANT)) {
                continue;
            }
            TensorRef src = n.input(0);
            if (fp32.node(src.node()) == null) {
                continue;
            }
            String probe = "kiln_layer_" + (i++);
            fqOut.put(probe, TensorRef.of(n.name(), 0));
            fpOut.put(probe, src);
            consumer.put(probe, src.toString());
        }
        if (fqOut.isEmpty()) {
            return List.of();
        }
        Map<String, String> aliasA = new LinkedHashMap<>();
        Map<String, String> aliasB = new LinkedHashMap<>();
        Map<String, TensorRef> fpProbed = new LinkedHashMap<>(fpOut);
        fpProbed.keySet().removeIf(k -> inputs.containsKey(fpOut.get(k).toString())); // fed, not fetched
        Graph a = probe(fp32, fpProbed, aliasA);
        Graph b = probe(fakeQuant, fqOut, aliasB);
        double[] refSq = new double[fqOut.size()];
        double[] errSq = new double[fqOut.size()];
        double[] dot = new double[fqOut.size()];
        double[] qSq = new double[fqOut.size()];
        List<String> names = new ArrayList<>(fqOut.keySet());
        try (TfRunner ra = TfRunner.of(a); TfRunner rb = TfRunner.of(b);
             RepresentativeData.Batches batches = data.iterator()) {
            while (batches.hasNext()) {
                Map<String, Tensor> batch = batches.next();
                Map<String, Tensor> oa = ra.run(batch);
                Map<String, Tensor> ob = rb.run(batch);
                for (int k = 0; k < names.size(); k++) {
                    String fed = inputs.get(fpOut.get(names.get(k)).toString());
                    float[] x = Evaluation.floats(fed != null ? batch.get(fed) : oa.get(aliasA.get(names.get(k))));
                    float[] y = Evaluation.floats(ob.get(aliasB.get(names.get(k))));
                    for (int j = 0; j < x.length; j++) {
                        double e = y[j] - x[j];
                        refSq[k] += (double) x[j] * x[j];
                        errSq[k] += e * e;
                        dot[k] += (double) x[j] * y[j];
                        qSq[k] += (double) y[j] * y[j];
                    }
                }
            }
        } catch (RuntimeException e) {
            throw e;
        } catch (Exception e) {
            throw dev.kiln.KilnException.internal("per-layer error: " + e.getMessage(), e);
        }
        List<OptimizeReport.LayerError> out = new ArrayList<>();
        for (int k = 0; k < names.size(); k++) {
            double sqnr = errSq[k] == 0 ? Double.POSITIVE_INFINITY : 10 * Math.log10(refSq[k] / errSq[k]);
            double cos = refSq[k] == 0 && qSq[k] == 0 ? 1 : dot[k] / Math.sqrt(refSq[k] * qSq[k]);
            String c = firstConsumer(fp32, fpOut.get(names.get(k)));
            out.add(new OptimizeReport.LayerError(consumer.get(names.get(k)), c, sqnr, cos));
        }
        return out;
    }

    private static String firstConsumer(Graph g, TensorRef t) {
        for (Node n : g.nodes()) {
            for (TensorRef r : n.dataInputs()) {
                if (r.equals(t)) {
                    return n.name() + " (" + n.op() + ")";
                }
            }
        }
        return "";
    }

    /** {@code g} with every tensor of {@code outs} fetched; {@code alias} maps each probe to its output name. */
    private static Graph probe(Graph g, Map<String, TensorRef> outs, Map<String, String> alias) {
        Graph p = g.copy();
        Map<String, String> existing = new LinkedHashMap<>();
        for (SignatureTensor o : g.outputs()) {
            existing.putIfAbsent(o.tensor().toString(), o.name());
        }
        for (Map.Entry<String, TensorRef> e : outs.entrySet()) {
            String have = existing.get(e.getValue().toString());
            if (have != null) { // fetching one tensor twice collides in TensorFlow
                alias.put(e.getKey(), have);
                continue;
            }
            p.addOutput(new SignatureTensor(e.getKey(), e.getValue(), new TensorType(DType.FLOAT, Shape.unknown())));
            existing.put(e.getValue().toString(), e.getKey());
            alias.put(e.getKey(), e.getKey());
        }
        return p;
    }
}
