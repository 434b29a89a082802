package dev.kiln.passes;

import dev.kiln.graph.AttrValue;
import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.graph.TensorType;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * Marks Conv2D / DepthwiseConv2dNative / MatMul → BiasAdd → Relu/Relu6 chains that an exporter can emit as one fused
 * operation, without changing what the graph computes, so TensorFlow still loads and runs the result unchanged.
 *
 * <p>First, {@code Add|AddV2(y, c)} right after a conv/matmul with c a float32 constant of shape [C] (C the output
 * channels, NHWC) becomes the equivalent {@code BiasAdd(y, c)} of the same name. Then, for every such chain, the
 * attributes below are set (TensorFlow accepts and ignores attributes whose name starts with an underscore):
 * <ul>
 *   <li>on the conv/matmul: {@value #FUSED_BIAS} = name of the BiasAdd (absent when there is none),
 *       {@value #FUSED_ACTIVATION} = "Relu" or "Relu6" (absent when there is none);</li>
 *   <li>on the BiasAdd and the activation: {@value #FUSED_INTO} = name of the conv/matmul.</li>
 * </ul>
 * A chain is marked only where each link's output has exactly one reader and is not a signature output (except the
 * last link). TensorFlow's own _FusedConv2D / _FusedMatMul are not produced: they are CPU-only grappler ops.
 */
public final class FuseBiasActivation implements GraphPass {
    public static final String FUSED_BIAS = "_kiln_fused_bias";
    public static final String FUSED_ACTIVATION = "_kiln_fused_activation";
    public static final String FUSED_INTO = "_kiln_fused_into";

    private static final Set<String> PRODUCERS = Set.of("Conv2D", "DepthwiseConv2dNative", "MatMul");
    private static final Set<String> ACTIVATIONS = Set.of("Relu", "Relu6");

    @Override
    public String name() {
        return "fuse-bias-activation";
    }

    @Override
    public PassResult apply(Graph graph) {
        Report r = new Report(name(), graph);
        for (Node n : new ArrayList<>(graph.nodes())) {
            Node p = graph.find(n.name());
            if (p == null || !PRODUCERS.contains(p.op())) {
                continue;
            }
            Node next = soleReader(graph, p);
            Node bias = null;
            if (next != null && next.op().equals("BiasAdd") && next.input(0).equals(TensorRef.of(p.name(), 0))) {
                bias = next;
            } else if (next != null && (next.op().equals("Add") || next.op().equals("AddV2"))) {
                bias = addToBiasAdd(graph, p, next, r);
            }
            Node act = null;
            Node afterBias = bias != null ? soleReader(graph, bias) : next;
            if (afterBias != null && ACTIVATIONS.contains(afterBias.op())) {
                act = afterBias;
            }
            if (bias == null && act == null) {
                continue;
            }
            Node marked = p;
            if (bias != null) {
                marked = marked.withAttr(FUSED_BIAS, AttrValue.of(bias.name()));
                graph.replace(graph.node(bias.name()).withAttr(FUSED_INTO, AttrValue.of(p.name())));
            }
            if (act != null) {
                marked = marked.withAttr(FUSED_ACTIVATION, AttrValue.of(act.op()));
                graph.replace(graph.node(act.name()).withAttr(FUSED_INTO, AttrValue.of(p.name())));
            }
            graph.replace(marked);
            r.fused("marked " + p.op() + " '" + p.name() + "'" + (bias != null ? " + BiasAdd '" + bias.name() + "'" : "")
                    + (act != null ? " + " + act.op() + " '" + act.name() + "'" : ""));
        }
        return r.finish(graph);
    }

    /** The only node reading output 0 of {@code n}, when there is exactly one and it is not a signature output. */
    private static Node soleReader(Graph g, Node n) {
        TensorRef ref = TensorRef.of(n.name(), 0);
        if (g.isOutput(ref)) {
            return null;
        }
        List<Node> readers = g.dataConsumers(ref);
        if (readers.size() != 1 || GraphEdits.dataUseCount(g, ref) != 1) {
            return null;
        }
        return readers.get(0);
    }

    private static Node addToBiasAdd(Graph g, Node p, Node add, Report r) {
        if (add.numDataInputs() != 2 || !p.attrString("data_format", "NHWC").equals("NHWC")) {
            return null;
        }
        int side = add.input(0).equals(TensorRef.of(p.name(), 0)) ? 1 : 0;
        Tensor c = g.constantValue(add.input(side));
        if (c == null || c.dtype() != DType.FLOAT || c.shape().rank() != 1) {
            return null;
        }
        Tensor w = p.numDataInputs() == 2 ? g.constantValue(p.input(1)) : null;
        long channels = w != null ? FoldBatchNorm.channels(p, w) : -1;
        TensorType pt = p.outputType(0);
        if (channels < 0 && pt != null && pt.shape().hasRank() && pt.shape().rank() > 0) {
            channels = pt.shape().dim(-1);
        }
        if (channels <= 0 || c.shape().dim(0) != channels) {
            return null;
        }
        Node.Builder b = Node.builder(add.name(), "BiasAdd").input(TensorRef.of(p.name(), 0)).input(add.input(side))
                .attr("T", AttrValue.of(DType.FLOAT)).attr("data_format", AttrValue.of("NHWC"))
                .outputTypes(add.outputTypes()).device(add.device());
        for (String ctl : add.controlInputs()) {
            b.input("^" + ctl);
        }
        Node ba = g.replace(b.build());
        r.note("rewrote " + add.op() + " '" + add.name() + "' of a per-channel constant as BiasAdd");
        return ba;
    }
}
