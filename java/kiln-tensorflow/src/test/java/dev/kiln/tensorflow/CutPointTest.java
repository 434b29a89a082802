package dev.kiln.tensorflow;

import dev.kiln.KilnException;
import dev.kiln.eval.RandomInputs;
import dev.kiln.eval.TensorComparison;
import dev.kiln.graph.DType;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorType;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.proto.GraphDef;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A frozen graph with a string front end (the shape of a keyword-spotting graph: decode → features → Reshape_1 → conv
 * → softmax), cut at an inner tensor the way tf2onnx users cut it: {@code --inputs Reshape_1:0[1,8]}.
 */
class CutPointTest {
    @TempDir
    Path tmp;

    /** TensorFlow on the whole original graph, fed at the inner tensor. */
    private static Tensor original(Path pb, String feed, Tensor x) throws IOException {
        try (org.tensorflow.Graph g = new org.tensorflow.Graph()) {
            g.importGraphDef(GraphDef.parseFrom(Files.readAllBytes(pb)));
            try (Session s = new Session(g); org.tensorflow.Tensor in = TfTensors.toTf(x);
                 Result r = s.runner().feed(feed, in).fetch("labels_softmax:0").run()) {
                return TfTensors.fromTf(r.get(0));
            }
        }
    }

    private static ImportOptions cut(String input, Map<String, Shape> shapes) {
        return ImportOptions.builder().inputNames(List.of(input)).outputNames(List.of("labels_softmax"))
                .inputShapes(shapes).build();
    }

    @Test
    void aCutAtAnInnerTensorTakesItsInferredTypeAndShape() throws IOException {
        Path pb = FrozenGraphExamples.stringFrontEnd(tmp.resolve("kws.pb"), false);
        Graph g = TfImporter.load(pb, cut("Reshape_1", Map.of()));
        assertEquals(new TensorType(DType.FLOAT, Shape.of(1, 8)), g.inputs().get(0).type());
        Tensor x = RandomInputs.forSignature(g.inputs(), 11, 1).get("Reshape_1");
        try (TfRunner r = TfRunner.of(g)) {
            Tensor got = r.run(Map.of("Reshape_1", x)).get("labels_softmax");
            assertTrue(TensorComparison.compare(original(pb, "Reshape_1:0", x), got).within(1e-6));
        }
    }

    @Test
    void anInnerTensorOfUnknownRankNeedsAShapeAndTheMessageShowsHowToGiveIt() throws IOException {
        Path pb = FrozenGraphExamples.stringFrontEnd(tmp.resolve("kws_dynamic.pb"), true);
        KilnException e = assertThrows(KilnException.class, () -> TfImporter.load(pb, cut("Reshape_1", Map.of())));
        assertTrue(e.getMessage().contains("'Reshape_1'") && e.getMessage().contains("--inputs Reshape_1[")
                && e.getMessage().contains(pb.toString()), e.getMessage());

        ImportOptions.TensorSpec spec = ImportOptions.parseTensorSpec("Reshape_1:0[1,8]");
        assertEquals("Reshape_1:0", spec.name());
        Graph g = TfImporter.load(pb, cut(spec.name(), Map.of(spec.name(), spec.shape())));
        assertEquals(Shape.of(1, 8), g.inputs().get(0).type().shape());
        Tensor x = RandomInputs.forSignature(g.inputs(), 12, 1).values().iterator().next();
        try (TfRunner r = TfRunner.of(g)) {
            Tensor got = r.run(Map.of(g.inputs().get(0).name(), x)).get("labels_softmax");
            assertTrue(TensorComparison.compare(original(pb, "Reshape_1:0", x), got).within(1e-6));
        }
        KilnException notAnInput = assertThrows(dev.kiln.KilnArgumentException.class, () -> TfImporter.load(pb,
                cut("Reshape_1", Map.of("image", Shape.of(1, 2, 4, 1)))));
        assertTrue(notAnInput.getMessage().contains("'image'"), notAnInput.getMessage());
        KilnException contradicts = assertThrows(dev.kiln.KilnArgumentException.class, () -> TfImporter.load(
                FrozenGraphExamples.stringFrontEnd(tmp.resolve("kws.pb"), false), cut("Reshape_1", Map.of("Reshape_1", Shape.of(1, 9)))));
        assertTrue(contradicts.getMessage().contains("[1,9]") && contradicts.getMessage().contains("[1,8]"),
                contradicts.getMessage());
    }

    @Test
    void aStringInputIsDescribedButNotImported() throws IOException {
        Path pb = FrozenGraphExamples.stringFrontEnd(tmp.resolve("kws.pb"), false);
        ModelDescription d = TfImporter.describe(pb);
        ModelDescription.TensorInfo wav = d.metaGraphs().get(0).signatures().get(0).inputs().get(0);
        assertEquals("wav", wav.name());
        assertEquals(DType.STRING, wav.type().dtype());
        assertEquals(List.of("labels_softmax"), d.metaGraphs().get(0).signatures().get(0).outputs().stream()
                .map(ModelDescription.TensorInfo::name).toList());
        KilnException e = assertThrows(KilnException.class, () -> TfImporter.load(pb));
        assertTrue(e.getMessage().contains("'wav'") && e.getMessage().contains("string"), e.getMessage());
        assertEquals(1, TfImporter.fileOpHistogram(pb, java.util.Set.of("serve")).get("StringToNumber"));
    }

    @Test
    void badShapeSyntaxIsAClearError() {
        assertThrows(dev.kiln.KilnArgumentException.class, () -> ImportOptions.parseTensorSpec("x[1,a]"));
        assertThrows(dev.kiln.KilnArgumentException.class, () -> ImportOptions.parseTensorSpec("x[1,2"));
        assertEquals(Shape.of(-1, 28, 28, 1), ImportOptions.parseTensorSpec("x[?,28,28,1]").shape());
    }
}
