package dev.kiln.tensorrt;

/** Synthetic manifests for the tests: what a build on a given GPU and TensorRT would record. */
final class Manifests {
    private Manifests() {
    }

    static EngineManifest built(String trt, String gpu, String cc, EngineOptions o, String engineSha, long bytes) {
        return new EngineManifest(EngineManifest.FORMAT, EngineManifest.FORMAT_VERSION, EngineManifest.BUILT,
                new EngineManifest.FileRef("model.engine", engineSha, bytes),
                new EngineManifest.FileRef("saved_model", "sha256:aa", -1),
                new EngineManifest.FileRef("model.onnx", "sha256:bb", 1234),
                java.util.List.of(new EngineManifest.FileRef("model.onnx.data", "sha256:ee", 4096)), trt, "13.1",
                new EngineManifest.Gpu(gpu, cc), EngineManifest.Options.of(o), null,
                new EngineManifest.FileRef("timing.cache", "sha256:cc", -1), "2026-12-01T12:00:00Z", 12.5, null);
    }

    static EngineManifest built(String trt, String gpu, String cc, EngineOptions o) {
        return built(trt, gpu, cc, o, "sha256:dd", 10);
    }
}
