package dev.kiln.calib;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.KilnArgumentException;
import dev.kiln.kernels.RangeStats;
import dev.kiln.quant.QuantParams;
import dev.kiln.quant.QuantRange;
import dev.kiln.quant.Scales;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.function.Function;

/**
 * The result of calibration, immutable: per tensor an {@link Entry} (amax, scale, zero point, range, method,
 * counts) and the {@link Metadata} that says what it was computed for. Built once from merged statistics by
 * {@link #compute}, so it depends only on the data, not on batch size, order or how the work was split: the same
 * data gives the same {@link #toJson() bytes}.
 *
 * <p>Symmetric (TensorRT): {@code scale = amax / 127} (for 8 bits; {@code amax / (2^(bits-1) - 1)}), zero point 0,
 * range [-amax, amax]; a tensor that was all zeros gets amax 0 and scale 0, as in TensorRT's caches.
 * Asymmetric uint8 (ONNX Runtime / TFLite): range [min, max] from the signed histogram
 * ({@link Thresholds#asymmetricRange}), widened to include 0, {@code scale = (max - min) / 255},
 * {@code zeroPoint = clamp(round(-min / scale), 0, 255)} (as {@link Scales#asymmetric}).
 *
 * <h2>table.json (version 1)</h2>
 * UTF-8 JSON, tensors sorted by name, two-space indentation, LF; every float as its shortest decimal and, in
 * {@code <field>Bits}, its float32 bit pattern in hex, which is authoritative (the decimal must agree):
 * <pre>{@code
 * {
 *   "format" : "kiln-calibration-table",
 *   "version" : 1,
 *   "kilnVersion" : "0.1.0", "modelFingerprint" : "sha256:...", "data" : "mnist test, 1000 images",
 *   "random" : false, "numBits" : 8, "symmetric" : true,
 *   "tensors" : {
 *     "<name>" : { "method" : "entropy", "amax" : 2.5, "amaxBits" : "40200000", "scale" : ..., "scaleBits" : ...,
 *                  "zeroPoint" : 0, "min" : ..., "minBits" : ..., "max" : ..., "maxBits" : ...,
 *                  "samples" : 1000, "nanCount" : 0, "infCount" : 0 }
 *   }
 * }
 * }</pre>
 */
public final class CalibrationTable {
    static final String FORMAT = "kiln-calibration-table";
    static final int VERSION = 1;

    /**
     * What a table was computed for: the model's fingerprint (supplied by the caller, e.g. a SHA-256 of the
     * model), a description of the calibration data, whether that data was random (smoke runs only: such a
     * table is no calibration), the Kiln version and the number of bits.
     */
    public record Metadata(String modelFingerprint, String data, boolean random, String kilnVersion, int numBits) {
        public Metadata {
            KilnArgumentException.check(modelFingerprint != null, "modelFingerprint must not be null");
            KilnArgumentException.check(data != null, "data must not be null");
            KilnArgumentException.check(kilnVersion != null, "kilnVersion must not be null");
            KilnArgumentException.check(numBits >= 2 && numBits <= 16, "numBits must be within 2..16, got " + numBits);
        }

        /** 8 bits, this Kiln's version. */
        public static Metadata of(String modelFingerprint, String data, boolean random) {
            return new Metadata(modelFingerprint, data, random, currentKilnVersion(), 8);
        }

        /** The version in kiln-core's jar manifest, or the development version. */
        public static String currentKilnVersion() {
            String v = CalibrationTable.class.getPackage().getImplementationVersion();
            return v == null ? "0.1.0-SNAPSHOT" : v;
        }
    }

