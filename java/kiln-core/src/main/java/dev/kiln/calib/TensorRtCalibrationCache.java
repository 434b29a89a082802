package dev.kiln.calib;

import dev.kiln.KilnArgumentException;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;

/**
 * TensorRT's INT8 calibration cache (the file an IInt8Calibrator reads and writes; gone with the calibrator API in
 * TensorRT 11). Text, LF line ends, a trailing newline:
 * <pre>
 * TRT-100900-EntropyCalibration2        header: TRT-&lt;version&gt;-&lt;algorithm&gt;, or "1" (TensorRT 4/5)
 * conv1/Relu:0: 3c010a14                 &lt;tensor name&gt;: &lt;hex&gt;
 * </pre>
 * The hex is the big-endian bit pattern of the float32 scale (amax / 127), lowercase, not zero padded ({@code 0}
 * for zero). A name may itself contain {@code ": "}: lines split on the last one. The version number is
 * major*1000+minor*100+patch up to TensorRT 8 (8501 = 8.5.1) and major*10000+minor*100+patch from 10 (100900).
 * Reading keeps the header, the order and the exact bit patterns, so reading and writing gives the same bytes.
 */
public final class TensorRtCalibrationCache {
    /** The TensorRT version written by default: 10.9.0. */
    public static final int DEFAULT_VERSION = version(10, 9, 0);
    /** The algorithm written by default. */
    public static final String DEFAULT_ALGORITHM = "EntropyCalibration2";

    private static final Pattern HEADER = Pattern.compile("TRT-[0-9]+-[A-Za-z0-9_]+");
    private static final Pattern ALGORITHM = Pattern.compile("[A-Za-z0-9_]+");

    private final String header;
    private final Map<String, Integer> bits;

    private TensorRtCalibrationCache(String header, Map<String, Integer> bits) {
        this.header = header;
        this.bits = Collections.unmodifiableMap(bits);
    }

    /** TensorRT's version number: major*10000+minor*100+patch from 10 on, major*1000+minor*100+patch before. */
    public static int version(int major, int minor, int patch) {
        KilnArgumentException.check(major >= 1 && minor >= 0 && minor <= 99 && patch >= 0 && patch <= 99,
                "bad TensorRT version " + major + "." + minor + "." + patch);
        return major >= 10 ? major * 10000 + minor * 100 + patch : major * 1000 + minor * 100 + patch;
    }

    /** A cache of the table's scales for TensorRT 10.9 and EntropyCalibration2. */
    public static TensorRtCalibrationCache of(CalibrationTable table) {
        return of(table, DEFAULT_VERSION, DEFAULT_ALGORITHM);
    }

    /**
     * A cache of a symmetric table's scales (tensors sorted by name), with the header
     * {@code TRT-<trtVersion>-<algorithm>}: {@code trtVersion} as {@link #version}, {@code algorithm} e.g.
     * EntropyCalibration2, EntropyCalibration, MinMaxCalibration, LegacyCalibration.
     */
    public static TensorRtCalibrationCache of(CalibrationTable table, int trtVersion, String algorithm) {
        KilnArgumentException.check(table != null, "table must not be null");
        KilnArgumentException.check(table.symmetric(), "TensorRT's calibration cache holds symmetric scales; the "
                + "table is asymmetric");
        KilnArgumentException.check(table.metadata().numBits() == 8, "TensorRT's calibration cache is for 8 bits, "
                + "the table has " + table.metadata().numBits());
        KilnArgumentException.check(trtVersion > 0, "trtVersion must be > 0, got " + trtVersion);
        KilnArgumentException.check(algorithm != null && ALGORITHM.matcher(algorithm).matches(),
                "algorithm must be a word like EntropyCalibration2, got '" + algorithm + "'");
        Map<String, Integer> bits = new LinkedHashMap<>();
        for (Map.Entry<String, CalibrationTable.Entry> e : table.entries().entrySet()) {
            checkName(e.getKey());
            bits.put(e.getKey(), Float.floatToRawIntBits(e.getValue().scale()));
        }
        return new TensorRtCalibrationCache("TRT-" + trtVersion + "-" + algorithm, bits);
    }

    private static void checkName(String name) {
        KilnArgumentException.check(name.indexOf('\n') < 0 && name.indexOf('\r') < 0,
                "tensor name '" + name + "' contains a line break, which a TensorRT cache cannot hold");
    }

    /** Reads a cache file; a corrupt or truncated one is an error naming the file and the line. */
    public static TensorRtCalibrationCache read(Path file) {
        KilnArgumentException.check(file != null, "file must not be null");
        return parse(new String(CalibFiles.read(file), StandardCharsets.UTF_8), file);
    }

