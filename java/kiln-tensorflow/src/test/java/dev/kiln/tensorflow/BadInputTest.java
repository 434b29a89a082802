package dev.kiln.tensorflow;

import dev.kiln.ErrorCode;
import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;
import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.Shape;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.graph.TensorType;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.FunctionDef;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.NameAttrList;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.OpDef;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Bad input: each a KilnException naming the file/node/tensor, no stack trace in the message, nothing written. */
class BadInputTest {
    @TempDir
    static Path shared;
    static Path good;

    @TempDir
    Path tmp;

    @BeforeAll
    static void writeGoodModel() {
        good = ExampleModels.twoInputs(shared.resolve("good"));
    }

    private Path copyOfGood() throws IOException {
        Path dst = tmp.resolve("copy");
        KerasLstmModels.copy(good, dst);
        return dst;
    }

    private static KilnException fails(Path model, ImportOptions o, ErrorCode code, String... fragments) {
        return NotRunnableModelsTest.importFails(model, o, code, fragments);
    }

    private void assertNothingWrittenBeside(Path target) throws IOException {
        assertFalse(Files.exists(target), target + " was written");
        try (Stream<Path> s = Files.list(target.toAbsolutePath().getParent())) {
            List<String> left = s.map(p -> p.getFileName().toString())
                    .filter(n -> n.contains(target.getFileName().toString())).toList();
            assertTrue(left.isEmpty(), "left behind: " + left);
        }
    }

    @Test
    void missingDirectory() {
        Path m = tmp.resolve("no_such_model");
        fails(m, ImportOptions.defaults(), ErrorCode.INVALID_MODEL, "does not exist", m.toString());
        assertThrows(KilnException.class, () -> TfRunner.open(m, ImportOptions.defaults()));
    }

    @Test
    void directoryThatIsNotASavedModel() throws IOException {
        Path d = Files.createDirectories(tmp.resolve("empty"));
        Files.writeString(d.resolve("readme.txt"), "hello");
        fails(d, ImportOptions.defaults(), ErrorCode.INVALID_MODEL, "not a SavedModel", "saved_model.pb",
                "readme.txt");
    }

    @Test
    void textFileIsNotAGraphDef() throws IOException {
        Path f = tmp.resolve("model.pb");
        Files.writeString(f, "this is not a protobuf at all, just some text\n");
        KilnException e = assertThrows(KilnException.class, () -> TfImporter.load(f));
        assertEquals(ErrorCode.INVALID_MODEL, e.code());
        assertTrue(e.getMessage().contains(f.toString()), e.getMessage());
    }

    @Test
    void truncatedSavedModelPb() throws IOException {
        Path m = copyOfGood();
        Path pb = m.resolve("saved_model.pb");
        byte[] b = Files.readAllBytes(pb);
        Files.write(pb, java.util.Arrays.copyOf(b, b.length / 2));
        fails(m, ImportOptions.defaults(), ErrorCode.INVALID_MODEL, pb.toString());
    }

    @Test
    void garbageSavedModelPb() throws IOException {
        Path m = copyOfGood();
        Path pb = m.resolve("saved_model.pb");
        byte[] junk = new byte[4096];
        new Random(7).nextBytes(junk);
        Files.write(pb, junk);
        fails(m, ImportOptions.defaults(), ErrorCode.INVALID_MODEL, pb.toString());
    }

    @Test
    void missingVariablesShard() throws IOException {
        Path m = copyOfGood();
        Files.delete(m.resolve("variables/variables.data-00000-of-00001"));
        fails(m, ImportOptions.defaults(), ErrorCode.INVALID_MODEL, "missing variables data",
                "variables.data-00000-of-00001");
        // the graph alone still imports
        assertTrue(TfImporter.load(m, ImportOptions.builder().loadWeights(false).build()).size() > 0);
    }

