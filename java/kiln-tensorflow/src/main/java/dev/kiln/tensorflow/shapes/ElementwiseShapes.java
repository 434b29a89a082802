package dev.kiln.tensorflow.shapes;

import dev.kiln.graph.Shape;

import java.util.List;
import java.util.Map;

/** Element-wise ops: unary ops keep their input's shape, binary ops broadcast (numpy rules, as TensorFlow infers). */
final class ElementwiseShapes {
    static final List<String> UNARY = List.of("Identity", "StopGradient", "PreventGradient", "Snapshot",
            "CheckNumerics", "Relu", "Relu6", "Elu", "Selu", "LeakyRelu", "Sigmoid", "Tanh", "Softplus", "Softsign",
            "Neg", "Abs", "Exp", "Expm1", "Log", "Log1p", "Sqrt", "Rsqrt", "Square", "Reciprocal", "Inv", "Floor",
            "Ceil", "Round", "Rint", "Sign", "Erf", "Erfc", "Sin", "Cos", "Tan", "Asin", "Acos", "Atan", "Sinh",
            "Cosh", "Asinh", "Acosh", "Atanh", "IsNan", "IsInf", "IsFinite", "LogicalNot", "Cast", "ZerosLike",
            "OnesLike", "Softmax", "LogSoftmax", "LRN", "ClipByValue", "ReverseV2", "Cumsum", "InvertPermutation",
            "MatrixBandPart", "FakeQuantWithMinMaxArgs", "FakeQuantWithMinMaxVars", "FakeQuantWithMinMaxVarsPerChannel",
            "Roll", "ReverseSequence", "Invert");
    static final List<String> BINARY = List.of("Add", "AddV2", "Sub", "Mul", "Div", "RealDiv", "DivNoNan",
            "Maximum", "Minimum", "Pow", "SquaredDifference", "FloorDiv", "FloorMod", "TruncateDiv", "TruncateMod",
            "Mod", "Atan2", "Greater", "GreaterEqual", "Less", "LessEqual", "Equal", "NotEqual", "LogicalAnd",
            "LogicalOr", "BitwiseAnd", "BitwiseOr", "BitwiseXor", "MulNoNan", "Xdivy", "Xlogy");

    private ElementwiseShapes() {
    }

    static void register(Map<String, ShapeRule> rules) {
        UNARY.forEach(op -> rules.put(op, n -> NodeShapes.one(n.shape(0))));
        BINARY.forEach(op -> rules.put(op, n -> NodeShapes.one(broadcast(n, n.shape(0), n.shape(1)))));
        rules.put("SelectV2", n -> NodeShapes.one(broadcast(n, broadcast(n, n.shape(0), n.shape(1)), n.shape(2))));
        rules.put("AddN", ElementwiseShapes::addN);
        rules.put("Select", n -> NodeShapes.one(Shape.of(n.mergeShapes(n.shape(1), n.shape(2)))));
        rules.put("IdentityN", n -> {
            java.util.List<Shape> l = new java.util.ArrayList<>();
            for (int i = 0; i < n.inputCount(); i++) {
                l.add(n.shape(i));
            }
            return l;
        });
    }

    /** TensorFlow's BroadcastBinaryOpOutputShapeFn: an unknown rank on either side gives an unknown shape. */
    static Shape broadcast(NodeShapes n, Shape x, Shape y) {
        if (!x.hasRank() || !y.hasRank()) {
            return Shape.unknown();
        }
        int rank = Math.max(x.rank(), y.rank());
        long[] out = new long[rank];
        for (int i = 0; i < rank; i++) {
            int ix = i - (rank - x.rank());
            int iy = i - (rank - y.rank());
            long dx = ix < 0 ? 1 : x.dim(ix);
            long dy = iy < 0 ? 1 : y.dim(iy);
            if (dx > 1) {
                if (dy > 1 && dy != dx) {
                    throw n.giveUp("incompatible shapes " + x + " and " + y);
                }
                out[i] = dx;
            } else if (dy > 1) {
                out[i] = dy;
            } else if (dx == 1) {
                out[i] = dy;
            } else if (dy == 1) {
                out[i] = dx;
            } else if (dx < 0 && dy < 0) {
                out[i] = -1;
            } else {
                throw n.giveUp("a dimension 0 broadcast against " + (dx < 0 || dy < 0 ? "an unknown one" : "0"));
            }
        }
        return Shape.of(out);
    }

    private static List<Shape> addN(NodeShapes n) {
        Shape s = n.shape(0);
        for (int i = 1; i < n.inputCount(); i++) {
            if (!s.hasRank()) {
                s = n.shape(i);
            } else if (n.shape(i).hasRank()) {
                s = Shape.of(n.mergeShapes(s, n.shape(i)));
            }
        }
        return NodeShapes.one(s);
    }
}
