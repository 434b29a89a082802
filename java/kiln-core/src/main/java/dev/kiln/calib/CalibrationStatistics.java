package dev.kiln.calib;

import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.KilnArgumentException;
import dev.kiln.kernels.KernelBackends;
import dev.kiln.kernels.Kernels;
import dev.kiln.kernels.RangeStats;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Collections;
import java.util.Iterator;
import java.util.Map;
import java.util.NavigableSet;
import java.util.TreeMap;
import java.util.function.Predicate;

/**
 * The calibration statistics of a model: per tensor name, a {@link TensorStatistics} (histogram of |x|, a signed
 * histogram where asked, exact range, NaN/Inf counts, samples). The runner streams activations in with
 * {@link #add}; statistics from other threads, processes or machines {@link #merge} exactly: the result equals one
 * run over all the data whatever the split and order, and so does the {@link CalibrationTable} computed from it.
 * Not thread safe: use one per thread and merge.
 *
 * <h2>File format (version 1)</h2>
 * UTF-8 JSON, written deterministically (tensors sorted by name, two-space indentation, LF):
 * <pre>{@code
 * {
 *   "format" : "kiln-calibration-statistics",
 *   "version" : 1,
 *   "bins" : 2048,
 *   "tensors" : {
 *     "<name>" : {
 *       "samples" : 64,             batch rows seen
 *       "finite" : 1234,            values binned
 *       "nan" : 0, "posInf" : 0, "negInf" : 0,
 *       "min" : "bf800000", "max" : "3f800000", "absMax" : "3f800000",   float32 bit patterns in hex
 *       "abs" : { "rangeExp" : 1, "counts" : [ k, c, k, c, ... ] },      non-empty bins: index, count
 *       "signed" : { "rangeExp" : 1, "pos" : [ ... ], "neg" : [ ... ] }  only where a signed histogram is kept
 *     }
 *   }
 * }
 * }</pre>
 * {@code rangeExp} is the exponent of the histogram's power-of-two range, {@code null} while only zeros were seen.
 * Loading checks everything (counts add up to {@code finite}, bins in range and ascending, ...) and fails with a
 * {@link dev.kiln.KilnException} naming the file.
 */
public final class CalibrationStatistics {
    static final String FORMAT = "kiln-calibration-statistics";
    static final int VERSION = 1;

    private final Kernels kernels;
    private final int nbBins;
    private final Predicate<String> signedFor;
    private final TreeMap<String, TensorStatistics> tensors = new TreeMap<>();

    private CalibrationStatistics(Kernels kernels, int nbBins, Predicate<String> signedFor) {
        KilnArgumentException.check(kernels != null, "kernels must not be null");
        KilnArgumentException.check(signedFor != null, "signedFor must not be null");
        Histogram.create(kernels, nbBins, false); // validates nbBins
        this.kernels = kernels;
        this.nbBins = nbBins;
        this.signedFor = signedFor;
    }

    /** Histograms of |x| with 2048 bins, no signed histograms (symmetric calibration), the default backend. */
    public static CalibrationStatistics create() {
        return create(Histogram.DEFAULT_BINS, false);
    }

    /** {@code nbBins} bins; a signed histogram for every tensor when {@code signed} (asymmetric calibration). */
    public static CalibrationStatistics create(int nbBins, boolean signed) {
        return create(KernelBackends.get(), nbBins, name -> signed);
    }

    /** The general form: a backend, the bins, and which tensors get a signed histogram. */
    public static CalibrationStatistics create(Kernels kernels, int nbBins, Predicate<String> signedFor) {
        return new CalibrationStatistics(kernels, nbBins, signedFor);
    }

