package dev.kiln.tensorrt;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * Every message TensorRT and its ONNX parser sent during one build or load, kept so that a failure's exception
 * carries all of them (errors first) with the failing node named; warnings and info go to {@code sink} as they come.
 * Thread-safe: TensorRT may log from its own threads.
 */
public final class BuildLog {
    /** TensorRT's severities, most severe first. */
    public enum Severity { INTERNAL_ERROR, ERROR, WARNING, INFO, VERBOSE }

    /** One message. */
    public record Message(Severity severity, String text) {
        @Override
        public String toString() {
            return severity.name().toLowerCase(java.util.Locale.ROOT).replace('_', ' ') + ": " + text;
        }
    }

    /** One ONNX parser error: the node (index, name, op) it is about, where known, and TensorRT's description. */
    public record ParserError(int node, String nodeName, String nodeOperator, String code, String description) {
        @Override
        public String toString() {
            String where = node < 0 ? "" : "node " + node + (nodeName == null || nodeName.isEmpty() ? ""
                    : " '" + nodeName + "'") + (nodeOperator == null || nodeOperator.isEmpty() ? ""
                    : " (" + nodeOperator + ")") + ": ";
            return where + description + (code == null ? "" : " [" + code + "]");
        }
    }

    private final List<Message> messages = new ArrayList<>();
    private final Consumer<String> sink;
    private final Severity sinkLevel;

    /** {@code sink} receives messages at {@code sinkLevel} or more severe as they arrive. */
    public BuildLog(Consumer<String> sink, Severity sinkLevel) {
        this.sink = sink;
        this.sinkLevel = sinkLevel;
    }

    public synchronized void add(Severity s, String text) {
        Message m = new Message(s, text == null ? "" : text.strip());
        messages.add(m);
        if (s.ordinal() <= sinkLevel.ordinal()) {
            sink.accept("tensorrt " + m);
        }
    }

    public synchronized List<Message> messages() {
        return List.copyOf(messages);
    }

    /** The errors (internal errors and errors), in order. */
    public synchronized List<Message> errors() {
        return messages.stream().filter(m -> m.severity().ordinal() <= Severity.ERROR.ordinal()).toList();
    }

    /**
     * The message of a failed step: {@code what} failed, then the parser errors (each naming its node), then every
     * TensorRT error and, for context, the last warnings.
     */
    public synchronized String failure(String what, List<ParserError> parserErrors) {
        StringBuilder b = new StringBuilder(what);
        if (!parserErrors.isEmpty()) {
            ParserError first = parserErrors.get(0);
            if (first.nodeName() != null && !first.nodeName().isEmpty()) {
                b.append(" at node '").append(first.nodeName()).append("'");
                if (first.nodeOperator() != null && !first.nodeOperator().isEmpty()) {
                    b.append(" (").append(first.nodeOperator()).append(")");
                }
            }
            b.append(": ").append(first.description());
            for (ParserError e : parserErrors) {
                b.append("\n  parser ").append(e);
            }
        } else {
            List<Message> errs = errors();
            if (!errs.isEmpty()) {
                b.append(": ").append(errs.get(errs.size() - 1).text());
            }
        }
        for (Message m : errors()) {
            b.append("\n  tensorrt ").append(m);
        }
        List<Message> warnings = messages.stream().filter(m -> m.severity() == Severity.WARNING).toList();
        for (Message m : warnings.subList(Math.max(0, warnings.size() - 5), warnings.size())) {
            b.append("\n  tensorrt ").append(m);
        }
        return b.toString();
    }
}
