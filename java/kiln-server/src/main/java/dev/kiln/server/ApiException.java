package dev.kiln.server;

/**
 * A request the server refuses or cannot serve: the HTTP status and a message that names what is wrong. The router
 * turns it into {@code {"error": message, "status": status}}; extra headers (Retry-After) ride along.
 */
public final class ApiException extends RuntimeException {
    private final int status;
    private final String header;
    private final String headerValue;

    public ApiException(int status, String message) {
        this(status, message, null, null);
    }

    public ApiException(int status, String message, String header, String headerValue) {
        super(message);
        this.status = status;
        this.header = header;
        this.headerValue = headerValue;
    }

    public int status() {
        return status;
    }

    /** An extra response header (e.g. Retry-After), or null. */
    public String header() {
        return header;
    }

    public String headerValue() {
        return headerValue;
    }

    static ApiException badRequest(String message) {
        return new ApiException(400, message);
    }

    static ApiException notFound(String message) {
        return new ApiException(404, message);
    }
}
