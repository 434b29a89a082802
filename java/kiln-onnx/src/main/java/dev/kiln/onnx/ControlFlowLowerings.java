package dev.kiln.onnx;

import dev.kiln.KilnException;
import dev.kiln.graph.AttrValue;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.graph.TensorType;
import dev.kiln.onnx.OnnxEmitter.Layout;
import dev.kiln.onnx.OnnxEmitter.Val;
import dev.kiln.onnx.proto.Onnx.GraphProto;
import dev.kiln.onnx.proto.Onnx.ValueInfoProto;

import java.util.ArrayList;
import java.util.List;

import static dev.kiln.onnx.OnnxEmitter.BOOL;
import static dev.kiln.onnx.OnnxEmitter.F32;
import static dev.kiln.onnx.OnnxEmitter.I64;
import static dev.kiln.onnx.OnnxEmitter.attr;

/**
 * Control flow that import kept (a loop of unknown length, an If/Case decided at run time): While becomes ONNX
 * {@code Loop}, If becomes {@code If}, Case a chain of {@code If}s, each with its functions' bodies (the graph's
 * {@link Graph#subgraphs()}) as subgraphs, the way tf2onnx's loop rewriter writes them. TensorLists become tensors: a
 * list made from a tensor is that tensor (read in the body with Gather at the index), a list the loop writes one item
 * per iteration is one of the Loop's scan outputs (stacked by ONNX along a new first axis).
 *
 * <p>Bodies compute in float32 without Q/DQ under every precision (ONNX Runtime's quantizer leaves Loop bodies alone
 * too); what enters and leaves them is cast.
 */
final class ControlFlowLowerings {
    private ControlFlowLowerings() {
    }

    static void register(OnnxLowerings.Table t) {
        for (String op : new String[] {"While", "StatelessWhile"}) {
            t.add(op, "Loop (trip count M for a counted loop, else cond and body as one subgraph; written lists as "
                    + "scan outputs)", 13, ControlFlowLowerings::loop);
        }
        for (String op : new String[] {"If", "StatelessIf"}) {
            t.add(op, "If (branches as subgraphs)", 13, ControlFlowLowerings::ifThenElse);
        }
        for (String op : new String[] {"Case", "StatelessCase"}) {
            t.add(op, "If chain on Equal(index, k); the last branch by default", 13, ControlFlowLowerings::caseOf);
        }
        t.add("TensorListFromTensor", "(the tensor itself; items read by Gather)", 13,
                (e, n) -> e.putList(n, 0, e.get(n.input(0), Layout.NATIVE, -1).name()));
        t.add("TensorListReserve", "(a Loop scan output)", 13, (e, n) -> e.putList(n, 0, null));
        t.add("TensorListGetItem", "Gather(stacked items, index)", 13, ControlFlowLowerings::getItem);
        t.add("TensorListSetItem", "(the item becomes a Loop scan output)", 13, ControlFlowLowerings::setItem);
        t.add("TensorListStack", "(the stacked items: a Loop scan output or the source tensor)", 13,
                ControlFlowLowerings::stack);
    }

    // ---- TensorLists ----

    private static String requireList(OnnxEmitter e, Node n, boolean written) {
        if (!e.isList(n.input(0))) {
            throw KilnException.unsupported("node '" + n.name() + "' (" + n.op() + ") reads '" + n.input(0)
                    + "', which Kiln cannot follow as a TensorList (made by TensorListFromTensor, or written by a loop)");
        }
        String stacked = e.list(n.input(0));
        if (written && stacked == null) {
            throw KilnException.unsupported("node '" + n.name() + "' (" + n.op() + ") reads a TensorList that no loop "
                    + "has written");
        }
        return stacked;
    }

    private static void getItem(OnnxEmitter e, Node n) {
        String stacked = requireList(e, n, true);
        Val index = e.get(n.input(1), Layout.NATIVE, -1);
        TensorType t = e.typeOf(TensorRef.of(n.name(), 0));
        String item = e.add("Gather", n.name(), List.of(stacked, index.name()), attr("axis", 0L));
        e.put(n, 0, new Val(item, Layout.NATIVE, t == null ? F32 : OnnxTensors.onnxType(t.dtype()),
                t == null || !t.shape().hasRank() ? -1 : t.shape().rank()));
    }

