package dev.kiln.tensorflow;

import dev.kiln.eval.TensorComparison;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.tensorflow.Output;
import org.tensorflow.proto.AttrValue;
import org.tensorflow.proto.DataType;
import org.tensorflow.proto.GraphDef;
import org.tensorflow.proto.MetaGraphDef;
import org.tensorflow.proto.NodeDef;
import org.tensorflow.proto.SavedModel;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * An embedding lookup as TF2 Keras saves it: ResourceGather on a resource variable (VarHandleOp), not a GatherV2 of a
 * ReadVariableOp. Made by rewriting a TF1-style model built with TF Java (its VariableV2 becomes a VarHandleOp of the
 * same checkpoint key, its GatherV2 a ResourceGather); the unrewritten model is the oracle.
 */
class ResourceGatherTest {
    @TempDir
    Path tmp;

    /** ids int32 [-1,3] → GatherV2(emb [10,4], ids) → Mean over the 3 ids → "pooled" [-1,4]. */
    private Path embeddingModel() {
        float[] table = new float[40];
        for (int i = 0; i < table.length; i++) {
            table[i] = (float) Math.sin(i * 0.7);
        }
        return ExampleModels.build(tmp.resolve("embedding"), b -> {
            Output<?> ids = b.ob("Placeholder", "ids").setAttr("dtype", DataType.DT_INT32)
                    .setAttr("shape", org.tensorflow.ndarray.Shape.of(-1, 3)).build().output(0);
            Output<?> emb = b.variable("emb", Shape.of(10, 4), table);
            Output<?> rows = b.ob("GatherV2", "lookup").addInput(emb).addInput(ids)
                    .addInput(b.constInt("lookup/axis", 0)).setAttr("Tparams", DataType.DT_FLOAT)
                    .setAttr("Tindices", DataType.DT_INT32).setAttr("Taxis", DataType.DT_INT32).build().output(0);
            Output<?> pooled = b.ob("Mean", "pooled").addInput(rows).addInput(b.constInt("pooled/axis", 1))
                    .setAttr("T", DataType.DT_FLOAT).setAttr("Tidx", DataType.DT_INT32).build().output(0);
            b.input("ids", ids);
            b.output("pooled", pooled);
        });
    }

    /** A copy of {@code model} whose "emb" is a resource variable read by ResourceGather. */
    private Path asResourceGather(Path model) throws IOException {
        Path dst = tmp.resolve("resource");
        KerasLstmModels.copy(model, dst);
        SavedModel sm = SavedModel.parseFrom(Files.readAllBytes(model.resolve("saved_model.pb")));
        MetaGraphDef mg = sm.getMetaGraphs(0);
        GraphDef.Builder g = mg.getGraphDef().toBuilder();
        for (NodeDef.Builder n : g.getNodeBuilderList()) {
            if (n.getName().equals("emb")) {
                NodeDef.Builder h = NodeDef.newBuilder().setName("emb").setOp("VarHandleOp")
                        .putAttr("dtype", n.getAttrOrThrow("dtype")).putAttr("shape", n.getAttrOrThrow("shape"))
                        .putAttr("shared_name", AttrValue.newBuilder().setS(com.google.protobuf.ByteString
                                .copyFromUtf8("emb")).build())
                        .putAttr("container", AttrValue.newBuilder().setS(com.google.protobuf.ByteString.EMPTY)
                                .build());
                n.clear().mergeFrom(h.build());
            } else if (n.getName().equals("lookup")) {
                NodeDef.Builder r = NodeDef.newBuilder().setName("lookup").setOp("ResourceGather").addInput("emb")
                        .addInput(n.getInput(1)).putAttr("dtype", AttrValue.newBuilder().setType(DataType.DT_FLOAT)
                                .build()).putAttr("Tindices", n.getAttrOrThrow("Tindices"))
                        .putAttr("batch_dims", AttrValue.newBuilder().setI(0).build())
                        .putAttr("validate_indices", AttrValue.newBuilder().setB(true).build());
                n.clear().mergeFrom(r.build());
            }
        }
        SavedModel edited = sm.toBuilder().setMetaGraphs(0, mg.toBuilder().setGraphDef(g)).build();
        try (OutputStream out = Files.newOutputStream(dst.resolve("saved_model.pb"))) {
            edited.writeTo(out);
        }
        return dst;
    }

    @Test
    void aResourceGatherOfAVariableFreezesToAGatherOfItsValue() throws IOException {
        Path original = embeddingModel();
        Path resource = asResourceGather(original);
        Graph g = TfImporter.load(resource);
        assertFalse(g.opHistogram().containsKey("ResourceGather"), g.opHistogram().toString());
        assertFalse(g.opHistogram().containsKey("VarHandleOp"), g.opHistogram().toString());
        assertEquals(1, g.opHistogram().get("GatherV2"));

        Tensor ids = Tensor.ofInts(Shape.of(4, 3), 0, 1, 2, 9, 9, 9, 3, 5, 7, 4, 0, 8);
        Tensor expected;
        try (TfRunner tf = TfRunner.open(original, ImportOptions.defaults())) {
            expected = tf.run(Map.of("ids", ids)).get("pooled");
        }
        try (TfRunner tf = TfRunner.of(g)) {
            Tensor got = tf.run(Map.of("ids", ids)).get("pooled");
            assertTrue(TensorComparison.compare(expected, got).within(0), "the frozen lookup differs");
        }
        // and what Kiln writes TensorFlow runs
        Path out = tmp.resolve("exported");
        TfExporter.writeSavedModel(g, out);
        try (TfRunner tf = TfRunner.open(out, ImportOptions.defaults())) {
            assertTrue(TensorComparison.compare(expected, tf.run(Map.of("ids", ids)).get("pooled")).within(0));
        }
    }
}
