package dev.kiln.passes;

import dev.kiln.graph.Graph;
import dev.kiln.graph.Node;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;

/**
 * An ordered list of passes. A step is either one pass, run once, or a group of passes repeated in order until a
 * round changes nothing (bounded by {@link #MAX_ROUNDS}); a repeated group reports one {@link PassResult} per pass
 * with the counts of all rounds summed. Immutable; build with {@link #of} and {@link #then} / {@link #thenRepeat}.
 *
 * <pre>{@code
 * List<PassResult> results = Passes.optimizeForInference().run(graph);
 * }</pre>
 */
public final class PassPipeline {
    /** Upper bound on rounds of a repeated group. */
    public static final int MAX_ROUNDS = 8;

    private record Step(List<GraphPass> passes, boolean repeat) {
    }

    private final List<Step> steps;

    private PassPipeline(List<Step> steps) {
        this.steps = List.copyOf(steps);
    }

    /** A pipeline running {@code passes} once each, in order. */
    public static PassPipeline of(GraphPass... passes) {
        List<Step> s = new ArrayList<>();
        for (GraphPass p : passes) {
            s.add(new Step(List.of(Objects.requireNonNull(p, "pass")), false));
        }
        return new PassPipeline(s);
    }

    /** This pipeline followed by {@code pass}, run once. */
    public PassPipeline then(GraphPass pass) {
        List<Step> s = new ArrayList<>(steps);
        s.add(new Step(List.of(Objects.requireNonNull(pass, "pass")), false));
        return new PassPipeline(s);
    }

    /** This pipeline followed by {@code passes} repeated in order until a round changes nothing. */
    public PassPipeline thenRepeat(GraphPass... passes) {
        List<Step> s = new ArrayList<>(steps);
        s.add(new Step(List.copyOf(Arrays.asList(passes)), true));
        return new PassPipeline(s);
    }

    /** The passes in the order they first run. */
    public List<GraphPass> passes() {
        List<GraphPass> out = new ArrayList<>();
        for (Step s : steps) {
            out.addAll(s.passes());
        }
        return out;
    }

    /**
     * Runs every step on {@code graph} (changed in place) and returns what each pass did, in order; then on the bodies
     * of the control flow it keeps ({@link Graph#subgraphs()}), whose results are not reported.
     */
    public List<PassResult> run(Graph graph) {
        List<PassResult> results = runSteps(graph);
        for (Graph body : graph.subgraphs().values()) {
            run(body);
        }
        return results;
    }

    private List<PassResult> runSteps(Graph graph) {
        List<PassResult> results = new ArrayList<>();
        for (Step step : steps) {
            if (!step.repeat()) {
                results.add(applyCounted(step.passes().get(0), graph));
                continue;
            }
            PassResult[] sums = new PassResult[step.passes().size()];
            for (int round = 0; round < MAX_ROUNDS; round++) {
                boolean changed = false;
                for (int i = 0; i < sums.length; i++) {
                    PassResult r = applyCounted(step.passes().get(i), graph);
                    changed |= r.changed();
                    sums[i] = sums[i] == null ? r : merge(sums[i], r);
                }
                if (!changed) {
                    break;
                }
            }
            results.addAll(Arrays.asList(sums));
        }
        return results;
    }

    /**
     * Runs {@code pass} and takes its removed and added counts from the graph itself (node names gone and new), so the
     * columns always add up: before - removed + added = after, whatever a pass counts as folded or fused.
     */
    private static PassResult applyCounted(GraphPass pass, Graph graph) {
        Set<String> before = new HashSet<>();
        graph.nodes().forEach(n -> before.add(n.name()));
        PassResult r = pass.apply(graph);
        int added = 0;
        for (Node n : graph.nodes()) {
            if (!before.remove(n.name())) {
                added++;
            }
        }
        return new PassResult(r.pass(), r.nodesBefore(), r.nodesAfter(), before.size(), r.folded(), r.fused(), added,
                r.notes());
    }

    private static PassResult merge(PassResult a, PassResult b) {
        List<String> notes = new ArrayList<>(a.notes());
        notes.addAll(b.notes());
        return new PassResult(a.pass(), a.nodesBefore(), b.nodesAfter(), a.removed() + b.removed(),
                a.folded() + b.folded(), a.fused() + b.fused(), a.added() + b.added(), notes);
    }

    @Override
    public String toString() {
        List<String> names = new ArrayList<>();
        for (Step s : steps) {
            List<String> n = s.passes().stream().map(GraphPass::name).toList();
            names.add(s.repeat() ? "repeat" + n : n.get(0));
        }
        return "PassPipeline" + names;
    }
}