    /** Inside a loop body: the list now holds this iteration's item; the While lowering makes it a scan output. */
    private static void setItem(OnnxEmitter e, Node n) {
        if (!e.isList(n.input(0)) || e.list(n.input(0)) != null) {
            throw KilnException.unsupported("node '" + n.name() + "' (TensorListSetItem) writes a list that is not "
                    + "one its loop fills, one item per iteration; Kiln exports that pattern (Keras RNN outputs) only");
        }
        e.putList(n, 0, e.get(n.input(2), Layout.NATIVE, F32).name());
    }

    private static void stack(OnnxEmitter e, Node n) {
        String stacked = requireList(e, n, true);
        TensorType t = e.typeOf(TensorRef.of(n.name(), 0));
        e.put(n, 0, new Val(stacked, Layout.NATIVE, t == null ? F32 : OnnxTensors.onnxType(t.dtype()),
                t == null || !t.shape().hasRank() ? -1 : t.shape().rank()));
    }

    // ---- While ----

    /** What each loop variable is in ONNX: carried from iteration to iteration, a list read, or a list written. */
    private enum Role { CARRIED, READ_LIST, WRITTEN_LIST }

    private static Graph body(OnnxEmitter e, Node n, String attr) {
        Graph b = e.graph().subgraphs().get(n.name() + "/" + attr);
        if (b == null) {
            throw KilnException.unsupported(n.op() + " '" + n.name() + "' has no '" + attr + "' graph: the model was "
                    + "not imported by this version of Kiln's TensorFlow importer");
        }
        return b;
    }

    private static void loop(OnnxEmitter e, Node n) {
        Graph cond = body(e, n, "cond");
        Graph body = body(e, n, "body");
        int vars = n.numDataInputs();
        Role[] roles = new Role[vars];
        String[] outer = new String[vars];
        List<Val> initial = new ArrayList<>();
        for (int k = 0; k < vars; k++) {
            TensorRef in = n.input(k);
            if (e.isList(in)) {
                outer[k] = e.list(in);
                roles[k] = outer[k] == null ? Role.WRITTEN_LIST : Role.READ_LIST;
                initial.add(null);
            } else {
                roles[k] = Role.CARRIED;
                initial.add(floatAsF32(e, e.get(in, Layout.NATIVE, -1)));
            }
        }
        checkWrites(n, body, roles, initial, e);

        // a counted loop (counter < limit) gets its trip count M, known from the input shapes where the limit is (what
        // TensorRT needs for scan outputs); any other loop runs while its condition, computed here first, holds
        int limit = countedLimit(e, n, cond, body, roles);
        String tripCount = "";
        Val go;
        if (limit >= 0) {
            String count = e.castTo(initial.get(limit), I64).name();
            tripCount = e.add("Max", n.name() + "/trip_count", List.of(count,
                    e.init(n.name() + "/no_trips", dev.kiln.graph.Tensor.ofLongs(dev.kiln.graph.Shape.scalar(), 0))));
            go = new Val(e.init(n.name() + "/always", dev.kiln.graph.Tensor.ofBytes(dev.kiln.graph.DType.BOOL,
                    dev.kiln.graph.Shape.scalar(), (byte) 1)), Layout.NATIVE, BOOL, 0);
        } else {
            OnnxEmitter first = e.child(cond);
            bindAll(first, roles, outer, initial);
            go = first.emitBody().get(0);
            e.absorb(first);
        }

        // the body graph: (iteration, condition, carried...) -> (condition, carried..., written items...)
        OnnxEmitter b = e.child(body);
        List<ValueInfoProto> inputs = new ArrayList<>();
        inputs.add(b.scalarSubgraphInput(n.name() + "/iteration", I64));
        inputs.add(b.scalarSubgraphInput(n.name() + "/cond_in", BOOL));
        List<Val> carriedIn = new ArrayList<>();
        for (int k = 0; k < vars; k++) {
            if (roles[k] == Role.CARRIED) {
                ValueInfoProto vi = b.subgraphInput(n.name() + "/var" + k, initial.get(k).type());
                inputs.add(vi);
                carriedIn.add(new Val(vi.getName(), Layout.NATIVE, initial.get(k).type(), initial.get(k).rank()));
            } else {
                carriedIn.add(null);
            }
        }
        bindAll(b, roles, outer, carriedIn);
        List<Val> next = b.emitBody();
        List<Val> nextCarried = new ArrayList<>();
        List<Val> written = new ArrayList<>();
        for (int k = 0; k < vars; k++) {
            if (roles[k] == Role.CARRIED) {
                nextCarried.add(b.castTo(next.get(k), carriedIn.get(k).type()));
            } else if (roles[k] == Role.WRITTEN_LIST) {
                Node set = body.node(throughIdentities(body, body.outputs().get(k).tensor()).node());
                TensorType t = body.typeOf(set.input(2));
                int type = t == null || t.dtype().isFloatingPoint() ? F32 : OnnxTensors.onnxType(t.dtype());
                written.add(new Val(b.list(body.outputs().get(k).tensor()), Layout.NATIVE, type, -1));
            }
        }
        // the condition on the next values, in the body (a counted loop passes its constant true on)
        Val goNext;
        if (limit >= 0) {
            goNext = new Val(inputs.get(1).getName(), Layout.NATIVE, BOOL, 0);
        } else {
            OnnxEmitter again = b.child(cond);
            List<Val> condArgs = new ArrayList<>();
            for (int k = 0; k < vars; k++) {
                condArgs.add(roles[k] == Role.CARRIED ? next.get(k) : null);
            }
            bindAll(again, roles, outer, condArgs);
            goNext = again.emitBody().get(0);
            b.absorb(again);
        }
        List<Val> bodyOuts = new ArrayList<>();
        bodyOuts.add(b.castTo(goNext, BOOL));
        bodyOuts.addAll(nextCarried);
        bodyOuts.addAll(written);
        GraphProto g = b.subgraph(n.name() + "/body", inputs, bodyOuts);

        List<String> loopIns = new ArrayList<>(List.of(tripCount, e.castTo(go, BOOL).name()));
        for (int k = 0; k < vars; k++) {
            if (roles[k] == Role.CARRIED) {
                loopIns.add(initial.get(k).name());
            }
        }
        List<String> outs = e.addMulti("Loop", n.name(), loopIns, nextCarried.size() + written.size(),
                attr("body", g));
        int c = 0;
        int w = nextCarried.size();
        for (int k = 0; k < vars; k++) {
            switch (roles[k]) {
                case CARRIED -> {
                    Val v = nextCarried.get(c);
                    e.put(n, k, new Val(outs.get(c++), Layout.NATIVE, v.type(), v.rank()));
                }
                case READ_LIST -> e.putList(n, k, outer[k]);
                case WRITTEN_LIST -> e.putList(n, k, lastWriteOnly(e, body, k) ? lastRow(e, n, outs.get(w++))
                        : outs.get(w++));
            }
        }
    }

