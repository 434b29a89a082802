package dev.kiln.tensorrt;

import dev.kiln.KilnArgumentException;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * One TensorRT optimization profile: a shape range per dynamic input. An engine may hold several (say batch 1-8 and
 * batch 32-64); the runner picks the first whose ranges hold the given inputs.
 */
public final class OptimizationProfile {
    private final Map<String, ShapeRange> ranges;

    private OptimizationProfile(Map<String, ShapeRange> ranges) {
        KilnArgumentException.check(!ranges.isEmpty(), "an optimization profile needs at least one input's shapes");
        this.ranges = Collections.unmodifiableMap(new LinkedHashMap<>(ranges));
    }

    public static OptimizationProfile of(Map<String, ShapeRange> ranges) {
        KilnArgumentException.check(ranges != null, "ranges must not be null");
        return new OptimizationProfile(ranges);
    }

    /**
     * From trtexec-style specs, {@code name:1x3x224x224,other:1x10}, for min, opt and max; every input named in one
     * must be named in all three.
     */
    public static OptimizationProfile parse(String minSpec, String optSpec, String maxSpec) {
        Map<String, long[]> min = parseSpec(minSpec, "--min-shapes");
        Map<String, long[]> opt = parseSpec(optSpec, "--opt-shapes");
        Map<String, long[]> max = parseSpec(maxSpec, "--max-shapes");
        KilnArgumentException.check(min.keySet().equals(opt.keySet()) && opt.keySet().equals(max.keySet()),
                "min, opt and max shapes must name the same inputs, got " + min.keySet() + ", " + opt.keySet()
                        + " and " + max.keySet());
        Map<String, ShapeRange> ranges = new LinkedHashMap<>();
        for (String name : min.keySet()) {
            ranges.put(name, ShapeRange.of(name, min.get(name), opt.get(name), max.get(name)));
        }
        return new OptimizationProfile(ranges);
    }

    /**
     * Parses {@code name:dims[,name:dims]}; the shape is after the last ':' so that names like {@code x:0} work, and a
     * name may be quoted ('x:0') the way trtexec takes it.
     */
    static Map<String, long[]> parseSpec(String spec, String what) {
        KilnArgumentException.check(spec != null && !spec.isBlank(), what + ": give name:shape[,name:shape]");
        Map<String, long[]> out = new LinkedHashMap<>();
        for (String item : spec.split(",")) {
            int sep = item.lastIndexOf(':');
            KilnArgumentException.check(sep > 0, what + ": '" + item + "' is not name:shape (e.g. input:1x3x224x224)");
            String name = item.substring(0, sep).trim();
            if (name.length() >= 2 && name.startsWith("'") && name.endsWith("'")) {
                name = name.substring(1, name.length() - 1);
            }
            KilnArgumentException.check(out.put(name, ShapeRange.parseDims(item.substring(sep + 1), what + " "
                    + name)) == null, what + ": input '" + name + "' is named twice");
        }
        return out;
    }

    /** Input name to its range, in the order given. */
    public Map<String, ShapeRange> ranges() {
        return ranges;
    }

    /** True when every given input's shape is within this profile's range for it. */
    public boolean accepts(Map<String, long[]> shapes) {
        for (Map.Entry<String, ShapeRange> e : ranges.entrySet()) {
            long[] s = shapes.get(e.getKey());
            if (s == null || !e.getValue().contains(s)) {
                return false;
            }
        }
        return true;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof OptimizationProfile p && ranges.equals(p.ranges);
    }

    @Override
    public int hashCode() {
        return ranges.hashCode();
    }

    @Override
    public String toString() {
        return ranges.toString();
    }
}
