package dev.kiln.tensorflow;

import com.google.protobuf.ByteString;
import com.google.protobuf.UnsafeByteOperations;
import dev.kiln.KilnException;
import dev.kiln.Limits;
import dev.kiln.graph.AttrValue;
import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NameAttrList;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.TensorProto;
import org.tensorflow.proto.TensorShapeProto;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Conversions between TensorFlow's GraphDef protos and Kiln's IR: nodes, attributes, shapes and tensors. Weight bytes
 * are shared, not copied, in both directions: a tensor read from {@code tensor_content} views the proto's bytes, and
 * a TensorProto written from a tensor wraps the tensor's buffer.
 */
public final class GraphDefs {
    /** Constants at least this large lose their values in {@link #withoutLargeConstantValues}. */
    static final int LARGE_CONSTANT_BYTES = 64 * 1024;

    private GraphDefs() {
    }

    // ---- graph ----

    /** A GraphDef for {@code g}: one NodeDef per node, in topological order, producer 1205-compatible. */
    public static GraphDef toGraphDef(Graph g) {
        GraphDef.Builder b = GraphDef.newBuilder();
        for (Node n : g.topologicalOrder()) {
            b.addNode(toNodeDef(n));
        }
        b.getVersionsBuilder().setProducer(Integer.parseInt(g.metadata().getOrDefault("producer", "1205")));
        for (Map.Entry<String, byte[]> f : g.functions().entrySet()) {
            try {
                b.getLibraryBuilder().addFunction(org.tensorflow.proto.FunctionDef.parseFrom(f.getValue()));
            } catch (com.google.protobuf.InvalidProtocolBufferException e) {
                throw KilnException.invalidModel("function '" + f.getKey() + "' of the graph is not a TensorFlow "
                        + "FunctionDef: " + e.getMessage());
            }
        }
        return b.build();
    }

    /**
     * {@code gd} with the values of large constants left out (dtype and shape kept), for graphs that TensorFlow only
     * checks and shape-infers: shape functions read the values of small constants only (shapes, axes, paddings), so
     * TensorFlow sees the same graph, without a serialized copy of the weights in the Java heap and another in its
     * own graph.
     */
    static GraphDef withoutLargeConstantValues(GraphDef gd) {
        GraphDef.Builder b = gd.toBuilder();
        for (int i = 0; i < b.getNodeCount(); i++) {
            NodeDef n = b.getNode(i);
            org.tensorflow.proto.AttrValue v = n.getAttrMap().get("value");
            if (n.getOp().equals("Const") && v != null
                    && v.getTensor().getTensorContent().size() >= LARGE_CONSTANT_BYTES) {
                TensorProto t = v.getTensor().toBuilder().clearTensorContent().build();
                b.setNode(i, n.toBuilder().putAttr("value", v.toBuilder().setTensor(t).build()));
            }
        }
        return b.build();
    }

    /**
     * {@code gd} with every device pin cleared, in the graph and in its function bodies: what TensorFlow's
     * {@code clear_devices=True} does. A model exported on a GPU machine pins nodes to {@code /device:GPU:0}, which a
     * CPU-only session refuses to place; Kiln's output is device-neutral anyway. Returns {@code gd} itself when nothing
     * is pinned (no copy of the weights).
     */
    static GraphDef withoutDevices(GraphDef gd) {
        boolean pinned = gd.getNodeList().stream().anyMatch(n -> !n.getDevice().isEmpty())
                || gd.getLibrary().getFunctionList().stream()
                .anyMatch(f -> f.getNodeDefList().stream().anyMatch(n -> !n.getDevice().isEmpty()));
        if (!pinned) {
            return gd;
        }
        GraphDef.Builder b = gd.toBuilder();
        for (NodeDef.Builder n : b.getNodeBuilderList()) {
            n.clearDevice();
        }
        for (org.tensorflow.proto.FunctionDef.Builder f : b.getLibraryBuilder().getFunctionBuilderList()) {
            for (NodeDef.Builder n : f.getNodeDefBuilderList()) {
                n.clearDevice();
            }
        }
        return b.build();
    }

