package dev.kiln.server;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.logging.Level;
import java.util.logging.Logger;

/**
 * The server's one HTTP handler: routes by method and path pattern ({@code /v1/jobs/{id}}; a last segment
 * {@code {name*}} takes the rest of the path), turns {@link ApiException}s into JSON errors, and answers 404 and 405
 * itself. Small on purpose: the job API has a dozen routes, which needs no framework.
 */
final class Router implements HttpHandler {
    private static final Logger LOG = Logger.getLogger(Router.class.getName());

    /** What a route does with a request and its path parameters. */
    interface Handler {
        void handle(Request request) throws IOException;
    }

    private record Route(String method, String[] segments, Handler handler) { }

    private final List<Route> routes = new ArrayList<>();
    private final java.util.function.LongConsumer bytesOut;

    Router(java.util.function.LongConsumer bytesOut) {
        this.bytesOut = bytesOut;
    }

    Router route(String method, String pattern, Handler handler) {
        routes.add(new Route(method, split(pattern), handler));
        return this;
    }

    @Override
    public void handle(HttpExchange exchange) throws IOException {
        Request request = new Request(exchange, bytesOut);
        try (exchange) {
            try {
                dispatch(request);
            } catch (ApiException e) {
                if (e.header() != null) {
                    exchange.getResponseHeaders().set(e.header(), e.headerValue());
                }
                request.sendError(e.status(), e.getMessage());
            } catch (RuntimeException e) {
                LOG.log(Level.WARNING, "internal error on " + exchange.getRequestMethod() + " "
                        + exchange.getRequestURI(), e);
                request.sendError(500, "internal error: " + e);
            }
        } catch (IOException e) {
            // the client went away mid-response: nothing to answer
            LOG.log(Level.FINE, "I/O error answering " + exchange.getRequestURI(), e);
        }
    }

    private void dispatch(Request request) throws IOException {
        String[] path = split(request.path());
        boolean pathMatched = false;
        for (Route r : routes) {
            Map<String, String> params = match(r.segments, path);
            if (params == null) {
                continue;
            }
            pathMatched = true;
            if (r.method.equals(request.method()) || r.method.equals("GET") && request.method().equals("HEAD")) {
                request.params(params);
                r.handler.handle(request);
                return;
            }
        }
        if (pathMatched) {
            throw new ApiException(405, request.method() + " is not allowed on " + request.path());
        }
        throw ApiException.notFound("no such resource: " + request.path());
    }

    private static Map<String, String> match(String[] pattern, String[] path) {
        Map<String, String> params = new HashMap<>();
        for (int i = 0; i < pattern.length; i++) {
            String p = pattern[i];
            if (p.startsWith("{") && p.endsWith("*}")) {
                if (i >= path.length) {
                    return null;
                }
                params.put(p.substring(1, p.length() - 2), String.join("/", List.of(path).subList(i, path.length)));
                return params;
            }
            if (i >= path.length) {
                return null;
            }
            if (p.startsWith("{") && p.endsWith("}")) {
                params.put(p.substring(1, p.length() - 1), path[i]);
            } else if (!p.equals(path[i])) {
                return null;
            }
        }
        return pattern.length == path.length ? params : null;
    }

    private static String[] split(String path) {
        String p = path.startsWith("/") ? path.substring(1) : path;
        if (p.endsWith("/")) {
            p = p.substring(0, p.length() - 1);
        }
        return p.isEmpty() ? new String[0] : p.split("/", -1);
    }
}
