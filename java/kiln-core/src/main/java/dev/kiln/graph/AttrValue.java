package dev.kiln.graph;

import java.util.List;
import java.util.Map;

/**
 * A node attribute, mirroring TensorFlow's AttrValue: one of the records below. Use the typed getters on
 * {@link Node} ({@code node.attrInt("strides")} ...) rather than switching on these directly.
 */
public sealed interface AttrValue {

    record I(long value) implements AttrValue { }

    record F(float value) implements AttrValue { }

    record B(boolean value) implements AttrValue { }

    /** A byte string (TF attr "s"); most are UTF-8 text such as padding or data_format. */
    record S(byte[] value) implements AttrValue {
        public String text() {
            return new String(value, java.nio.charset.StandardCharsets.UTF_8);
        }
    }

    record Type(DType value) implements AttrValue { }

    record ShapeValue(Shape value) implements AttrValue { }

    record TensorValue(Tensor value) implements AttrValue { }

    record ListI(long[] values) implements AttrValue { }

    record ListF(float[] values) implements AttrValue { }

    record ListB(boolean[] values) implements AttrValue { }

    record ListS(List<byte[]> values) implements AttrValue { }

    record ListType(List<DType> values) implements AttrValue { }

    record ListShape(List<Shape> values) implements AttrValue { }

    record ListTensor(List<Tensor> values) implements AttrValue { }

    /** A function reference with its own attributes (TF "func"), e.g. the body of a PartitionedCall. */
    record Func(String name, Map<String, AttrValue> attrs) implements AttrValue { }

    record ListFunc(List<Func> values) implements AttrValue { }

    /** A placeholder attr value ({@code $T} in function bodies) that has not been substituted. */
    record Placeholder(String name) implements AttrValue { }

    static AttrValue of(long v) {
        return new I(v);
    }

    static AttrValue of(float v) {
        return new F(v);
    }

    static AttrValue of(boolean v) {
        return new B(v);
    }

    static AttrValue of(String v) {
        return new S(v.getBytes(java.nio.charset.StandardCharsets.UTF_8));
    }

    static AttrValue of(DType v) {
        return new Type(v);
    }

    static AttrValue of(Shape v) {
        return new ShapeValue(v);
    }

    static AttrValue of(Tensor v) {
        return new TensorValue(v);
    }

    static AttrValue ofInts(long... v) {
        return new ListI(v.clone());
    }
}