    /**
     * One tensor's calibration. {@code min}/{@code max} are the range the quantization covers ([-amax, amax] when
     * symmetric); {@code method} names how amax was chosen ({@code entropy}, {@code minmax}, {@code mse},
     * {@code percentile(99.99)}, or where it came from for imported tables); the counts are what calibration saw.
     */
    public record Entry(String method, float amax, float scale, int zeroPoint, float min, float max, long samples,
                        long nanCount, long infCount) {
        public Entry {
            KilnArgumentException.check(method != null && !method.isEmpty(), "method must not be null or empty");
            KilnArgumentException.check(Float.isFinite(amax) && amax >= 0, "amax must be finite and >= 0, got " + amax);
            KilnArgumentException.check(Float.isFinite(scale) && scale >= 0,
                    "scale must be finite and >= 0, got " + scale);
            KilnArgumentException.check(Float.isFinite(min) && Float.isFinite(max) && min <= 0f && 0f <= max,
                    "the range [" + min + ", " + max + "] must be finite and include 0");
            KilnArgumentException.check(samples >= 0 && nanCount >= 0 && infCount >= 0, "counts must be >= 0");
            // -0 becomes 0: one zero, so equal tables have equal bytes
            min += 0f;
            max += 0f;
        }
    }

    private final Metadata metadata;
    private final boolean symmetric;
    private final SortedMap<String, Entry> entries;

    /** A table from entries computed elsewhere (an imported cache); checks zero points against the bits. */
    public CalibrationTable(Metadata metadata, boolean symmetric, Map<String, Entry> entries) {
        KilnArgumentException.check(metadata != null, "metadata must not be null");
        KilnArgumentException.check(entries != null, "entries must not be null");
        int lo = symmetric ? 0 : QuantRange.qmin(metadata.numBits(), false, false);
        int hi = symmetric ? 0 : QuantRange.qmax(metadata.numBits(), false);
        for (Map.Entry<String, Entry> e : entries.entrySet()) {
            KilnArgumentException.check(e.getKey() != null && !e.getKey().isEmpty(), "tensor names must not be empty");
            int zp = e.getValue().zeroPoint();
            KilnArgumentException.check(zp >= lo && zp <= hi, "tensor '" + e.getKey() + "': zero point " + zp
                    + " is outside [" + lo + ", " + hi + "]" + (symmetric ? " (symmetric)" : ""));
        }
        this.metadata = metadata;
        this.symmetric = symmetric;
        this.entries = Collections.unmodifiableSortedMap(new TreeMap<>(entries));
    }

    /**
     * Computes the table from merged statistics, thresholds once per tensor: {@code methodPerTensor} gives each
     * tensor's method (a pure function of the name); {@code symmetric} picks TensorRT's convention, else
     * asymmetric unsigned, which needs a signed histogram for every tensor. A tensor that saw no finite value (all
     * NaN/Inf, or nothing) is an error naming it.
     */
    public static CalibrationTable compute(CalibrationStatistics stats, Function<String, ThresholdMethod> methodPerTensor,
                                           boolean symmetric, Metadata metadata) {
        KilnArgumentException.check(stats != null, "stats must not be null");
        KilnArgumentException.check(methodPerTensor != null, "methodPerTensor must not be null");
        KilnArgumentException.check(metadata != null, "metadata must not be null");
        int bits = metadata.numBits();
        TreeMap<String, Entry> entries = new TreeMap<>();
        for (String name : stats.tensorNames()) {
            TensorStatistics t = stats.get(name);
            RangeStats r = t.range();
            if (!r.hasFinite()) {
                throw new KilnArgumentException("tensor '" + name + "' saw no finite value during calibration ("
                        + r.nanCount() + " NaN, " + (r.posInfCount() + r.negInfCount()) + " Inf): no range can be "
                        + "chosen; check the model and the calibration data");
            }
            ThresholdMethod method = methodPerTensor.apply(name);
            KilnArgumentException.check(method != null, "no calibration method for tensor '" + name + "'");
            Entry e;
            if (symmetric) {
                float amax = Thresholds.threshold(t.absHistogramView(), method);
                float scale = amax / QuantRange.qmax(bits, true);
                e = new Entry(methodName(method), amax, scale, 0, -amax, amax, t.samples(), t.nanCount(),
                        t.infCount());
            } else {
                KilnArgumentException.check(t.hasSigned(), "tensor '" + name + "' has no signed histogram, which "
                        + "asymmetric calibration needs: create the statistics with signed histograms");
                float[] range = Thresholds.asymmetricRange(t.signedHistogramView(), method);
                float lo = Math.min(range[0], 0f);
                float hi = Math.max(range[1], 0f);
                QuantParams q = Scales.asymmetric(lo, hi, bits, false);
                e = new Entry(methodName(method), Math.max(-lo, hi), q.scale()[0], q.zeroPoint()[0], lo, hi,
                        t.samples(), t.nanCount(), t.infCount());
            }
            entries.put(name, e);
        }
        return new CalibrationTable(metadata, symmetric, entries);
    }