    /** An IR graph holding the nodes of {@code gd} (no signature, no output types). */
    public static Graph fromGraphDef(GraphDef gd) {
        Graph g = new Graph();
        for (NodeDef nd : gd.getNodeList()) {
            g.add(fromNodeDef(nd, List.of()));
        }
        g.metadata().put("producer", Integer.toString(gd.getVersions().getProducer()));
        return g;
    }

    // ---- nodes ----

    public static NodeDef toNodeDef(Node n) {
        NodeDef.Builder b = NodeDef.newBuilder().setName(n.name()).setOp(n.op()).addAllInput(n.inputs());
        if (!n.device().isEmpty()) {
            b.setDevice(n.device());
        }
        for (Map.Entry<String, AttrValue> e : n.attrs().entrySet()) {
            b.putAttr(e.getKey(), toProto(e.getValue()));
        }
        return b.build();
    }

    public static Node fromNodeDef(NodeDef nd, List<dev.kiln.graph.TensorType> outputTypes) {
        Node.Builder b = Node.builder(nd.getName(), nd.getOp()).inputs(nd.getInputList()).device(nd.getDevice());
        for (Map.Entry<String, org.tensorflow.proto.AttrValue> e : new java.util.TreeMap<>(nd.getAttrMap()).entrySet()) {
            if (e.getKey().startsWith("_") && !e.getKey().startsWith("_kiln_")) {
                continue; // internal attrs (_output_shapes, _class, _user_specified_name ...): not part of the op
            }
            b.attr(e.getKey(), fromProto(e.getValue(), nd.getName()));
        }
        return b.outputTypes(outputTypes).build();
    }

    // ---- attributes ----

    public static AttrValue fromProto(org.tensorflow.proto.AttrValue a, String where) {
        switch (a.getValueCase()) {
            case S: return new AttrValue.S(a.getS().toByteArray());
            case I: return new AttrValue.I(a.getI());
            case F: return new AttrValue.F(a.getF());
            case B: return new AttrValue.B(a.getB());
            case TYPE: return new AttrValue.Type(dtype(a.getTypeValue(), where));
            case SHAPE: return new AttrValue.ShapeValue(fromProto(a.getShape()));
            case TENSOR: return new AttrValue.TensorValue(fromProto(a.getTensor(), where));
            case FUNC: return func(a.getFunc(), where);
            case PLACEHOLDER: return new AttrValue.Placeholder(a.getPlaceholder());
            case LIST: {
                org.tensorflow.proto.AttrValue.ListValue l = a.getList();
                if (l.getSCount() > 0) {
                    List<byte[]> v = new ArrayList<>();
                    l.getSList().forEach(s -> v.add(s.toByteArray()));
                    return new AttrValue.ListS(v);
                }
                if (l.getFCount() > 0) {
                    float[] v = new float[l.getFCount()];
                    for (int i = 0; i < v.length; i++) {
                        v[i] = l.getF(i);
                    }
                    return new AttrValue.ListF(v);
                }
                if (l.getBCount() > 0) {
                    boolean[] v = new boolean[l.getBCount()];
                    for (int i = 0; i < v.length; i++) {
                        v[i] = l.getB(i);
                    }
                    return new AttrValue.ListB(v);
                }
                if (l.getTypeCount() > 0) {
                    List<DType> v = new ArrayList<>();
                    l.getTypeValueList().forEach(t -> v.add(dtype(t, where)));
                    return new AttrValue.ListType(v);
                }
                if (l.getShapeCount() > 0) {
                    List<Shape> v = new ArrayList<>();
                    l.getShapeList().forEach(s -> v.add(fromProto(s)));
                    return new AttrValue.ListShape(v);
                }
                if (l.getTensorCount() > 0) {
                    List<Tensor> v = new ArrayList<>();
                    l.getTensorList().forEach(t -> v.add(fromProto(t, where)));
                    return new AttrValue.ListTensor(v);
                }
                if (l.getFuncCount() > 0) {
                    List<AttrValue.Func> v = new ArrayList<>();
                    l.getFuncList().forEach(f -> v.add(func(f, where)));
                    return new AttrValue.ListFunc(v);
                }
                return new AttrValue.ListI(l.getIList().stream().mapToLong(Long::longValue).toArray());
            }
            default:
                return new AttrValue.ListI(new long[0]);
        }
    }

