package dev.kiln.onnx;

import dev.kiln.KilnException;
import dev.kiln.graph.Node;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The table of ONNX lowerings by TensorFlow op name, filled by one small class per op family (the way tf2onnx
 * registers a handler per op). What {@link OnnxOpSupport} reports and docs/onnx.md lists comes from here.
 */
final class OnnxLowerings {
    /** One registered op: its family, the ONNX ops it becomes, the lowest opset it needs, and the lowering. */
    record Entry(String tfOp, String family, String onnxOps, int minOpset, OnnxLowering lowering) { }

    /** What a family class fills: {@code t.add("IsNan", "IsNaN", 13, lowering)}. */
    static final class Table {
        private final String family;

        private Table(String family) {
            this.family = family;
        }

        void add(String tfOp, String onnxOps, int minOpset, OnnxLowering lowering) {
            if (TABLE.put(tfOp, new Entry(tfOp, family, onnxOps, minOpset, lowering)) != null) {
                throw new IllegalStateException("two ONNX lowerings for TF op " + tfOp);
            }
        }
    }

    private static final Map<String, Entry> TABLE = new LinkedHashMap<>();

    static {
        GraphLowerings.register(new Table("Graph"));
        ConvLowerings.register(new Table("Convolution"));
        PoolLowerings.register(new Table("Pooling"));
        MatMulLowerings.register(new Table("MatMul"));
        BinaryLowerings.register(new Table("Elementwise binary"));
        UnaryLowerings.register(new Table("Elementwise unary"));
        ActivationLowerings.register(new Table("Activation"));
        LogicLowerings.register(new Table("Comparison and logical"));
        ReduceLowerings.register(new Table("Reduction"));
        ShapeLowerings.register(new Table("Shape and fill"));
        ConcatLowerings.register(new Table("Transpose, concat, pad"));
        SliceLowerings.register(new Table("Slice and split"));
        GatherLowerings.register(new Table("Gather, scatter, top-k"));
        NormLowerings.register(new Table("Normalization"));
        ImageLowerings.register(new Table("Image, space and depth"));
        QuantLowerings.register(new Table("Quantization"));
        RecurrentLowerings.register(new Table("Fused recurrent cells"));
        ControlFlowLowerings.register(new Table("Control flow"));
    }

    private OnnxLowerings() {
    }

    /** The entry of {@code tfOp}, or null. */
    static Entry forOp(String tfOp) {
        return TABLE.get(tfOp);
    }

    /** The entry of {@code n}'s op, or an error that names the node and the op. */
    static Entry require(Node n) {
        Entry e = TABLE.get(n.op());
        if (e == null) {
            throw KilnException.unsupported("op '" + n.op() + "' (node '" + n.name() + "') has no ONNX mapping");
        }
        return e;
    }

    /** Every entry in registration order (grouped by family). */
    static Map<String, Entry> all() {
        return Collections.unmodifiableMap(TABLE);
    }
}
