package dev.kiln;

/**
 * The one unchecked exception family of Kiln. The message says what is wrong and where (file, node, tensor,
 * argument); the code says what kind of failure it is. Subclasses exist only where callers catch them apart.
 */
public class KilnException extends RuntimeException {
    private final ErrorCode code;

    public KilnException(ErrorCode code, String message) {
        super(message);
        this.code = code;
    }

    public KilnException(ErrorCode code, String message, Throwable cause) {
        super(message, cause);
        this.code = code;
    }

    public ErrorCode code() {
        return code;
    }

    public static KilnException invalidModel(String message) {
        return new KilnException(ErrorCode.INVALID_MODEL, message);
    }

    public static KilnException invalidModel(String message, Throwable cause) {
        return new KilnException(ErrorCode.INVALID_MODEL, message, cause);
    }

    public static KilnException unsupported(String message) {
        return new KilnException(ErrorCode.UNSUPPORTED, message);
    }

    public static KilnException io(String message, Throwable cause) {
        return new KilnException(ErrorCode.IO, message, cause);
    }

    public static KilnException unavailable(String message) {
        return new KilnException(ErrorCode.UNAVAILABLE, message);
    }

    public static KilnException internal(String message, Throwable cause) {
        return new KilnException(ErrorCode.INTERNAL, message, cause);
    }
}
