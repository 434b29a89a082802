package dev.kiln.server;

/**
 * Thrown from a running job's log callback when it must stop there: cancelled by its owner, or the server is
 * shutting down ({@link #shutdown}: the job goes back to the queue instead of ending).
 */
final class JobCancelledException extends RuntimeException {
    private final boolean shutdown;

    JobCancelledException(String id, boolean shutdown) {
        super("job " + id + (shutdown ? " was interrupted by shutdown" : " was cancelled"), null, false, false);
        this.shutdown = shutdown;
    }

    boolean shutdown() {
        return shutdown;
    }
}