    @Test
    void missingVariablesIndex() throws IOException {
        Path m = copyOfGood();
        Files.delete(m.resolve("variables/variables.index"));
        fails(m, ImportOptions.defaults(), ErrorCode.INVALID_MODEL, "missing variables data", "variables.index");
    }

    @Test
    void truncatedVariablesShard() throws IOException {
        Path m = copyOfGood();
        Path shard = m.resolve("variables/variables.data-00000-of-00001");
        byte[] b = Files.readAllBytes(shard);
        Files.write(shard, java.util.Arrays.copyOf(b, b.length / 3));
        fails(m, ImportOptions.defaults(), ErrorCode.INVALID_MODEL, "variables", m.toString());
    }

    @Test
    void unknownTagListsAvailableTagSets() {
        fails(good, ImportOptions.builder().tags("gpu").build(), ErrorCode.INVALID_MODEL, "[gpu]", "[serve]");
    }

    @Test
    void unknownSignatureListsAvailableSignatures() {
        fails(good, ImportOptions.builder().signature("predict").build(), ErrorCode.INVALID_MODEL, "'predict'",
                "serving_default");
        assertThrows(KilnException.class, () -> TfRunner.open(good, ImportOptions.builder().signature("x").build()));
    }

    // ---- crafted GraphDefs ----

    private static AttrValue type(DataType t) {
        return AttrValue.newBuilder().setType(t).build();
    }

    private static NodeDef placeholder(String name, DataType t) {
        return NodeDef.newBuilder().setName(name).setOp("Placeholder").putAttr("dtype", type(t)).build();
    }

    private static NodeDef unary(String name, String op, String input) {
        return NodeDef.newBuilder().setName(name).setOp(op).addInput(input).putAttr("T", type(DataType.DT_FLOAT))
                .build();
    }

    private Path write(GraphDef gd) throws IOException {
        Path f = tmp.resolve("crafted.pb");
        Files.write(f, gd.toByteArray());
        return f;
    }

    @Test
    void unknownOpNamesOpNodeAndDependents() throws IOException {
        GraphDef gd = GraphDef.newBuilder().addNode(placeholder("x", DataType.DT_FLOAT))
                .addNode(unary("custom", "KilnMadeUpOp", "x")).addNode(unary("after", "Relu", "custom"))
                .addNode(unary("out", "Identity", "after")).build();
        fails(write(gd), ImportOptions.defaults(), ErrorCode.UNSUPPORTED, "KilnMadeUpOp", "'custom'", "after", "out");
    }

    @Test
    void whileWithoutItsFunctionsIsNamed() throws IOException {
        FunctionDef loop = FunctionDef.newBuilder()
                .setSignature(OpDef.newBuilder().setName("loop_fn")
                        .addInputArg(OpDef.ArgDef.newBuilder().setName("x").setType(DataType.DT_FLOAT))
                        .addOutputArg(OpDef.ArgDef.newBuilder().setName("y").setType(DataType.DT_FLOAT)))
                .addNodeDef(NodeDef.newBuilder().setName("w").setOp("StatelessWhile").addInput("x"))
                .putRet("y", "w:output:0").build();
        NodeDef call = NodeDef.newBuilder().setName("call").setOp("StatefulPartitionedCall").addInput("x")
                .putAttr("f", AttrValue.newBuilder().setFunc(NameAttrList.newBuilder().setName("loop_fn")).build())
                .build();
        GraphDef gd = GraphDef.newBuilder().addNode(placeholder("x", DataType.DT_FLOAT)).addNode(call)
                .addNode(unary("out", "Identity", "call")).setLibrary(
                        org.tensorflow.proto.FunctionDefLibrary.newBuilder().addFunction(loop)).build();
        fails(write(gd), ImportOptions.defaults(), ErrorCode.INVALID_MODEL, "StatelessWhile 'call/w'",
                "no 'cond' function attribute");
    }

