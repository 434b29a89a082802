package dev.kiln;

/** A bad argument, named in the message: the IllegalArgumentException of Kiln's exception family. */
public class KilnArgumentException extends KilnException {
    public KilnArgumentException(String message) {
        super(ErrorCode.INVALID_ARGUMENT, message);
    }

    /** Throws unless {@code condition} holds; {@code message} names the argument and what is wrong with it. */
    public static void check(boolean condition, String message) {
        if (!condition) {
            throw new KilnArgumentException(message);
        }
    }
}