    /**
     * Adds a batch of a tensor's activations: {@code values} (any layout, NaN/Inf counted but not binned) that
     * hold {@code samples} batch rows.
     */
    public CalibrationStatistics add(String tensor, float[] values, int samples) {
        KilnArgumentException.check(tensor != null && !tensor.isEmpty(), "tensor name must not be null or empty");
        KilnArgumentException.check(values != null, "values of tensor '" + tensor + "' must not be null");
        KilnArgumentException.check(samples >= 0, "samples must be >= 0, got " + samples + " for tensor '" + tensor
                + "'");
        tensors.computeIfAbsent(tensor, this::newTensor).add(values, samples);
        return this;
    }

    /**
     * Creates the (empty) statistics of {@code names} now, so that later {@link #add}s for different tensors only
     * read the map and can run in parallel, one thread per tensor.
     */
    public CalibrationStatistics track(java.util.Collection<String> names) {
        for (String n : names) {
            KilnArgumentException.check(n != null && !n.isEmpty(), "tensor name must not be null or empty");
            tensors.computeIfAbsent(n, this::newTensor);
        }
        return this;
    }

    private TensorStatistics newTensor(String name) {
        return new TensorStatistics(name, Histogram.create(kernels, nbBins, false),
                signedFor.test(name) ? Histogram.create(kernels, nbBins, true) : null, 0);
    }

    /**
     * Adds everything {@code other} saw (which is left unchanged). Exact: any split of the data, merged in any
     * order, gives the statistics of one pass. Both must have the same number of bins, and a tensor present in
     * both must have a signed histogram in both or in neither.
     */
    public CalibrationStatistics merge(CalibrationStatistics other) {
        KilnArgumentException.check(other != null, "other must not be null");
        KilnArgumentException.check(other != this, "cannot merge statistics into themselves");
        KilnArgumentException.check(other.nbBins == nbBins, "cannot merge statistics with " + other.nbBins
                + " bins into statistics with " + nbBins + " bins");
        for (TensorStatistics t : other.tensors.values()) {
            TensorStatistics mine = tensors.get(t.name());
            if (mine == null) {
                tensors.put(t.name(), t.copy());
            } else {
                mine.merge(t);
            }
        }
        return this;
    }

    /** Bins per histogram (per side for signed ones). */
    public int nbBins() {
        return nbBins;
    }

    /** The tensor names seen, sorted. */
    public NavigableSet<String> tensorNames() {
        return Collections.unmodifiableNavigableSet(tensors.navigableKeySet());
    }

    /** The statistics of one tensor; fails naming the tensor if it was never seen. */
    public TensorStatistics get(String tensor) {
        TensorStatistics t = tensors.get(tensor);
        KilnArgumentException.check(t != null, "no calibration statistics for tensor '" + tensor + "'");
        return t;
    }

    /** Writes the statistics (format above) atomically. */
    public void save(Path file) {
        KilnArgumentException.check(file != null, "file must not be null");
        CalibFiles.writeAtomically(file, toJson());
    }

    /** The file's bytes: a pure function of the statistics. */
    public byte[] toJson() {
        return CalibJson.write(g -> {
            g.writeStartObject();
            g.writeStringField("format", FORMAT);
            g.writeNumberField("version", VERSION);
            g.writeNumberField("bins", nbBins);
            g.writeObjectFieldStart("tensors");
            for (TensorStatistics t : tensors.values()) {
                writeTensor(g, t);
            }
            g.writeEndObject();
            g.writeEndObject();
        });
    }

    private static void writeTensor(JsonGenerator g, TensorStatistics t) throws IOException {
        RangeStats r = t.range();
        g.writeObjectFieldStart(t.name());
        g.writeNumberField("samples", t.samples());
        g.writeNumberField("finite", r.count());
        g.writeNumberField("nan", r.nanCount());
        g.writeNumberField("posInf", r.posInfCount());
        g.writeNumberField("negInf", r.negInfCount());
        g.writeStringField("min", FloatText.bits(r.min()));
        g.writeStringField("max", FloatText.bits(r.max()));
        g.writeStringField("absMax", FloatText.bits(r.absMax()));
        Histogram abs = t.absHistogramView();
        g.writeObjectFieldStart("abs");
        writeRangeExp(g, abs);
        writeSparse(g, "counts", abs.counts());
        g.writeEndObject();
        Histogram s = t.signedHistogramView();
        if (s != null) {
            g.writeObjectFieldStart("signed");
            writeRangeExp(g, s);
            writeSparse(g, "pos", s.counts());
            writeSparse(g, "neg", s.negCounts());
            g.writeEndObject();
        }
        g.writeEndObject();
    }

