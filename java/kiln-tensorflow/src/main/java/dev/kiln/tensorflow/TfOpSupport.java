package dev.kiln.tensorflow;

import org.tensorflow.TensorFlow;
import org.tensorflow.proto.OpDef;

import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * Which ops TensorFlow knows: an op can be written back into a TF SavedModel or frozen graph (and run by TF Java)
 * exactly when it is in the registry of the TensorFlow library that TF Java loads.
 */
public final class TfOpSupport {
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
                    for (OpDef d : TensorFlow.registeredOpList().getOpList()) {
                        m.put(d.getName(), d);
                    }
                    registry = m;
                }
                r = registry;
            }
        }
        return r.get(op);
    }
}