    @Test
    void tensorListOfUnknownLengthIsNamed() throws IOException {
        GraphDef gd = GraphDef.newBuilder().addNode(placeholder("x", DataType.DT_FLOAT))
                .addNode(NodeDef.newBuilder().setName("elem_shape").setOp("Const")
                        .putAttr("dtype", type(DataType.DT_INT32)).putAttr("value", AttrValue.newBuilder()
                                .setTensor(GraphDefs.toProto(Tensor.scalar(-1))).build()))
                .addNode(NodeDef.newBuilder().setName("list").setOp("TensorListFromTensor").addInput("x")
                        .addInput("elem_shape").putAttr("element_dtype", type(DataType.DT_FLOAT))
                        .putAttr("shape_type", type(DataType.DT_INT32)))
                .addNode(NodeDef.newBuilder().setName("stack").setOp("TensorListStack").addInput("list")
                        .addInput("elem_shape").putAttr("element_dtype", type(DataType.DT_FLOAT)))
                .addNode(unary("out", "Identity", "stack")).build();
        Path model = write(gd);
        fails(model, ImportOptions.builder().recurrentLayers(RecurrentLayers.UNROLL).build(), ErrorCode.UNSUPPORTED,
                "TensorListFromTensor 'list'", "first dimension is not static");
        // by default such a list is kept as it is, for TensorFlow (and ONNX's Loop lowering) to handle at run time
        dev.kiln.graph.Graph g = TfImporter.load(model, ImportOptions.defaults());
        assertTrue(g.contains("list") && g.contains("stack"), g.opHistogram().toString());
    }

    @Test
    void tf1ControlFlowInTheGraphIsNamed() throws IOException {
        GraphDef gd = GraphDef.newBuilder().addNode(placeholder("x", DataType.DT_FLOAT))
                .addNode(unary("enter", "Enter", "x").toBuilder().putAttr("frame_name", AttrValue.newBuilder()
                        .setS(com.google.protobuf.ByteString.copyFromUtf8("loop")).build()))
                .addNode(unary("out", "Identity", "enter")).build();
        fails(write(gd), ImportOptions.defaults(), ErrorCode.UNSUPPORTED, "unsupported control flow", "'enter'",
                "Enter", "TF1 control flow");
    }

    @Test
    void stringAndResourceInputsAreRefused() throws IOException {
        GraphDef gd = GraphDef.newBuilder().addNode(placeholder("s", DataType.DT_STRING))
                .addNode(NodeDef.newBuilder().setName("n").setOp("StringLength").addInput("s")).build();
        fails(write(gd), ImportOptions.defaults(), ErrorCode.UNSUPPORTED, "'s'", "string-typed");
        GraphDef gr = GraphDef.newBuilder().addNode(placeholder("h", DataType.DT_RESOURCE))
                .addNode(NodeDef.newBuilder().setName("r").setOp("ReadVariableOp").addInput("h")
                        .putAttr("dtype", type(DataType.DT_FLOAT))).build();
        fails(write(gr), ImportOptions.defaults(), ErrorCode.UNSUPPORTED, "'h'", "resource-typed");
    }

    @Test
    void graphDefWithVariablesIsNotFrozen() throws IOException {
        GraphDef gd = GraphDef.newBuilder().addNode(placeholder("x", DataType.DT_FLOAT))
                .addNode(NodeDef.newBuilder().setName("w").setOp("VariableV2").putAttr("dtype", type(DataType.DT_FLOAT))
                        .putAttr("shape", AttrValue.newBuilder().setShape(GraphDefs.toProto(Shape.scalar())).build()))
                .addNode(NodeDef.newBuilder().setName("out").setOp("Mul").addInput("x").addInput("w")
                        .putAttr("T", type(DataType.DT_FLOAT))).build();
        Path f = write(gd);
        fails(f, ImportOptions.defaults(), ErrorCode.UNSUPPORTED, "not frozen", "'w'", "VariableV2");
        assertEquals(3, TfImporter.load(f, ImportOptions.builder().loadWeights(false).build()).size());
    }