    private static void writeRangeExp(JsonGenerator g, Histogram h) throws IOException {
        if (h.rangeExponent() == Integer.MIN_VALUE) {
            g.writeNullField("rangeExp");
        } else {
            g.writeNumberField("rangeExp", h.rangeExponent());
        }
    }

    /** Non-empty bins only, as flat (index, count) pairs: most of 2048 bins are usually empty. */
    private static void writeSparse(JsonGenerator g, String field, long[] counts) throws IOException {
        g.writeArrayFieldStart(field);
        for (int k = 0; k < counts.length; k++) {
            if (counts[k] != 0) {
                g.writeNumber(k);
                g.writeNumber(counts[k]);
            }
        }
        g.writeEndArray();
    }

    /** Loads statistics saved by {@link #save}; tensors added later get no signed histogram. */
    public static CalibrationStatistics load(Path file) {
        return load(file, KernelBackends.get(), name -> false);
    }

    /** Loads statistics saved by {@link #save}; {@code signedFor} applies to tensors added later. */
    public static CalibrationStatistics load(Path file, Kernels kernels, Predicate<String> signedFor) {
        KilnArgumentException.check(file != null, "file must not be null");
        return fromJson(CalibFiles.read(file), file, kernels, signedFor);
    }

    /**
     * Parses the bytes {@link #toJson} wrote (statistics sent between processes, e.g. Spark executors and their
     * driver); {@code source} names them in errors. Tensors added later get no signed histogram.
     */
    public static CalibrationStatistics fromJson(byte[] bytes, String source) {
        KilnArgumentException.check(bytes != null, "bytes must not be null");
        return fromJson(bytes, source, KernelBackends.get(), name -> false);
    }

    /** Parses the bytes of a statistics file; {@code source} names it in errors. */
    static CalibrationStatistics fromJson(byte[] bytes, Object source, Kernels kernels, Predicate<String> signedFor) {
        JsonNode root = CalibJson.parse(bytes, source);
        CalibJson.Fields top = new CalibJson.Fields(root, source, "the top level");
        String format = top.text("format");
        if (!format.equals(FORMAT)) {
            throw top.error("format is '" + format + "', expected '" + FORMAT + "'");
        }
        int version = top.integer("version");
        if (version != VERSION) {
            throw top.error("version " + version + " is not supported (this Kiln reads version " + VERSION + ")");
        }
        int bins = top.integer("bins");
        if (bins < 2 || bins % 2 != 0) {
            throw top.error("bins must be even and >= 2, got " + bins);
        }
        CalibrationStatistics stats = new CalibrationStatistics(kernels, bins, signedFor);
        CalibJson.Fields ts = top.object("tensors");
        for (Iterator<Map.Entry<String, JsonNode>> it = ts.node().fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> e = it.next();
            String name = e.getKey();
            stats.tensors.put(name, readTensor(new CalibJson.Fields(e.getValue(), source, "tensor '" + name + "'"),
                    name, kernels, bins));
        }
        return stats;
    }

