package dev.kiln.eval;

import java.util.Locale;

/**
 * How a changed model (pruned, factorized) compares with the model it came from, both run on the same runtime over
 * the same evaluation data.
 *
 * @param samples         how many samples were evaluated
 * @param referenceTop1   top-1 of the original, in [0, 1]; NaN without labels
 * @param top1            top-1 of the changed model; NaN without labels
 * @param minCosine       the smallest cosine similarity over the outputs, against the original
 * @param minSqnrDb       the smallest SQNR over the outputs, in dB (infinite where the outputs are identical)
 */
public record ModelAccuracy(long samples, double referenceTop1, double top1, double minCosine, double minSqnrDb) {

    /** Whether top-1 was measured against labels. */
    public boolean labelled() {
        return !Double.isNaN(top1);
    }

    /** The top-1 drop in percentage points (positive: worse); NaN without labels. */
    public double top1DropPoints() {
        return 100 * (referenceTop1 - top1);
    }

    @Override
    public String toString() {
        String t = labelled() ? String.format(Locale.ROOT, "top-1 %.2f%% (original %.2f%%, %+.2f points), ",
                100 * top1, 100 * referenceTop1, -top1DropPoints()) : "";
        return String.format(Locale.ROOT, "%s%d samples, min cosine %.6f, min SQNR %.1f dB", t, samples, minCosine,
                minSqnrDb);
    }

    /** As a JSON object; NaN and infinities are written as null (JSON has no such numbers). */
    public String toJson() {
        return String.format(Locale.ROOT, "{\"samples\": %d, \"reference_top1\": %s, \"top1\": %s, "
                + "\"min_cosine\": %s, \"min_sqnr_db\": %s}", samples, num(referenceTop1), num(top1), num(minCosine),
                num(minSqnrDb));
    }

    private static String num(double v) {
        return Double.isFinite(v) ? String.format(Locale.ROOT, "%.6f", v) : "null";
    }
}
