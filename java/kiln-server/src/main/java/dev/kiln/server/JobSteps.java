package dev.kiln.server;

import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * Progress of a running optimize job, read from its log lines ({@code "import     ..."}, {@code "export ..."}): the
 * step is the line's first word, the percent a coarse share of the work done when that step is reached. Percent only
 * grows; lines that name no known step (notes, continuation lines) leave it as it is.
 */
final class JobSteps {
    private static final Map<String, Integer> PERCENT = new LinkedHashMap<>();

    static {
        PERCENT.put("signature", 2);
        PERCENT.put("import", 5);
        PERCENT.put("optimize", 20);
        PERCENT.put("low", 25);
        PERCENT.put("prune", 30);
        PERCENT.put("calibrate", 45);
        PERCENT.put("export", 60);
        PERCENT.put("evaluate", 80);
        PERCENT.put("report", 95);
    }

    private String step = "starting";
    private int percent;

    /** Takes one log line; true when the step changed. */
    boolean accept(String line) {
        String s = line.strip();
        int sp = s.indexOf(' ');
        String word = (sp < 0 ? s : s.substring(0, sp)).toLowerCase(Locale.ROOT);
        Integer p = PERCENT.get(word);
        if (p == null) {
            return false;
        }
        String name = word.equals("low") ? "low rank" : word;
        boolean changed = !name.equals(step);
        step = name;
        percent = Math.max(percent, p);
        return changed;
    }

    String step() {
        return step;
    }

    int percent() {
        return percent;
    }
}
