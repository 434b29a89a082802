package dev.kiln;

/** What kind of failure a {@link KilnException} reports; also the CLI's exit status family. */
public enum ErrorCode {
    /** A caller passed a bad argument (null, wrong length, bins, bits, axis ...). */
    INVALID_ARGUMENT(2),
    /** A model file is missing, unreadable, truncated or not what it claims to be. */
    INVALID_MODEL(3),
    /** The model uses something Kiln does not handle (an op, control flow, a dtype). */
    UNSUPPORTED(4),
    /** Reading or writing a file failed. */
    IO(5),
    /** A backend or runtime asked for is not available (no native library, no GPU). */
    UNAVAILABLE(6),
    /** The native library reported an error. */
    NATIVE(7),
    /** A result failed verification against the oracle. */
    VERIFICATION_FAILED(8),
    /** A declared size is over one of Kiln's limits ({@link Limits}) or the Java heap: refused before allocating. */
    RESOURCE_LIMIT(9),
    /** A bug in Kiln. */
    INTERNAL(70);

    private final int exitStatus;

    ErrorCode(int exitStatus) {
        this.exitStatus = exitStatus;
    }

    /** The process exit status the CLI uses for this failure. */
    public int exitStatus() {
        return exitStatus;
    }
}
