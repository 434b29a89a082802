package dev.kiln.pipeline;

/** Versions of Kiln and the runtimes it carries, for --version, doctor and reports. */
public final class Versions {
    private Versions() {
    }


    public static String kiln() {
        String v = Versions.class.getPackage().getImplementationVersion();
        return v == null ? "0.1.0-SNAPSHOT" : v;
    }

    public static String tensorflow() {
        try {
            return org.tensorflow.TensorFlow.version();
        } catch (Throwable t) {
            return "unavailable (" + t.getMessage() + ")";
        }
    }

    public static String onnxRuntime() {
        try {
            return ai.onnxruntime.OrtEnvironment.getEnvironment().getVersion();
        } catch (Throwable t) {
            return "unavailable (" + t.getMessage() + ")";
        }
    }

    public static String javacpp() {
        String v = org.bytedeco.javacpp.Loader.class.getPackage().getImplementationVersion();
        return v == null ? "unknown" : v;
    }
}
