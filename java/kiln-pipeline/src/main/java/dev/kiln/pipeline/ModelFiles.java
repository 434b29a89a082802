package dev.kiln.pipeline;

import dev.kiln.KilnException;
import dev.kiln.eval.ModelRunner;
import dev.kiln.graph.Graph;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.onnx.OnnxRunner;
import dev.kiln.tensorflow.ImportOptions;
import dev.kiln.tensorflow.TfImporter;
import dev.kiln.tensorflow.TfRunner;
import dev.kiln.tensorrt.EngineRunner;
import dev.kiln.tflite.TfliteRunner;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.function.Consumer;

/** What kind of model a path holds, importing it, and opening it on a runtime: shared by the jobs. */
final class ModelFiles {
    private ModelFiles() {
    }

    /** A model opened on one runtime, with its signature inputs. */
    record Opened(ModelRunner runner, List<SignatureTensor> inputs) implements AutoCloseable {
        @Override
        public void close() {
            runner.close();
        }
    }

    /** Imports {@code model}, saying which signature was used when it was not the one asked for by default. */
    static Graph load(Path model, ImportOptions options, Consumer<String> log) {
        Graph g = TfImporter.load(model, options);
        String note = g.metadata().get("signature_note");
        if (note != null) {
            log.accept("signature  " + note);
        }
        return g;
    }

    /**
     * The runtime that reads this model natively: TensorFlow for a SavedModel or .pb, ONNX Runtime for .onnx, the
     * TFLite interpreter for .tflite, TensorRT for an .engine (or .plan) with Kiln's manifest beside it.
     */
    static BenchRuntime nativeRuntime(Path model) {
        if (!Files.exists(model)) {
            throw KilnException.invalidModel("model " + model + " does not exist");
        }
        String name = model.getFileName() == null ? "" : model.getFileName().toString().toLowerCase(Locale.ROOT);
        if (Files.isDirectory(model)) {
            if (Files.isRegularFile(model.resolve("saved_model.pb"))) {
                return BenchRuntime.TENSORFLOW;
            }
            throw KilnException.invalidModel(model + " is a directory without saved_model.pb: not a SavedModel");
        }
        if (name.endsWith(".onnx")) {
            return BenchRuntime.ONNXRUNTIME;
        }
        if (name.endsWith(".pb")) {
            return BenchRuntime.TENSORFLOW;
        }
        if (name.endsWith(".tflite")) {
            return BenchRuntime.TFLITE;
        }
        if (name.endsWith(".engine") || name.endsWith(".plan")) {
            return BenchRuntime.TENSORRT;
        }
        throw KilnException.invalidModel(model + " is not a model Kiln can run: expected a SavedModel directory, a "
                + "frozen GraphDef .pb, an .onnx, a .tflite or a TensorRT .engine file");
    }

    /**
     * Opens {@code model} on its native runtime; {@code threads} applies to ONNX Runtime (0: its default) and to the
     * TFLite interpreter (0: one thread).
     */
    static Opened open(Path model, ImportOptions options, int threads) {
        if (nativeRuntime(model) == BenchRuntime.TENSORRT) {
            // checked against its manifest and this machine's TensorRT and GPU before TensorRT reads it
            EngineRunner r = EngineRunner.open(model, line -> { });
            return new Opened(r, r.inputSignature());
        }
        if (nativeRuntime(model) == BenchRuntime.TFLITE) {
            TfliteRunner r = TfliteRunner.open(model, Math.max(1, threads));
            return new Opened(r, r.inputSignature());
        }
        if (nativeRuntime(model) == BenchRuntime.ONNXRUNTIME) {
            OnnxRunner r = OnnxRunner.open(model, threads);
            return new Opened(r, r.inputSignature());
        }
        TfRunner r = TfRunner.open(model, options);
        return new Opened(r, r.inputs());
    }
}