    private static Val floatAsF32(OnnxEmitter e, Val v) {
        return v.type() == OnnxEmitter.F16 ? e.castTo(v, F32) : v;
    }

    private static void bindAll(OnnxEmitter child, Role[] roles, String[] outer, List<Val> values) {
        for (int k = 0; k < roles.length; k++) {
            if (roles[k] == Role.CARRIED) {
                child.bindInput(k, values.get(k));
            } else {
                child.bindListInput(k, roles[k] == Role.READ_LIST ? outer[k] : null);
            }
        }
    }

    /**
     * A list the loop writes must take one item per iteration at the iteration's index (a scan output), or always
     * item 0 of a list of one (Keras's RNN loop without return_sequences: the last write wins); and a list it reads
     * must pass through unchanged.
     */
    private static void checkWrites(Node n, Graph body, Role[] roles, List<Val> initial, OnnxEmitter e) {
        for (int k = 0; k < roles.length; k++) {
            if (roles[k] == Role.CARRIED) {
                continue;
            }
            TensorRef ret = throughIdentities(body, body.outputs().get(k).tensor());
            TensorRef arg = body.inputs().get(k).tensor();
            if (roles[k] == Role.READ_LIST) {
                if (!ret.equals(arg)) {
                    throw KilnException.unsupported("While '" + n.name() + "' changes the TensorList it reads "
                            + "(loop variable " + k + "); Kiln exports loops that only read the lists they are given");
                }
                continue;
            }
            Node set = body.find(ret.node());
            if (set == null || !set.op().equals("TensorListSetItem") || !set.input(0).equals(arg)) {
                throw KilnException.unsupported("While '" + n.name() + "': loop variable " + k + " is a TensorList the "
                        + "body does not write with one TensorListSetItem per iteration");
            }
            if (lastWriteOnly(e, body, k)) {
                continue;
            }
            if (!isIterationCounter(body, set.input(1), n, e)) {
                throw KilnException.unsupported("While '" + n.name() + "' writes its TensorList (loop variable " + k
                        + ") at an index that is not the iteration count; Kiln exports loops that write item i at "
                        + "iteration i (Keras RNN outputs)");
            }
        }
    }

