package dev.kiln.spark;

import dev.kiln.ErrorCode;
import dev.kiln.KilnException;

/**
 * Turns a failed Spark job (a SparkException: checked in Scala's eyes, so callers catch Exception) back into the {@link KilnException} a task threw: Spark wraps it in a SparkException whose
 * message carries the executor's stack trace; the user needs the one line that says what and where.
 */
final class SparkErrors {
    private SparkErrors() {
    }

    static KilnException unwrap(Exception e, String what) {
        for (Throwable t = e; t != null; t = t.getCause()) {
            if (t instanceof KilnException k) {
                return new KilnException(k.code(), k.getMessage(), e);
            }
        }
        // the task's exception did not come back as an object: its class and message head the text
        String m = String.valueOf(e.getMessage());
        int at = m.indexOf("dev.kiln.");
        if (at >= 0) {
            String line = m.substring(at).split("\n", 2)[0];
            int colon = line.indexOf(": ");
            return new KilnException(ErrorCode.INTERNAL, colon > 0 ? line.substring(colon + 2) : line, e);
        }
        return KilnException.internal(what + " failed: " + m.split("\n", 2)[0], e);
    }
}
