package dev.kiln.tflite;

import com.google.flatbuffers.FlatBufferBuilder;
import dev.kiln.KilnException;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.kiln.tflite.TfliteSchema.*;

/**
 * Collects one subgraph's buffers, tensors, operator codes and operators, the signature and metadata, and writes them
 * as a TFLite FlatBuffer (schema version 3, file identifier "TFL3"), one table at a time at the schema's field slots
 * ({@link TfliteSchema}). Knows nothing of Kiln's graph: the emitter decides what goes in.
 */
final class TfliteModelBuilder {
    /** Per-tensor or per-axis quantization: {@code real = scale * (q - zeroPoint)}; dimension -1 for per tensor. */
    record Quantization(float[] scale, long[] zeroPoint, int dimension) {
        static Quantization perTensor(float scale, long zeroPoint) {
            return new Quantization(new float[] {scale}, new long[] {zeroPoint}, -1);
        }
    }

    /** A tensor: shape null for unknown rank; signature with -1 for unknown dimensions (null: same as shape). */
    record TensorSpec(String name, byte type, int[] shape, int[] signature, int buffer, Quantization quantization) { }

    private record Op(int opcode, int[] inputs, int[] outputs, BuiltinOptions options) { }

    private final List<ByteBuffer> buffers = new ArrayList<>();
    private final List<TensorSpec> tensors = new ArrayList<>();
    private final Map<Integer, int[]> opcodes = new LinkedHashMap<>(); // builtin code → {index, version}
    private final List<Op> operators = new ArrayList<>();
    private final Map<String, byte[]> metadata = new LinkedHashMap<>();
    private final List<String> inputNames = new ArrayList<>();
    private final List<Integer> inputs = new ArrayList<>();
    private final List<String> outputNames = new ArrayList<>();
    private final List<Integer> outputs = new ArrayList<>();
    private String signatureKey = "serving_default";
    private String description = "Kiln";
    private long dataBytes;

    TfliteModelBuilder() {
        buffers.add(null); // buffer 0: the empty sentinel every tensor without data points to
    }

    /** Adds a constant's bytes (little-endian, C order); returns its buffer index. */
    int addBuffer(ByteBuffer data) {
        buffers.add(data.duplicate());
        dataBytes += data.remaining();
        return buffers.size() - 1;
    }

    int addTensor(TensorSpec t) {
        tensors.add(t);
        return tensors.size() - 1;
    }

    TensorSpec tensor(int index) {
        return tensors.get(index);
    }

    int tensorCount() {
        return tensors.size();
    }

    /** Adds an operator; the operator code's version is the highest any use asks for. */
    void addOperator(int builtin, int version, int[] in, int[] out, BuiltinOptions options) {
        int[] code = opcodes.computeIfAbsent(builtin, k -> new int[] {opcodes.size(), version});
        code[1] = Math.max(code[1], version);
        operators.add(new Op(code[0], in.clone(), out.clone(), options));
    }

    int operatorCount() {
        return operators.size();
    }

    /** Builtin operator code → number of operators using it. */
    Map<Integer, Integer> operatorHistogram() {
        Map<Integer, Integer> byIndex = new LinkedHashMap<>();
        for (Op op : operators) {
            byIndex.merge(op.opcode, 1, Integer::sum);
        }
        Map<Integer, Integer> out = new LinkedHashMap<>();
        opcodes.forEach((k, v) -> out.put(k, byIndex.getOrDefault(v[0], 0)));
        return out;
    }

    void addInput(String name, int tensor) {
        inputNames.add(name);
        inputs.add(tensor);
    }

    void addOutput(String name, int tensor) {
        outputNames.add(name);
        outputs.add(tensor);
    }

    void signatureKey(String key) {
        this.signatureKey = key;
    }

    void description(String d) {
        this.description = d;
    }

    /** A named metadata entry (its bytes go into a buffer of their own), e.g. "min_runtime_version". */
    void metadata(String name, byte[] data) {
        metadata.put(name, data.clone());
    }

