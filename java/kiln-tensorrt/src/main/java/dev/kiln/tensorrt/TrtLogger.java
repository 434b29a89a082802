package dev.kiln.tensorrt;

import org.bytedeco.tensorrt.nvinfer.ILogger;

/**
 * TensorRT's logger implemented in Java: every message goes into a {@link BuildLog}. TensorRT keeps the pointer for
 * the builder's or runtime's lifetime, so an instance must outlive them (the builder and runner hold it).
 */
final class TrtLogger extends ILogger {
    private final BuildLog log;

    TrtLogger(BuildLog log) {
        this.log = log;
    }

    @Override
    public void log(Severity severity, String msg) {
        // called from native code: never let an exception escape into TensorRT
        try {
            log.add(map(severity), msg);
        } catch (RuntimeException ignored) {
            // a logging failure must not fail the build
        }
    }

    static BuildLog.Severity map(Severity s) {
        if (s == null) {
            return BuildLog.Severity.INFO;
        }
        return switch (s) {
            case kINTERNAL_ERROR -> BuildLog.Severity.INTERNAL_ERROR;
            case kERROR -> BuildLog.Severity.ERROR;
            case kWARNING -> BuildLog.Severity.WARNING;
            case kINFO -> BuildLog.Severity.INFO;
            default -> BuildLog.Severity.VERBOSE;
        };
    }
}