    /** Parses cache text; {@code source} names it in errors. */
    public static TensorRtCalibrationCache parse(String text, Object source) {
        KilnArgumentException.check(text != null, "text must not be null");
        if (text.isEmpty()) {
            throw CalibFiles.corrupt(source, "empty TensorRT calibration cache");
        }
        String[] lines = text.split("\n", -1);
        // a complete file ends with a line end, so the last piece is empty
        if (!lines[lines.length - 1].isEmpty()) {
            throw CalibFiles.corrupt(source, "line " + lines.length + ": no line end at the end of the file "
                    + "(truncated?)");
        }
        int nbLines = lines.length - 1;
        String header = lines[0];
        checkLineEnd(header, 1, source);
        if (!header.equals("1") && !HEADER.matcher(header).matches()) {
            throw CalibFiles.corrupt(source, "line 1: '" + clip(header) + "' is not a TensorRT calibration cache "
                    + "header (TRT-<version>-<algorithm>, or 1)");
        }
        Map<String, Integer> bits = new LinkedHashMap<>();
        for (int i = 1; i < nbLines; i++) {
            String line = lines[i];
            int no = i + 1;
            checkLineEnd(line, no, source);
            int sep = line.lastIndexOf(": ");
            if (sep < 0) {
                throw CalibFiles.corrupt(source, "line " + no + ": '" + clip(line) + "' is not '<tensor>: <hex scale>'");
            }
            String name = line.substring(0, sep);
            String hex = line.substring(sep + 2);
            if (name.isEmpty()) {
                throw CalibFiles.corrupt(source, "line " + no + ": empty tensor name");
            }
            Float scale = FloatText.fromBits(hex);
            if (scale == null) {
                throw CalibFiles.corrupt(source, "line " + no + ": '" + clip(hex) + "' is not a hex float32 scale "
                        + "(1 to 8 hex digits)");
            }
            if (bits.put(name, Float.floatToRawIntBits(scale)) != null) {
                throw CalibFiles.corrupt(source, "line " + no + ": tensor '" + name + "' appears twice");
            }
        }
        return new TensorRtCalibrationCache(header, bits);
    }

    private static void checkLineEnd(String line, int no, Object source) {
        if (line.endsWith("\r")) {
            throw CalibFiles.corrupt(source, "line " + no + ": CR LF line end; TensorRT writes LF");
        }
    }

    private static String clip(String s) {
        return s.length() <= 80 ? s : s.substring(0, 77) + "...";
    }

    /** The header line: {@code TRT-<version>-<algorithm>} or {@code 1}. */
    public String header() {
        return header;
    }

    /** The TensorRT version number of the header; 0 for the legacy header {@code 1}. */
    public int trtVersion() {
        return header.equals("1") ? 0 : Integer.parseInt(header.substring(4, header.indexOf('-', 4)));
    }

    /** The algorithm of the header, e.g. EntropyCalibration2; empty for the legacy header {@code 1}. */
    public String algorithm() {
        return header.equals("1") ? "" : header.substring(header.indexOf('-', 4) + 1);
    }

    /** Tensor name to scale, in file order. */
    public Map<String, Float> scales() {
        Map<String, Float> m = new LinkedHashMap<>();
        bits.forEach((k, v) -> m.put(k, Float.intBitsToFloat(v)));
        return m;
    }

    /**
     * A symmetric 8-bit table with {@code amax = scale * 127}, zero point 0, method {@code tensorrt:<algorithm>}
     * and no counts (the cache has none). Fails naming the tensor whose scale is not finite and >= 0 (TensorRT
     * writes an infinite scale for some tensors).
     */
    public CalibrationTable toTable(String modelFingerprint, String data) {
        String method = header.equals("1") ? "tensorrt" : "tensorrt:" + algorithm();
        Map<String, CalibrationTable.Entry> entries = new TreeMap<>();
        for (Map.Entry<String, Integer> e : bits.entrySet()) {
            float scale = Float.intBitsToFloat(e.getValue());
            float amax = scale * 127f;
            KilnArgumentException.check(Float.isFinite(amax) && scale >= 0f, "tensor '" + e.getKey()
                    + "' has scale " + scale + " in the TensorRT cache; a table needs a finite scale >= 0");
            entries.put(e.getKey(), new CalibrationTable.Entry(method, amax, scale, 0, -amax, amax, 0, 0, 0));
        }
        return new CalibrationTable(new CalibrationTable.Metadata(modelFingerprint, data, false,
                CalibrationTable.Metadata.currentKilnVersion(), 8), true, entries);
    }

    /** The file's text: header, {@code name: hex} lines in order, LF line ends, a trailing newline. */
    public String toText() {
        StringBuilder b = new StringBuilder(header).append('\n');
        bits.forEach((name, v) -> b.append(name).append(": ").append(Integer.toHexString(v)).append('\n'));
        return b.toString();
    }

    /** Writes the cache atomically. */
    public void write(Path file) {
        KilnArgumentException.check(file != null, "file must not be null");
        CalibFiles.writeAtomically(file, toText().getBytes(StandardCharsets.UTF_8));
    }

    @Override
    public String toString() {
        return "TensorRtCalibrationCache[" + header + ", " + bits.size() + " tensors]";
    }
}