    /** The finished FlatBuffer. */
    byte[] build() {
        long estimate = dataBytes + 64L * buffers.size() + 256L * tensors.size() + 128L * operators.size() + 65536;
        if (estimate > Integer.MAX_VALUE - 1024) {
            throw KilnException.unsupported("the model's constants take " + dataBytes + " bytes: a TFLite FlatBuffer "
                    + "is limited to 2 GB");
        }
        FlatBufferBuilder b = new FlatBufferBuilder((int) estimate);
        // metadata buffers go after the constants so tensor buffer indices stay as assigned
        List<int[]> metaRefs = new ArrayList<>();
        List<ByteBuffer> all = new ArrayList<>(buffers);
        for (Map.Entry<String, byte[]> e : metadata.entrySet()) {
            all.add(ByteBuffer.wrap(e.getValue()));
            metaRefs.add(new int[] {all.size() - 1});
        }
        int[] bufferOffsets = new int[all.size()];
        for (int i = all.size() - 1; i >= 0; i--) {
            ByteBuffer data = all.get(i);
            int vec = 0;
            if (data != null && data.remaining() > 0) {
                ByteBuffer dst = b.createUnintializedVector(1, data.remaining(), 16); // force_align: 16
                dst.put(data.duplicate());
                vec = b.endVector();
            }
            b.startTable(BUFFER_FIELDS);
            if (vec != 0) {
                b.addOffset(BUFFER_DATA, vec, 0);
            }
            bufferOffsets[i] = b.endTable();
        }
        int buffersVec = b.createVectorOfTables(bufferOffsets);

        int[] tensorOffsets = new int[tensors.size()];
        for (int i = 0; i < tensors.size(); i++) {
            tensorOffsets[i] = tensor(b, tensors.get(i));
        }
        int[] opOffsets = new int[operators.size()];
        for (int i = 0; i < operators.size(); i++) {
            opOffsets[i] = operator(b, operators.get(i));
        }
        int tensorsVec = b.createVectorOfTables(tensorOffsets);
        int inVec = intVector(b, inputs.stream().mapToInt(Integer::intValue).toArray());
        int outVec = intVector(b, outputs.stream().mapToInt(Integer::intValue).toArray());
        int opsVec = b.createVectorOfTables(opOffsets);
        int sgName = b.createString("main");
        b.startTable(SUBGRAPH_FIELDS);
        b.addOffset(SUBGRAPH_TENSORS, tensorsVec, 0);
        b.addOffset(SUBGRAPH_INPUTS, inVec, 0);
        b.addOffset(SUBGRAPH_OUTPUTS, outVec, 0);
        b.addOffset(SUBGRAPH_OPERATORS, opsVec, 0);
        b.addOffset(SUBGRAPH_NAME, sgName, 0);
        int subgraph = b.endTable();
        int subgraphsVec = b.createVectorOfTables(new int[] {subgraph});

        int[] codeOffsets = new int[opcodes.size()];
        for (Map.Entry<Integer, int[]> e : opcodes.entrySet()) {
            int builtin = e.getKey();
            b.startTable(OPCODE_FIELDS);
            b.addByte(OPCODE_DEPRECATED_BUILTIN_CODE,
                    (byte) Math.min(builtin, PLACEHOLDER_FOR_GREATER_OP_CODES), 0);
            b.addInt(OPCODE_VERSION, e.getValue()[1], 1);
            b.addInt(OPCODE_BUILTIN_CODE, builtin, 0);
            codeOffsets[e.getValue()[0]] = b.endTable();
        }
        int codesVec = b.createVectorOfTables(codeOffsets);

        int[] metaOffsets = new int[metadata.size()];
        int m = 0;
        for (String name : metadata.keySet()) {
            int n = b.createString(name);
            b.startTable(METADATA_FIELDS);
            b.addOffset(METADATA_NAME, n, 0);
            b.addInt(METADATA_BUFFER, metaRefs.get(m)[0], 0);
            metaOffsets[m++] = b.endTable();
        }
        int metaVec = b.createVectorOfTables(metaOffsets);

        int sigIns = tensorMaps(b, inputNames, inputs);
        int sigOuts = tensorMaps(b, outputNames, outputs);
        int key = b.createString(signatureKey);
        b.startTable(SIGNATURE_FIELDS);
        b.addOffset(SIGNATURE_INPUTS, sigIns, 0);
        b.addOffset(SIGNATURE_OUTPUTS, sigOuts, 0);
        b.addOffset(SIGNATURE_KEY, key, 0);
        b.addInt(SIGNATURE_SUBGRAPH_INDEX, 0, 0);
        int sig = b.endTable();
        int sigVec = b.createVectorOfTables(new int[] {sig});

        int desc = b.createString(description);
        b.startTable(MODEL_FIELDS);
        b.addInt(MODEL_VERSION, SCHEMA_VERSION, 0);
        b.addOffset(MODEL_OPERATOR_CODES, codesVec, 0);
        b.addOffset(MODEL_SUBGRAPHS, subgraphsVec, 0);
        b.addOffset(MODEL_DESCRIPTION, desc, 0);
        b.addOffset(MODEL_BUFFERS, buffersVec, 0);
        b.addOffset(MODEL_METADATA, metaVec, 0);
        b.addOffset(MODEL_SIGNATURE_DEFS, sigVec, 0);
        int model = b.endTable();
        b.finish(model, FILE_IDENTIFIER);
        return b.sizedByteArray();
    }