    /** The method as written in tables: {@code minmax}, {@code entropy}, {@code mse}, {@code percentile(P)}. */
    public static String methodName(ThresholdMethod method) {
        KilnArgumentException.check(method != null, "method must not be null");
        if (method instanceof ThresholdMethod.Percentile p) {
            return "percentile(" + FloatText.pythonRepr(p.percentile()) + ")";
        }
        return method.toString();
    }

    public Metadata metadata() {
        return metadata;
    }

    /** Whether the entries follow the symmetric (TensorRT) convention; else asymmetric unsigned. */
    public boolean symmetric() {
        return symmetric;
    }

    /** All entries by tensor name, sorted; unmodifiable. */
    public SortedMap<String, Entry> entries() {
        return entries;
    }

    /** One tensor's entry; fails naming the tensor if the table has none. */
    public Entry entry(String tensor) {
        Entry e = entries.get(tensor);
        KilnArgumentException.check(e != null, "the calibration table has no entry for tensor '" + tensor + "'");
        return e;
    }

    /**
     * The quantization parameters of a tensor: symmetric signed narrow ([-127, 127], zero point 0), or asymmetric
     * unsigned ([0, 255]). A zero scale (an all-zero tensor) becomes 1, as {@link Scales} does, since
     * {@link QuantParams} needs a scale > 0; everything then quantizes to the zero point.
     */
    public QuantParams quantParams(String tensor) {
        Entry e = entry(tensor);
        int bits = metadata.numBits();
        if (symmetric) {
            return e.scale() == 0f ? Scales.symmetric(new float[] {0f}, -1, bits, true)
                    : new QuantParams(new float[] {e.scale()}, new int[] {0}, -1, bits, true, true);
        }
        return new QuantParams(new float[] {e.scale() == 0f ? 1f : e.scale()}, new int[] {e.zeroPoint()}, -1, bits,
                false, false);
    }

    /**
     * Checks that this table fits a model: every tensor in it exists in the model, every tensor the model needs
     * is in it, and it was computed for this model ({@code modelFingerprint}, null to skip). Lists every problem
     * in one {@link KilnArgumentException}.
     */
    public void validateAgainst(Set<String> tensorsTheModelHas, Set<String> tensorsNeeded, String modelFingerprint) {
        KilnArgumentException.check(tensorsTheModelHas != null && tensorsNeeded != null,
                "tensorsTheModelHas and tensorsNeeded must not be null");
        List<String> problems = new ArrayList<>();
        if (modelFingerprint != null && !modelFingerprint.equals(metadata.modelFingerprint())) {
            problems.add("the table was computed for model " + metadata.modelFingerprint() + ", not for this model ("
                    + modelFingerprint + ")");
        }
        List<String> unknown = new ArrayList<>();
        for (String t : entries.keySet()) {
            if (!tensorsTheModelHas.contains(t)) {
                unknown.add(t);
            }
        }
        if (!unknown.isEmpty()) {
            problems.add("tensors the model does not have: " + quoted(unknown));
        }
        List<String> missing = new ArrayList<>();
        for (String t : new TreeSet<>(tensorsNeeded)) {
            if (!entries.containsKey(t)) {
                missing.add(t);
            }
        }
        if (!missing.isEmpty()) {
            problems.add("tensors needed but missing from the table: " + quoted(missing));
        }
        if (!problems.isEmpty()) {
            throw new KilnArgumentException("the calibration table does not fit the model: "
                    + String.join("; ", problems));
        }
    }

    private static String quoted(List<String> names) {
        StringBuilder b = new StringBuilder();
        int shown = Math.min(names.size(), 20);
        for (int i = 0; i < shown; i++) {
            b.append(i == 0 ? "" : ", ").append('\'').append(names.get(i)).append('\'');
        }
        if (names.size() > shown) {
            b.append(" and ").append(names.size() - shown).append(" more");
        }
        return b.toString();
    }

