package dev.kiln.server;

import dev.kiln.tensorrt.TensorRtProbe;

/**
 * How many TensorRT engine builds the server runs at once: one per GPU that kiln-tensorrt's probe finds, or the
 * number configured (tests give fake slots). With none, a job asking for {@code tensorrt} runs on a CPU worker and
 * writes what {@code kiln optimize --format tensorrt} writes without a GPU: the ONNX, a manifest and a trtexec plan.
 */
record EngineSlots(int slots, int probed, String reason) {

    /** {@code configured} null: probe this machine. */
    static EngineSlots of(Integer configured) {
        if (configured != null) {
            return new EngineSlots(configured, -1, "configured");
        }
        TensorRtProbe.Result r = TensorRtProbe.probe();
        int gpus = TensorRtProbe.deviceCount();
        return new EngineSlots(gpus, gpus, r.reason());
    }

    /** One line for /readyz and the log. */
    String describe() {
        if (slots > 0) {
            return slots + " GPU slot(s) (" + reason + "): one TensorRT engine build per GPU at a time";
        }
        return "no GPU slot (" + reason + "): tensorrt jobs write the ONNX and a trtexec plan on the CPU workers";
    }
}
