package dev.kiln.kernels;

import dev.kiln.ErrorCode;
import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;

/** Maps a native {@code kiln_status} to Kiln's exceptions: the one place where that happens. */
final class NativeStatus {
    private NativeStatus() {
    }

    /**
     * Returns normally for {@code KILN_OK}; otherwise throws: a bad argument as {@link KilnArgumentException}, no
     * device as {@link ErrorCode#UNAVAILABLE}, anything else as {@link ErrorCode#NATIVE}, each with the native
     * message and the function's name.
     */
    static void check(int status, String function, String backend, String lastError) {
        if (status == KilnNative.KILN_OK) {
            return;
        }
        String message = (lastError == null || lastError.isEmpty() ? "(no message)" : lastError) + " [" + backend
                + " backend, " + function + "]";
        switch (status) {
            case KilnNative.KILN_ERR_INVALID_ARGUMENT -> throw new KilnArgumentException(message);
            case KilnNative.KILN_ERR_OUT_OF_MEMORY -> throw new KilnException(ErrorCode.NATIVE, "out of memory: " + message);
            case KilnNative.KILN_ERR_NO_DEVICE -> throw new KilnException(ErrorCode.UNAVAILABLE, message);
            case KilnNative.KILN_ERR_DEVICE -> throw new KilnException(ErrorCode.NATIVE, "device error: " + message);
            default -> throw new KilnException(ErrorCode.NATIVE, "native error " + status + ": " + message);
        }
    }
}
