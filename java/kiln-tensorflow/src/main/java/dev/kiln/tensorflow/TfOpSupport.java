package dev.kiln.tensorflow;

import dev.kiln.KilnException;
import org.tensorflow.TensorFlow;
import org.tensorflow.proto.OpDef;
import org.tensorflow.proto.OpList;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;

/**
 * Which ops TensorFlow knows: an op can be written back into a TF SavedModel or frozen graph (and run by TF Java)
 * exactly when it is in the registry of the TensorFlow library that TF Java loads.
 *
 * <p>The registry is read from a copy bundled with Kiln ({@value #REGISTRY_RESOURCE}: every OpDef of that library,
 * descriptions left out), so that importing a model needs no native TensorFlow; {@code TfOpRegistryTest} checks that
 * the copy equals the loaded library's registry and {@link #main} writes it anew after a TF Java upgrade.
 */
public final class TfOpSupport {
    static final String REGISTRY_RESOURCE = "tf-op-registry.pb.gz";
    private static volatile Map<String, OpDef> registry;

    /**
     * Ops that encode control flow (graph-mode v1 and functional v2): the import lowers the functional ones of a
     * static extent ({@link ControlFlowLowering}) and refuses whatever is left.
     */
    static final Set<String> CONTROL_FLOW = Set.of("While", "StatelessWhile", "If", "StatelessIf", "Case",
            "StatelessCase", "Enter", "Exit", "Switch", "Merge", "NextIteration", "LoopCond", "RefEnter", "RefExit",
            "RefSwitch", "RefMerge", "RefNextIteration");

    private TfOpSupport() {
    }

    /** Whether TensorFlow's registry has {@code op}, i.e. it can be exported as a SavedModel / frozen graph. */
    public static boolean canExportToSavedModel(String op) {
        return opDef(op) != null;
    }

    /** Whether TensorFlow's registry has {@code op}. */
    public static boolean isRegistered(String op) {
        return opDef(op) != null;
    }

    /** Whether {@code op} is control flow (While/If/Case, v1 loops, TensorList ops): none may reach an exporter. */
    public static boolean isControlFlow(String op) {
        return CONTROL_FLOW.contains(op) || op.startsWith("TensorList");
    }

    /** TensorFlow's definition of {@code op}, or null when it is not registered. */
    public static OpDef opDef(String op) {
        Map<String, OpDef> r = registry;
        if (r == null) {
            synchronized (TfOpSupport.class) {
                if (registry == null) {
                    Map<String, OpDef> m = new HashMap<>();
                    for (OpDef d : bundledRegistry().getOpList()) {
                        m.put(d.getName(), d);
                    }
                    registry = m;
                }
                r = registry;
            }
        }
        return r.get(op);
    }

    /** Attribute {@code name} of {@code nd}, else the default {@code def} gives it; null when neither has one. */
    public static org.tensorflow.proto.AttrValue attrOrDefault(org.tensorflow.proto.NodeDef nd, OpDef def,
                                                              String name) {
        org.tensorflow.proto.AttrValue v = nd.getAttrMap().get(name);
        return v != null ? v : defaultAttr(def, name);
    }

    /** The default {@code def} gives attribute {@code name}; null when it has none. */
    public static org.tensorflow.proto.AttrValue defaultAttr(OpDef def, String name) {
        if (def != null) {
            for (OpDef.AttrDef a : def.getAttrList()) {
                if (a.getName().equals(name) && a.hasDefaultValue()) {
                    return a.getDefaultValue();
                }
            }
        }
        return null;
    }

    /** The bundled copy of TensorFlow's op registry. */
    static OpList bundledRegistry() {
        try (InputStream in = TfOpSupport.class.getResourceAsStream(REGISTRY_RESOURCE)) {
            if (in == null) {
                throw KilnException.internal("resource " + REGISTRY_RESOURCE + " is missing from kiln-tensorflow", null);
            }
            return OpList.parseFrom(new GZIPInputStream(in));
        } catch (IOException e) {
            throw KilnException.internal("cannot read " + REGISTRY_RESOURCE + ": " + e.getMessage(), e);
        }
    }

    /**
     * The registry of the TensorFlow library TF Java loads, sorted by op name, without the documentation the bundled
     * copy leaves out.
     */
    static OpList liveRegistry() {
        OpList.Builder b = OpList.newBuilder();
        List<OpDef> ops = new ArrayList<>(TensorFlow.registeredOpList().getOpList());
        ops.sort(Comparator.comparing(OpDef::getName));
        for (OpDef d : ops) {
            OpDef.Builder x = d.toBuilder().clearDescription().clearSummary();
            x.getInputArgBuilderList().forEach(OpDef.ArgDef.Builder::clearDescription);
            x.getOutputArgBuilderList().forEach(OpDef.ArgDef.Builder::clearDescription);
            x.getAttrBuilderList().forEach(OpDef.AttrDef.Builder::clearDescription);
            b.addOp(x);
        }
        return b.build();
    }

    /** Writes the loaded library's registry as the bundled copy: {@code main src/main/resources/dev/kiln/tensorflow}. */
    public static void main(String[] args) throws IOException {
        Path out = Path.of(args[0]).resolve(REGISTRY_RESOURCE);
        try (OutputStream o = new GZIPOutputStream(Files.newOutputStream(out))) {
            liveRegistry().writeTo(o);
        }
        System.out.println("wrote " + out);
    }
}