    /** Whether the body writes list variable {@code k} at the constant index 0 (only the last write is kept). */
    private static boolean lastWriteOnly(OnnxEmitter e, Graph body, int k) {
        Node set = body.find(throughIdentities(body, body.outputs().get(k).tensor()).node());
        Tensor index = set == null || set.numDataInputs() < 2 ? null : body.constantValue(set.input(1));
        return index != null && index.numElements() == 1 && index.asLongs()[0] == 0;
    }

    /** Whether {@code index} is a loop variable that starts at 0 and grows by 1 each iteration. */
    private static boolean isIterationCounter(Graph body, TensorRef index, Node loop, OnnxEmitter e) {
        for (int j = 0; j < body.inputs().size(); j++) {
            if (!body.inputs().get(j).tensor().equals(index)) {
                continue;
            }
            Tensor start = e.constOf(loop.input(j));
            Node step = body.find(throughIdentities(body, body.outputs().get(j).tensor()).node());
            if (start == null || start.asLongs()[0] != 0 || step == null
                    || !(step.op().equals("AddV2") || step.op().equals("Add"))) {
                return false;
            }
            TensorRef other = step.input(0).equals(index) ? step.input(1) : step.input(1).equals(index)
                    ? step.input(0) : null;
            Tensor one = other == null ? null : body.constantValue(other);
            return one != null && one.numElements() == 1 && one.asLongs()[0] == 1;
        }
        return false;
    }

    /**
     * The loop variable that bounds a counted loop, or -1: the condition is {@code Less(counter, limit)} (nothing
     * else), the counter starts at 0 and grows by 1 per iteration, and the limit passes through the body unchanged;
     * then the loop runs max(limit, 0) times (Keras's RNN loops: time steps against the length read from the input).
     */
    private static int countedLimit(OnnxEmitter e, Node n, Graph cond, Graph body, Role[] roles) {
        Node less = cond.find(throughIdentities(cond, cond.outputs().get(0).tensor()).node());
        if (less == null || !less.op().equals("Less") || less.numDataInputs() != 2) {
            return -1;
        }
        int counter = argIndex(cond, less.input(0));
        int limit = argIndex(cond, less.input(1));
        if (counter < 0 || limit < 0 || roles[counter] != Role.CARRIED || roles[limit] != Role.CARRIED
                || !throughIdentities(body, body.outputs().get(limit).tensor()).equals(body.inputs().get(limit)
                .tensor()) || !isIterationCounter(body, body.inputs().get(counter).tensor(), n, e)) {
            return -1;
        }
        return limit;
    }

    /** Which argument of {@code fn} {@code r} is, or -1. */
    private static int argIndex(Graph fn, TensorRef r) {
        for (int i = 0; i < fn.inputs().size(); i++) {
            if (fn.inputs().get(i).tensor().equals(r)) {
                return i;
            }
        }
        return -1;
    }

    /** {@code r} or, where it is the output of Identity nodes, the tensor they pass on. */
    private static TensorRef throughIdentities(Graph g, TensorRef r) {
        TensorRef cur = r;
        for (int i = 0; i < 100; i++) {
            Node n = g.find(cur.node());
            if (n == null || !n.op().equals("Identity") || n.numDataInputs() != 1) {
                return cur;
            }
            cur = n.input(0);
        }
        return cur;
    }

    /** The last row of a scan output, kept as a stack of one ([1, ...]). */
    private static String lastRow(OnnxEmitter e, Node n, String scan) {
        return e.add("Slice", n.name() + "/last_write", List.of(scan, e.initLongs(n.name() + "/last_start", -1),
                e.initLongs(n.name() + "/last_end", Long.MAX_VALUE), e.initLongs(n.name() + "/last_axes", 0)));
    }

