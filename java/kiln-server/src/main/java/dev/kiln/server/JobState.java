package dev.kiln.server;

import java.util.Locale;

/** Where a job is: waiting, being worked on, or finished one of three ways. */
public enum JobState {
    QUEUED, RUNNING, DONE, FAILED, CANCELLED;

    /** The name in the API and the database: lower case. */
    public String wire() {
        return name().toLowerCase(Locale.ROOT);
    }

    public boolean finished() {
        return this == DONE || this == FAILED || this == CANCELLED;
    }

    static JobState parse(String s) {
        for (JobState v : values()) {
            if (v.wire().equals(s)) {
                return v;
            }
        }
        throw ApiException.badRequest("unknown job state '" + s + "' (known: queued, running, done, failed, "
                + "cancelled)");
    }
}