    private static int tensor(FlatBufferBuilder b, TensorSpec t) {
        int shape = t.shape() == null ? intVector(b, new int[0]) : intVector(b, t.shape());
        int signature = t.signature() == null ? 0 : intVector(b, t.signature());
        int name = b.createString(t.name());
        int quant = t.quantization() == null ? 0 : quantization(b, t.quantization());
        b.startTable(TENSOR_FIELDS);
        b.addOffset(TENSOR_SHAPE, shape, 0);
        b.addByte(TENSOR_TYPE, t.type(), 0);
        b.addInt(TENSOR_BUFFER, t.buffer(), 0);
        b.addOffset(TENSOR_NAME, name, 0);
        if (quant != 0) {
            b.addOffset(TENSOR_QUANTIZATION, quant, 0);
        }
        if (signature != 0) {
            b.addOffset(TENSOR_SHAPE_SIGNATURE, signature, 0);
        }
        b.addBoolean(TENSOR_HAS_RANK, t.shape() != null, false);
        return b.endTable();
    }

    private static int quantization(FlatBufferBuilder b, Quantization q) {
        b.startVector(4, q.scale().length, 4);
        for (int i = q.scale().length - 1; i >= 0; i--) {
            b.addFloat(q.scale()[i]);
        }
        int scale = b.endVector();
        b.startVector(8, q.zeroPoint().length, 8);
        for (int i = q.zeroPoint().length - 1; i >= 0; i--) {
            b.addLong(q.zeroPoint()[i]);
        }
        int zero = b.endVector();
        b.startTable(QUANT_FIELDS);
        b.addOffset(QUANT_SCALE, scale, 0);
        b.addOffset(QUANT_ZERO_POINT, zero, 0);
        b.addInt(QUANT_QUANTIZED_DIMENSION, Math.max(0, q.dimension()), 0);
        return b.endTable();
    }

    private static int operator(FlatBufferBuilder b, Op op) {
        int in = intVector(b, op.inputs);
        int out = intVector(b, op.outputs);
        int options = op.options.type() == 0 ? 0 : op.options.writer().applyAsInt(b);
        b.startTable(OPERATOR_FIELDS);
        b.addInt(OPERATOR_OPCODE_INDEX, op.opcode, 0);
        b.addOffset(OPERATOR_INPUTS, in, 0);
        b.addOffset(OPERATOR_OUTPUTS, out, 0);
        if (options != 0) {
            b.addByte(OPERATOR_BUILTIN_OPTIONS_TYPE, op.options.type(), 0);
            b.addOffset(OPERATOR_BUILTIN_OPTIONS, options, 0);
        }
        return b.endTable();
    }

    private static int tensorMaps(FlatBufferBuilder b, List<String> names, List<Integer> indices) {
        int[] maps = new int[names.size()];
        for (int i = 0; i < maps.length; i++) {
            int n = b.createString(names.get(i));
            b.startTable(TENSORMAP_FIELDS);
            b.addOffset(TENSORMAP_NAME, n, 0);
            b.addInt(TENSORMAP_TENSOR_INDEX, indices.get(i), 0);
            maps[i] = b.endTable();
        }
        return b.createVectorOfTables(maps);
    }

    static int intVector(FlatBufferBuilder b, int[] values) {
        b.startVector(4, values.length, 4);
        for (int i = values.length - 1; i >= 0; i--) {
            b.addInt(values[i]);
        }
        return b.endVector();
    }

    /** The metadata value TFLite tools read for "min_runtime_version": the text, zero-padded to 16 bytes. */
    static byte[] runtimeVersion(String v) {
        byte[] text = v.getBytes(StandardCharsets.US_ASCII);
        byte[] out = new byte[Math.max(16, text.length + 1)];
        System.arraycopy(text, 0, out, 0, text.length);
        return out;
    }
}
