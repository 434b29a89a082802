package dev.kiln.cli;

import java.io.IOException;
import java.util.logging.FileHandler;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;

/**
 * What library log records reach the console: warnings and errors only, unless {@code KILN_VERBOSE=1} (everything);
 * {@code KILN_LOG_FILE=FILE} keeps every record in FILE. Kiln's own output is printed, not logged, so this only quiets
 * the informational records of Kiln's libraries (kernel backend selection and the like).
 */
final class ConsoleLogging {
    private ConsoleLogging() {
    }

    static void configure() {
        Logger root = Logger.getLogger("");
        Level console = System.getenv("KILN_VERBOSE") != null ? Level.ALL : Level.WARNING;
        for (Handler h : root.getHandlers()) {
            h.setLevel(console);
        }
        root.setLevel(Level.ALL.equals(console) ? Level.ALL : Level.INFO);
        String file = System.getenv("KILN_LOG_FILE");
        if (file != null && !file.isBlank()) {
            try {
                FileHandler h = new FileHandler(file, true);
                h.setFormatter(new SimpleFormatter());
                h.setLevel(Level.ALL);
                root.addHandler(h);
            } catch (IOException | RuntimeException e) {
                System.err.println("kiln: warning: cannot log to " + file + ": " + e.getMessage());
            }
        }
    }
}