    @Test
    void unknownFrozenInputNameListsPlaceholders() throws IOException {
        GraphDef gd = GraphDef.newBuilder().addNode(placeholder("x", DataType.DT_FLOAT))
                .addNode(unary("out", "Relu", "x")).build();
        fails(write(gd), ImportOptions.builder().inputNames(List.of("input")).build(), ErrorCode.INVALID_MODEL,
                "'input'", "placeholders: x");
    }

    // ---- export and run ----

    private static Graph graphWith(String op) {
        Graph g = new Graph();
        TensorType t = TensorType.of(DType.FLOAT, -1, 2);
        g.add(Node.builder("x", "Placeholder").attr("dtype", DType.FLOAT).outputType(t).build());
        g.add(Node.builder("y", op).input("x").attr("T", DType.FLOAT).outputType(t).build());
        g.addInput(new SignatureTensor("x", TensorRef.of("x", 0), t));
        g.addOutput(new SignatureTensor("y", TensorRef.of("y", 0), t));
        return g;
    }

    @Test
    void exportOfAnUnknownOpWritesNothing() throws IOException {
        Graph g = graphWith("KilnMadeUpOp");
        Path sm = tmp.resolve("out_sm");
        KilnException e = assertThrows(KilnException.class, () -> TfExporter.writeSavedModel(g, sm));
        assertTrue(e.getMessage().contains("KilnMadeUpOp") && e.getMessage().contains("'y'"), e.getMessage());
        assertNothingWrittenBeside(sm);
        Path pb = tmp.resolve("out.pb");
        assertThrows(KilnException.class, () -> TfExporter.writeFrozenGraph(g, pb));
        assertNothingWrittenBeside(pb);
    }

    @Test
    void exportThatTensorFlowRejectsWritesNothing() throws IOException {
        Graph g = graphWith("Relu");
        // a dangling input: TF rejects the GraphDef
        g.replace(g.node("y").withInputs(List.of("x", "ghost")));
        Path sm = tmp.resolve("bad_sm");
        assertThrows(KilnException.class, () -> TfExporter.writeSavedModel(g, sm));
        assertNothingWrittenBeside(sm);
    }

    @Test
    void exportReplacesAnExistingModelAtomically() throws IOException {
        Graph g = graphWith("Relu");
        Path sm = tmp.resolve("replace_sm");
        TfExporter.writeSavedModel(g, sm);
        TfExporter.writeSavedModel(graphWith("Relu6"), sm);
        try (TfRunner r = TfRunner.open(sm, ImportOptions.defaults())) {
            Map<String, Tensor> out = r.run(Map.of("x", Tensor.ofFloats(Shape.of(1, 2), -1f, 9f)));
            assertEquals(6f, out.get("y").floats()[1]);
        }
        try (Stream<Path> s = Files.list(tmp)) {
            assertEquals(List.of(), s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith(".")).toList());
        }
    }

    @Test
    void runnerNamesMissingAndUnknownInputs() {
        try (TfRunner r = TfRunner.of(graphWith("Relu"))) {
            KilnException e = assertThrows(KilnArgumentException.class, () -> r.run(Map.of("z",
                    Tensor.ofFloats(Shape.of(1, 2), 1, 2))));
            assertTrue(e.getMessage().contains("missing [x]") && e.getMessage().contains("unknown [z]"),
                    e.getMessage());
            KilnException shape = assertThrows(KilnException.class, () -> r.run(Map.of("x",
                    Tensor.ofInts(Shape.of(1, 2), 1, 2))));
            assertFalse(shape.getMessage().contains("\tat "));
        }
    }

    static void deleteTree(Path p) throws IOException {
        try (Stream<Path> s = Files.walk(p)) {
            for (Path x : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(x);
            }
        }
    }
}
