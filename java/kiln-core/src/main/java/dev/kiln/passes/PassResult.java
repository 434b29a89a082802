package dev.kiln.passes;

import java.util.List;

/**
 * What one pass changed: nodes removed, folded (into constants or into other nodes), fused, added, and the node
 * count before and after, with short notes for people ("folded FusedBatchNormV3 'bn1' into Conv2D 'conv1'").
 */
public record PassResult(String pass, int nodesBefore, int nodesAfter, int removed, int folded, int fused, int added,
                         List<String> notes) {

    public PassResult {
        notes = List.copyOf(notes);
    }

    public boolean changed() {
        return removed + folded + fused + added > 0 || nodesBefore != nodesAfter;
    }

    @Override
    public String toString() {
        return String.format("%-40s %5d -> %5d nodes  removed %d, folded %d, fused %d, added %d", pass, nodesBefore,
                nodesAfter, removed, folded, fused, added);
    }
}