    private static AttrValue.Func func(NameAttrList f, String where) {
        Map<String, AttrValue> attrs = new LinkedHashMap<>();
        f.getAttrMap().forEach((k, v) -> attrs.put(k, fromProto(v, where)));
        return new AttrValue.Func(f.getName(), attrs);
    }

    private static DType dtype(int code, String where) {
        try {
            return DType.fromTfCode(code);
        } catch (IllegalArgumentException e) {
            throw KilnException.unsupported("node '" + where + "': unsupported TensorFlow dtype code " + code);
        }
    }

    public static org.tensorflow.proto.AttrValue toProto(AttrValue v) {
        org.tensorflow.proto.AttrValue.Builder b = org.tensorflow.proto.AttrValue.newBuilder();
        org.tensorflow.proto.AttrValue.ListValue.Builder l = org.tensorflow.proto.AttrValue.ListValue.newBuilder();
        if (v instanceof AttrValue.S s) {
            b.setS(ByteString.copyFrom(s.value()));
        } else if (v instanceof AttrValue.I i) {
            b.setI(i.value());
        } else if (v instanceof AttrValue.F f) {
            b.setF(f.value());
        } else if (v instanceof AttrValue.B bo) {
            b.setB(bo.value());
        } else if (v instanceof AttrValue.Type t) {
            b.setTypeValue(t.value().tfCode());
        } else if (v instanceof AttrValue.ShapeValue s) {
            b.setShape(toProto(s.value()));
        } else if (v instanceof AttrValue.TensorValue t) {
            b.setTensor(toProto(t.value()));
        } else if (v instanceof AttrValue.Func f) {
            b.setFunc(toProto(f));
        } else if (v instanceof AttrValue.Placeholder p) {
            b.setPlaceholder(p.name());
        } else if (v instanceof AttrValue.ListI li) {
            for (long x : li.values()) {
                l.addI(x);
            }
            b.setList(l);
        } else if (v instanceof AttrValue.ListF lf) {
            for (float x : lf.values()) {
                l.addF(x);
            }
            b.setList(l);
        } else if (v instanceof AttrValue.ListB lb) {
            for (boolean x : lb.values()) {
                l.addB(x);
            }
            b.setList(l);
        } else if (v instanceof AttrValue.ListS ls) {
            ls.values().forEach(x -> l.addS(ByteString.copyFrom(x)));
            b.setList(l);
        } else if (v instanceof AttrValue.ListType lt) {
            lt.values().forEach(x -> l.addTypeValue(x.tfCode()));
            b.setList(l);
        } else if (v instanceof AttrValue.ListShape ls) {
            ls.values().forEach(x -> l.addShape(toProto(x)));
            b.setList(l);
        } else if (v instanceof AttrValue.ListTensor lt) {
            lt.values().forEach(x -> l.addTensor(toProto(x)));
            b.setList(l);
        } else if (v instanceof AttrValue.ListFunc lf) {
            lf.values().forEach(x -> l.addFunc(toProto(x)));
            b.setList(l);
        }
        return b.build();
    }

    private static NameAttrList toProto(AttrValue.Func f) {
        NameAttrList.Builder nb = NameAttrList.newBuilder().setName(f.name());
        f.attrs().forEach((k, a) -> nb.putAttr(k, toProto(a)));
        return nb.build();
    }

    // ---- shapes ----

    public static Shape fromProto(TensorShapeProto s) {
        if (s.getUnknownRank()) {
            return Shape.unknown();
        }
        long[] d = new long[s.getDimCount()];
        for (int i = 0; i < d.length; i++) {
            d[i] = Math.max(-1, s.getDim(i).getSize());
        }
        return Shape.of(d);
    }

    public static TensorShapeProto toProto(Shape s) {
        TensorShapeProto.Builder b = TensorShapeProto.newBuilder();
        if (!s.hasRank()) {
            return b.setUnknownRank(true).build();
        }
        for (long d : s.dims()) {
            b.addDimBuilder().setSize(d);
        }
        return b.build();
    }

