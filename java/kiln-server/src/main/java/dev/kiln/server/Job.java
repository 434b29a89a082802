package dev.kiln.server;

/**
 * One job as stored: who submitted it, its state and progress, its canonical options, the SHA-256 cache key of model
 * bytes + options (+ calibration data), where its result is (relative to the data directory; for a reused result the
 * earlier job's), and why it failed. {@code summary} is the report summary as JSON, null until done;
 * {@code expiredMs}: when the retention limit removed its outputs, null while they exist.
 */
public record Job(String id, String tenant, JobState state, long createdMs, Long startedMs, Long finishedMs,
                  String step, int percent, String options, String modelName, long modelBytes, String cacheKey,
                  String resultDir, String reusedFrom, String error, String summary, int attempts,
                  boolean cancelRequested, Long expiredMs) {
}
