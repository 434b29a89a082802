package dev.kiln.tensorflow;

import dev.kiln.graph.Shape;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.SavedModel;
import org.tensorflow.proto.TensorShapeProto;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * Models derived from the shared Keras LSTM SavedModel ({@code tfnet_keras_lstm_from_sequential}: LSTM(32) over
 * [?,5,3], then Dense(1)), for tests of several modules (kiln-tensorflow's test-jar).
 */
public final class KerasLstmModels {
    public static final String SHARED_NAME = "tfnet_keras_lstm_from_sequential";

    private KerasLstmModels() {
    }

    /** The shared model's directory (it may be absent: check with {@link Files#isDirectory}). */
    public static Path shared() {
        return RoundTrip.sharedModels().resolve(SHARED_NAME);
    }

    /**
     * A copy of the shared LSTM whose input takes any number of time steps, as if Keras had traced it with
     * {@code Input(shape=(None, 3))}: the placeholder's and signature's shapes say [?,?,3], and the traced shapes
     * TensorFlow's importer would trust ({@code _output_shapes}, argument attributes, with the 5 steps of the trace)
     * are gone. Keras's loop reads its length from the input's shape at run time, so TensorFlow runs it at any length.
     */
    public static Path anyLength(Path original, Path to) throws IOException {
        Path m = copy(original, to);
        TensorShapeProto any = GraphDefs.toProto(Shape.of(-1, -1, 3));
        SavedModel.Builder sm = SavedModel.parseFrom(Files.readAllBytes(m.resolve("saved_model.pb"))).toBuilder();
        var mg = sm.getMetaGraphsBuilder(0);
        var gd = mg.getGraphDefBuilder();
        for (int i = 0; i < gd.getNodeCount(); i++) {
            NodeDef n = gd.getNode(i);
            if (n.getName().equals("serving_default_input_1")) {
                gd.setNode(i, n.toBuilder().putAttr("shape", org.tensorflow.proto.AttrValue.newBuilder().setShape(any)
                        .build()).removeAttr("_output_shapes"));
            }
        }
        for (int i = 0; i < gd.getNodeCount(); i++) {
            gd.setNode(i, gd.getNode(i).toBuilder().removeAttr("_output_shapes"));
        }
        var lib = gd.getLibraryBuilder();
        for (int f = 0; f < lib.getFunctionCount(); f++) {
            var fn = lib.getFunctionBuilder(f);
            for (int i = 0; i < fn.getNodeDefCount(); i++) {
                fn.setNodeDef(i, fn.getNodeDef(i).toBuilder().removeAttr("_output_shapes"));
            }
            fn.clearArgAttr();
        }
        var sig = mg.getSignatureDefOrThrow("serving_default").toBuilder();
        sig.putInputs("input_1", sig.getInputsOrThrow("input_1").toBuilder().setTensorShape(any).build());
        mg.putSignatureDef("serving_default", sig.build());
        Files.write(m.resolve("saved_model.pb"), sm.build().toByteArray());
        return m;
    }

    /** A recursive copy of a model directory (any model's: the tests that edit a copy share it). */
    public static Path copy(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.sorted().toList()) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else {
                    Files.copy(p, t);
                }
            }
        }
        return to;
    }
}