    // ---- tensors ----

    /** The value of a TensorProto; {@code where} (a node name) goes into error messages. */
    public static Tensor fromProto(TensorProto p, String where) {
        DType dt = dtype(p.getDtypeValue(), where);
        Shape shape = fromProto(p.getTensorShape());
        if (!shape.isFullyDefined()) {
            throw KilnException.invalidModel("node '" + where + "': constant tensor has shape " + shape);
        }
        // the declared size is checked before anything is allocated for it (a constant may declare [2^40])
        long n = Limits.tensorBytes("node '" + where + "': constant", shape, 1);
        if (dt == DType.STRING) {
            Limits.tensorBytes("node '" + where + "': string constant", shape, 16);
            List<byte[]> v = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                ByteString s = p.getStringValCount() == 0 ? ByteString.EMPTY
                        : p.getStringVal(Math.min(i, p.getStringValCount() - 1));
                v.add(s.toByteArray());
            }
            return Tensor.ofStrings(shape, v);
        }
        if (dt.byteSize() < 0) {
            throw KilnException.unsupported("node '" + where + "': constant of type " + dt + " is not supported");
        }
        long bytes = Limits.tensorBytes("node '" + where + "': constant", shape, dt.byteSize());
        if (!p.getTensorContent().isEmpty()) {
            if (p.getTensorContent().size() != bytes) {
                throw KilnException.invalidModel("node '" + where + "': tensor " + dt + shape + " needs " + bytes
                        + " bytes, tensor_content has " + p.getTensorContent().size());
            }
            return Tensor.wrap(dt, shape, p.getTensorContent().asReadOnlyByteBuffer());
        }
        ByteBuffer b = ByteBuffer.allocate((int) bytes).order(ByteOrder.LITTLE_ENDIAN);
        int count = switch (dt) {
            case FLOAT -> p.getFloatValCount();
            case DOUBLE -> p.getDoubleValCount();
            case INT64 -> p.getInt64ValCount();
            case UINT64 -> p.getUint64ValCount();
            case UINT32 -> p.getUint32ValCount();
            case BOOL -> p.getBoolValCount();
            case HALF, BFLOAT16 -> p.getHalfValCount();
            case COMPLEX64 -> p.getScomplexValCount();
            case COMPLEX128 -> p.getDcomplexValCount();
            default -> p.getIntValCount();
        };
        if (count > 0 && (dt == DType.COMPLEX64 || dt == DType.COMPLEX128)) {
            throw KilnException.unsupported("node '" + where + "': complex constants are not supported");
        }
        for (long i = 0; i < n && count > 0; i++) {
            int k = (int) Math.min(i, count - 1);
            switch (dt) {
                case FLOAT -> b.putFloat(p.getFloatVal(k));
                case DOUBLE -> b.putDouble(p.getDoubleVal(k));
                case INT64 -> b.putLong(p.getInt64Val(k));
                case UINT64 -> b.putLong(p.getUint64Val(k));
                case UINT32 -> b.putInt(p.getUint32Val(k));
                case BOOL -> b.put((byte) (p.getBoolVal(k) ? 1 : 0));
                case HALF, BFLOAT16 -> b.putShort((short) p.getHalfVal(k));
                case INT32, QINT32 -> b.putInt(p.getIntVal(k));
                case INT16, UINT16 -> b.putShort((short) p.getIntVal(k));
                default -> b.put((byte) p.getIntVal(k));
            }
        }
        b.rewind();
        return Tensor.wrap(dt, shape, b);
    }

    public static TensorProto toProto(Tensor t) {
        TensorProto.Builder b = TensorProto.newBuilder().setDtype(DataType.forNumber(t.dtype().tfCode()))
                .setTensorShape(toProto(t.shape()));
        if (t.dtype() == DType.STRING) {
            t.strings().forEach(s -> b.addStringVal(ByteString.copyFrom(s)));
        } else {
            // no copy: a Tensor's bytes are never written after construction
            b.setTensorContent(UnsafeByteOperations.unsafeWrap(t.bytes()));
        }
        return b.build();
    }
}
