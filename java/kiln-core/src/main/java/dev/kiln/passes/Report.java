package dev.kiln.passes;

import dev.kiln.graph.Graph;

import java.util.ArrayList;
import java.util.List;

/** Collects what a pass changed and turns it into a {@link PassResult}; notes are capped so big graphs stay readable. */
final class Report {
    private static final int MAX_NOTES = 60;

    private final String pass;
    private final int before;
    private final List<String> notes = new ArrayList<>();
    private int dropped;
    int removed;
    int folded;
    int fused;
    int added;

    Report(String pass, Graph graph) {
        this.pass = pass;
        this.before = graph.size();
    }

    void note(String text) {
        if (notes.size() < MAX_NOTES) {
            notes.add(text);
        } else {
            dropped++;
        }
    }

    void removed(String text) {
        removed++;
        note(text);
    }

    void folded(String text) {
        folded++;
        note(text);
    }

    void fused(String text) {
        fused++;
        note(text);
    }

    PassResult finish(Graph graph) {
        List<String> n = new ArrayList<>(notes);
        if (dropped > 0) {
            n.add("... and " + dropped + " more");
        }
        return new PassResult(pass, before, graph.size(), removed, folded, fused, added, n);
    }
}
