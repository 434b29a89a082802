package dev.kiln.kernels;

import dev.kiln.ErrorCode;
import dev.kiln.KilnException;

import java.util.List;

/**
 * What loading one native library found: whether it is usable, one line saying why or what is there, the lines
 * {@code kiln doctor} prints under it (files found or missing, versions, devices), and the cause of a failure.
 */
public interface NativeProbe {
    boolean available();

    /** One line: what is missing, or what was loaded. */
    String reason();

    /** Lines for {@code kiln doctor}, one fact each; may be empty. */
    List<String> details();

    /** The exception behind a failure, or null. */
    Throwable cause();

    /** Throws {@link ErrorCode#UNAVAILABLE} with the reason and its cause unless available. */
    default void require() {
        if (!available()) {
            throw new KilnException(ErrorCode.UNAVAILABLE, reason(), cause());
        }
    }
}