    // ---- If and Case ----

    private static void ifThenElse(OnnxEmitter e, Node n) {
        Val c = e.get(n.input(0), Layout.NATIVE, -1);
        String cond = c.type() == BOOL ? c.name() : e.castTo(c, BOOL).name();
        List<Val> args = arguments(e, n);
        GraphProto then = branch(e, n, body(e, n, "then_branch"), args, "then");
        GraphProto otherwise = branch(e, n, body(e, n, "else_branch"), args, "else");
        putOutputs(e, n, e.addMulti("If", n.name(), List.of(cond), then.getOutputCount(), attr("then_branch", then),
                attr("else_branch", otherwise)), then);
    }

    /** Case: branch k where the index equals k, the last branch for any other index (TensorFlow's default). */
    private static void caseOf(OnnxEmitter e, Node n) {
        if (!(n.attrs().get("branches") instanceof AttrValue.ListFunc l) || l.values().isEmpty()) {
            throw KilnException.invalidModel("Case '" + n.name() + "' has no branches");
        }
        Val index = e.get(n.input(0), Layout.NATIVE, -1);
        List<Val> args = arguments(e, n);
        int last = l.values().size() - 1;
        if (last == 0) { // one branch: taken whatever the index
            OnnxEmitter only = e.child(body(e, n, "branches_0"));
            for (int i = 0; i < args.size(); i++) {
                only.bindInput(i, args.get(i));
            }
            List<Val> outs = only.emitBody();
            e.absorb(only);
            for (int k = 0; k < outs.size(); k++) {
                e.put(n, k, outs.get(k));
            }
            return;
        }
        GraphProto chain = branch(e, n, body(e, n, "branches_" + last), args, "branch" + last);
        for (int b = last - 1; b >= 0; b--) {
            GraphProto taken = branch(e, n, body(e, n, "branches_" + b), args, "branch" + b);
            if (b == 0) {
                String is = isIndex(e, n, index, 0);
                putOutputs(e, n, e.addMulti("If", n.name(), List.of(is), taken.getOutputCount(),
                        attr("then_branch", taken), attr("else_branch", chain)), taken);
                return;
            }
            // a subgraph holding If(index == b, branch b, the chain so far)
            OnnxEmitter holder = e.child(new Graph());
            String is = isIndex(holder, n, index, b);
            List<String> outs = holder.addMulti("If", n.name() + "/if" + b, List.of(is), taken.getOutputCount(),
                    attr("then_branch", taken), attr("else_branch", chain));
            List<Val> vals = new ArrayList<>();
            for (int k = 0; k < outs.size(); k++) {
                vals.add(new Val(outs.get(k), Layout.NATIVE, taken.getOutput(k).getType().getTensorType()
                        .getElemType(), -1));
            }
            chain = holder.subgraph(n.name() + "/case" + b, List.of(), vals);
        }
        throw new IllegalStateException("unreachable: a Case of one branch is inlined above");
    }

    private static String isIndex(OnnxEmitter e, Node n, Val index, int b) {
        String k = e.init(n.name() + "/index" + b, OnnxEmitter.scalarOf(index.type(), b));
        return e.add("Equal", n.name() + "/is" + b, List.of(index.name(), k));
    }

    private static List<Val> arguments(OnnxEmitter e, Node n) {
        List<Val> args = new ArrayList<>();
        for (int i = 1; i < n.numDataInputs(); i++) {
            args.add(floatAsF32(e, e.get(n.input(i), Layout.NATIVE, -1)));
        }
        return args;
    }

    /** A branch as a subgraph without inputs: its arguments are values of the enclosing graph. */
    private static GraphProto branch(OnnxEmitter e, Node n, Graph fn, List<Val> args, String hint) {
        OnnxEmitter b = e.child(fn);
        for (int i = 0; i < args.size(); i++) {
            b.bindInput(i, args.get(i));
        }
        return b.subgraph(n.name() + "/" + hint, List.of(), b.emitBody());
    }

    private static void putOutputs(OnnxEmitter e, Node n, List<String> outs, GraphProto branch) {
        for (int k = 0; k < outs.size(); k++) {
            e.put(n, k, new Val(outs.get(k), Layout.NATIVE, branch.getOutput(k).getType().getTensorType().getElemType(),
                    -1));
        }
    }
}
