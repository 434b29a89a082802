package dev.kiln.bench;

import dev.kiln.eval.RandomInputs;
import dev.kiln.graph.Graph;
import dev.kiln.graph.Shape;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorType;
import dev.kiln.onnx.OnnxExporter;
import dev.kiln.onnx.OnnxRunner;
import dev.kiln.passes.Passes;
import dev.kiln.tensorflow.ImportOptions;
import dev.kiln.tensorflow.KerasLstmModels;
import dev.kiln.tensorflow.RecurrentLayers;
import dev.kiln.tensorflow.TfImporter;
import dev.kiln.tensorflow.TfRunner;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * The three ONNX forms of a Keras LSTM side by side on ONNX Runtime (CPU), beside TensorFlow on the original
 * SavedModel: unrolled at import (a fixed number of steps, {@code --rnn unroll --input-shapes}), one ONNX LSTM
 * ({@code --rnn keep}) and an ONNX Loop over the cell ({@code --rnn loop}); the last two take any length. The model is
 * the shared LSTM(32) made to take any number of steps; each form is timed at 5 and 50 steps, batch 1 and 32, calls
 * interleaved round-robin; median and p90 per call. Also the nodes of each imported graph and its import time (the
 * second import of each, the first warming up).
 *
 * <pre>java -cp ... dev.kiln.bench.RecurrentFormsBenchmark [runs=200] [threads=2] [sharedModelsDir]</pre>
 */
public final class RecurrentFormsBenchmark {
    private RecurrentFormsBenchmark() {
    }

    public static void main(String[] args) throws Exception {
        int runs = args.length > 0 ? Integer.parseInt(args[0]) : 200;
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : 2;
        Path shared = Path.of(args.length > 2 ? args[2] : "../shared/models").resolve(KerasLstmModels.SHARED_NAME);
        Path work = Files.createTempDirectory("kiln-rnn-bench");
        Path model = KerasLstmModels.anyLength(shared, work.resolve("lstm_any_length"));
        System.out.println("load average at start: " + OnnxLatencyBenchmark.loadAverage());
        System.out.println("ONNX Runtime " + OnnxRunner.ortVersion() + ", " + threads + " intra-op threads, " + runs
                + " runs; TF Java " + org.tensorflow.TensorFlow.version() + " on the original SavedModel");
        System.out.println("| steps | batch | TF original median / p90 ms | ORT unrolled | ORT one LSTM | ORT Loop "
                + "| nodes unrolled / LSTM / Loop | import ms unrolled / LSTM / Loop |");
        System.out.println("|---|---|---|---|---|---|---|---|");
        for (int steps : new int[] {5, 50}) {
            ImportOptions unroll = ImportOptions.builder().recurrentLayers(RecurrentLayers.UNROLL)
                    .inputShapes(Map.of("input_1", Shape.of(-1, steps, 3))).build();
            Exported u = export(model, unroll, work.resolve("unrolled" + steps + ".onnx"));
            Exported k = export(model, ImportOptions.builder().recurrentLayers(RecurrentLayers.KEEP).build(),
                    work.resolve("lstm" + steps + ".onnx"));
            Exported l = export(model, ImportOptions.builder().recurrentLayers(RecurrentLayers.LOOP).build(),
                    work.resolve("loop" + steps + ".onnx"));
            for (int batch : new int[] {1, 32}) {
                SignatureTensor in = k.graph.inputs().get(0);
                Map<String, Tensor> feeds = RandomInputs.forSignature(List.of(new SignatureTensor(in.name(),
                        in.tensor(), new TensorType(in.type().dtype(), Shape.of(batch, steps, 3)))), 1, batch);
                try (TfRunner tf = TfRunner.open(model, ImportOptions.defaults());
                     OnnxRunner ou = OnnxRunner.open(u.path, threads);
                     OnnxRunner ok = OnnxRunner.open(k.path, threads);
                     OnnxRunner ol = OnnxRunner.open(l.path, threads)) {
                    double[][] t = OnnxLatencyBenchmark.interleaved(runs, () -> tf.run(feeds), () -> ou.run(feeds),
                            () -> ok.run(feeds), () -> ol.run(feeds));
                    System.out.printf("| %d | %d | %s | %s | %s | %s | %d / %d / %d | %.0f / %.0f / %.0f |%n", steps,
                            batch, ms(t[0]), ms(t[1]), ms(t[2]), ms(t[3]), u.graph.size(), k.graph.size(),
                            l.graph.size(), u.importMillis, k.importMillis, l.importMillis);
                }
            }
        }
        System.out.println("load average at end: " + OnnxLatencyBenchmark.loadAverage());
    }

    private record Exported(Path path, Graph graph, double importMillis) {
    }

    private static Exported export(Path model, ImportOptions o, Path onnx) {
        TfImporter.load(model, o); // warm-up: the first import of a JVM also loads TensorFlow and JIT-compiles Kiln
        long t0 = System.nanoTime();
        Graph g = TfImporter.load(model, o);
        double millis = (System.nanoTime() - t0) / 1e6;
        Passes.optimizeForInference().run(g);
        OnnxExporter.fp32().export(g, onnx);
        return new Exported(onnx, g, millis);
    }

    private static String ms(double[] medianAndP90) {
        return String.format("%.3f / %.3f", medianAndP90[0], medianAndP90[1]);
    }
}