    private static TensorStatistics readTensor(CalibJson.Fields f, String name, Kernels kernels, int bins) {
        long samples = f.count("samples");
        long finite = f.count("finite");
        float min = f.bitsOnly("min");
        float max = f.bitsOnly("max");
        float absMax = f.bitsOnly("absMax");
        if (Float.isNaN(min) || Float.isNaN(max) || Float.isNaN(absMax)) {
            throw f.error("min, max and absMax must not be NaN");
        }
        boolean consistent = finite == 0
                ? min == Float.POSITIVE_INFINITY && max == Float.NEGATIVE_INFINITY && absMax == 0f
                : Float.isFinite(min) && Float.isFinite(max) && min <= max
                        && absMax == Math.max(Math.abs(min), Math.abs(max));
        if (!consistent) {
            throw f.error("min " + min + ", max " + max + " and absMax " + absMax + " do not fit " + finite
                    + " finite values");
        }
        RangeStats range = new RangeStats(min, max, absMax, finite, f.count("nan"), f.count("posInf"),
                f.count("negInf"));
        int exp = Histogram.exponentAbove(absMax);
        CalibJson.Fields a = f.object("abs");
        long[] counts = readSparse(a, "counts", bins);
        checkHistogram(a, exp, finite, counts);
        Histogram abs = Histogram.restore(kernels, bins, false, exp, counts, null, range);
        Histogram signed = null;
        if (f.node().has("signed")) {
            CalibJson.Fields s = f.object("signed");
            long[] pos = readSparse(s, "pos", bins);
            long[] neg = readSparse(s, "neg", bins);
            long[] both = pos.clone();
            for (int k = 0; k < bins; k++) {
                both[k] += neg[k];
            }
            checkHistogram(s, exp, finite, both);
            signed = Histogram.restore(kernels, bins, true, exp, pos, neg, range);
        }
        return new TensorStatistics(name, abs, signed, samples);
    }

    /** The saved range exponent must be the one the data implies, and the counts must add up to the finite count. */
    private static void checkHistogram(CalibJson.Fields h, int exp, long finite, long[] counts) {
        JsonNode e = h.node().get("rangeExp");
        if (e == null) {
            throw h.error("missing field 'rangeExp'");
        }
        boolean ok = exp == Integer.MIN_VALUE ? e.isNull() : e.isIntegralNumber() && e.canConvertToInt()
                && e.intValue() == exp;
        if (!ok) {
            throw h.error("rangeExp " + e + " does not match absMax (expected "
                    + (exp == Integer.MIN_VALUE ? "null" : String.valueOf(exp)) + ")");
        }
        long total = 0;
        for (long c : counts) {
            total += c;
        }
        if (total != finite) {
            throw h.error("the bin counts add up to " + total + ", not to the " + finite + " finite values");
        }
        if (exp == Integer.MIN_VALUE) {
            for (int k = 1; k < counts.length; k++) {
                if (counts[k] != 0) {
                    throw h.error("only bin 0 can hold values while only zeros were seen");
                }
            }
        }
    }

    private static long[] readSparse(CalibJson.Fields f, String field, int bins) {
        JsonNode a = f.require(field);
        if (!a.isArray() || a.size() % 2 != 0) {
            throw f.error("'" + field + "' must be an array of (bin, count) pairs");
        }
        long[] counts = new long[bins];
        int prev = -1;
        for (int i = 0; i < a.size(); i += 2) {
            JsonNode k = a.get(i);
            JsonNode c = a.get(i + 1);
            if (!k.isIntegralNumber() || !k.canConvertToInt() || k.intValue() <= prev || k.intValue() >= bins) {
                throw f.error("'" + field + "': bin index " + k + " at position " + i
                        + " is not ascending within [0, " + bins + ")");
            }
            if (!c.isIntegralNumber() || !c.canConvertToLong() || c.longValue() <= 0) {
                throw f.error("'" + field + "': count " + c + " of bin " + k + " must be an integer > 0");
            }
            prev = k.intValue();
            counts[prev] = c.longValue();
        }
        return counts;
    }

    @Override
    public String toString() {
        return "CalibrationStatistics[" + tensors.size() + " tensors, " + nbBins + " bins]";
    }
}