    /** Writes table.json (format above) atomically. */
    public void save(Path file) {
        KilnArgumentException.check(file != null, "file must not be null");
        CalibFiles.writeAtomically(file, toJson());
    }

    /** The bytes of table.json: a pure function of the table. */
    public byte[] toJson() {
        return CalibJson.write(g -> {
            g.writeStartObject();
            g.writeStringField("format", FORMAT);
            g.writeNumberField("version", VERSION);
            g.writeStringField("kilnVersion", metadata.kilnVersion());
            g.writeStringField("modelFingerprint", metadata.modelFingerprint());
            g.writeStringField("data", metadata.data());
            g.writeBooleanField("random", metadata.random());
            g.writeNumberField("numBits", metadata.numBits());
            g.writeBooleanField("symmetric", symmetric);
            g.writeObjectFieldStart("tensors");
            for (Map.Entry<String, Entry> me : entries.entrySet()) {
                Entry e = me.getValue();
                g.writeObjectFieldStart(me.getKey());
                g.writeStringField("method", e.method());
                CalibJson.writeFloat(g, "amax", e.amax());
                CalibJson.writeFloat(g, "scale", e.scale());
                g.writeNumberField("zeroPoint", e.zeroPoint());
                CalibJson.writeFloat(g, "min", e.min());
                CalibJson.writeFloat(g, "max", e.max());
                g.writeNumberField("samples", e.samples());
                g.writeNumberField("nanCount", e.nanCount());
                g.writeNumberField("infCount", e.infCount());
                g.writeEndObject();
            }
            g.writeEndObject();
            g.writeEndObject();
        });
    }

    /** Reads table.json, validating everything; errors name the file, the tensor and the field. */
    public static CalibrationTable load(Path file) {
        KilnArgumentException.check(file != null, "file must not be null");
        return fromJson(CalibFiles.read(file), file);
    }

    /** Parses table.json bytes; {@code source} names them in errors. */
    public static CalibrationTable fromJson(byte[] bytes, Object source) {
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
        int bits = top.integer("numBits");
        if (bits < 2 || bits > 16) {
            throw top.error("numBits must be within 2..16, got " + bits);
        }
        Metadata meta = new Metadata(top.text("modelFingerprint"), top.text("data"), top.bool("random"),
                top.text("kilnVersion"), bits);
        boolean symmetric = top.bool("symmetric");
        CalibJson.Fields ts = top.object("tensors");
        TreeMap<String, Entry> entries = new TreeMap<>();
        for (Iterator<Map.Entry<String, JsonNode>> it = ts.node().fields(); it.hasNext(); ) {
            Map.Entry<String, JsonNode> me = it.next();
            CalibJson.Fields f = new CalibJson.Fields(me.getValue(), source, "tensor '" + me.getKey() + "'");
            float scale = f.floatWithBits("scale");
            if (!(scale >= 0f) || Float.isInfinite(scale)) {
                throw f.error("scale must be finite and >= 0, got " + scale);
            }
            try {
                entries.put(me.getKey(), new Entry(f.text("method"), f.floatWithBits("amax"), scale,
                        f.integer("zeroPoint"), f.floatWithBits("min"), f.floatWithBits("max"), f.count("samples"),
                        f.count("nanCount"), f.count("infCount")));
            } catch (KilnArgumentException e) {
                throw f.error(e.getMessage());
            }
        }
        try {
            return new CalibrationTable(meta, symmetric, entries);
        } catch (KilnArgumentException e) {
            throw CalibFiles.corrupt(source, e.getMessage());
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof CalibrationTable t && t.symmetric == symmetric && t.metadata.equals(metadata)
                && t.entries.equals(entries);
    }

    @Override
    public int hashCode() {
        return Objects.hash(metadata, symmetric, entries);
    }

    @Override
    public String toString() {
        return "CalibrationTable[" + entries.size() + " tensors, " + (symmetric ? "symmetric" : "asymmetric") + ", "
                + metadata + "]";
    }
}
