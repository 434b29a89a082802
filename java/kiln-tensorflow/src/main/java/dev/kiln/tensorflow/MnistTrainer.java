package dev.kiln.tensorflow;

import dev.kiln.KilnException;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import org.tensorflow.Graph;
import org.tensorflow.Operation;
import org.tensorflow.Output;
import org.tensorflow.Result;
import org.tensorflow.Session;
import org.tensorflow.exceptions.TensorFlowException;
import org.tensorflow.proto.ConfigProto;
import org.tensorflow.proto.DataType;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Consumer;

/**
 * Trains {@link MnistCnn} on {@link ExampleData#TRAIN} with TF Java in graph mode: softmax cross-entropy, gradients
 * from {@link Graph#addGradients}, Adam ({@code ApplyAdam} on {@code VariableV2}s), mini-batches in an order drawn
 * from {@link ExampleModels#SEED}. One thread for TensorFlow, so two runs give bit-identical weights. Afterwards the
 * batch norm's population mean and variance are measured on the training images.
 */
final class MnistTrainer {
    static final int BATCH = 64;
    static final int EPOCHS = 5;
    static final float LEARNING_RATE = 0.003f;
    private static final float BETA1 = 0.9f;
    private static final float BETA2 = 0.999f;
    private static final float ADAM_EPSILON = 1e-7f;
    private static final int PIXELS = ExampleData.SIDE * ExampleData.SIDE;
    private static final int STATS_BATCH = 500;

    private MnistTrainer() {
    }

    /** Trains and returns every parameter of the serving graph by variable name (including the BN statistics). */
    static Map<String, float[]> train(Consumer<String> log) {
        long t0 = System.nanoTime();
        float[] images = ExampleData.pixels(ExampleData.TRAIN.start(), ExampleData.TRAIN.count());
        int[] labels = ExampleData.labels(ExampleData.TRAIN);
        int n = labels.length;
        try (Graph g = new Graph()) {
            ExampleModels.Builder b = new ExampleModels.Builder(g);
            Output<?> image = b.placeholder("image", -1, ExampleData.SIDE, ExampleData.SIDE, 1);
            Output<?> onehot = b.placeholder("labels", -1, ExampleData.CLASSES);
            Output<?> logits = MnistCnn.logits(b, image, initialValues(b), true);
            Output<?> xent = b.ob("SoftmaxCrossEntropyWithLogits", "loss/xent").addInput(logits).addInput(onehot)
                    .setAttr("T", DataType.DT_FLOAT).build().output(0);
            Output<?> loss = reduceMean(b, xent, "loss", 0);

            List<String> names = new ArrayList<>(MnistCnn.TRAINABLE.keySet());
            Output<?>[] reads = names.stream().map(v -> g.operation(v + "/read").output(0)).toArray(Output<?>[]::new);
            Output<?>[] grads = g.addGradients(loss, reads);
            List<Operation> updates = adam(b, names, grads);

            // population statistics of the batch norm's input, for the serving graph's inference-form BN
            Output<?> pre = g.operation("conv1/BiasAdd").output(0);
            Output<?> mean = reduceMean(b, pre, "stats/mean", 0, 1, 2);
            Output<?> meanSquare = reduceMean(b, b.op("Square", "stats/square", pre), "stats/mean_square", 0, 1, 2);

            ConfigProto oneThread = ConfigProto.newBuilder().setIntraOpParallelismThreads(1)
                    .setInterOpParallelismThreads(1).build();
            try (Session s = new Session(g, oneThread)) {
                for (Operation init : b.inits) {
                    s.runner().addTarget(init).run();
                }
                SplittableRandom rnd = new SplittableRandom(ExampleModels.SEED);
                int[] order = new int[n];
                for (int i = 0; i < n; i++) {
                    order[i] = i;
                }
                int step = 0;
                for (int epoch = 1; epoch <= EPOCHS; epoch++) {
                    shuffle(order, rnd);
                    double lossSum = 0;
                    int batches = 0;
                    for (int at = 0; at + BATCH <= n; at += BATCH) {
                        step++;
                        float[] x = new float[BATCH * PIXELS];
                        float[] y = new float[BATCH * ExampleData.CLASSES];
                        for (int i = 0; i < BATCH; i++) {
                            int k = order[at + i];
                            System.arraycopy(images, k * PIXELS, x, i * PIXELS, PIXELS);
                            y[i * ExampleData.CLASSES + labels[k]] = 1f;
                        }
                        Map<Output<?>, Tensor> feeds = new LinkedHashMap<>();
                        feeds.put(image, Tensor.ofFloats(Shape.of(BATCH, ExampleData.SIDE, ExampleData.SIDE, 1), x));
                        feeds.put(onehot, Tensor.ofFloats(Shape.of(BATCH, ExampleData.CLASSES), y));
                        feeds.put(g.operation("adam/beta1_power").output(0),
                                Tensor.scalar((float) Math.pow(BETA1, step)));
                        feeds.put(g.operation("adam/beta2_power").output(0),
                                Tensor.scalar((float) Math.pow(BETA2, step)));
                        lossSum += run(s, feeds, List.of(loss), updates).get(0).floats()[0];
                        batches++;
                    }
                    log.accept(String.format("epoch %d/%d: mean loss %.4f", epoch, EPOCHS, lossSum / batches));
                }
                Map<String, float[]> trained = new LinkedHashMap<>();
                List<Tensor> values = run(s, Map.of(), List.of(reads), List.of());
                for (int i = 0; i < names.size(); i++) {
                    trained.put(names.get(i), values.get(i).floats());
                }
                batchNormStatistics(s, image, mean, meanSquare, images, n, trained);
                log.accept(String.format("trained on %d images (%d epochs, batch %d) in %.1f s", n, EPOCHS, BATCH,
                        (System.nanoTime() - t0) / 1e9));
                return trained;
            }
        } catch (TensorFlowException | IllegalArgumentException e) {
            throw KilnException.internal("training the example MNIST CNN failed: " + e.getMessage(), e);
        }
    }

    /** He-uniform kernels from {@link ExampleModels#SEED}, zero biases, gamma 1 and beta 0. */
    private static Map<String, float[]> initialValues(ExampleModels.Builder b) {
        Map<String, float[]> m = new LinkedHashMap<>();
        MnistCnn.TRAINABLE.forEach((name, shape) -> {
            int size = (int) shape.numElements();
            if (name.endsWith("kernel")) {
                int fanIn = (int) (shape.numElements() / shape.dim(shape.rank() - 1));
                if (name.startsWith("dw")) {
                    fanIn = (int) (shape.dim(0) * shape.dim(1));
                }
                m.put(name, b.kernel(fanIn, size));
            } else {
                m.put(name, b.around(size, name.endsWith("gamma") ? 1f : 0f, 0f));
            }
        });
        return m;
    }

    /** One ApplyAdam per parameter, each after every gradient, so no update changes a weight a gradient still reads. */
    private static List<Operation> adam(ExampleModels.Builder b, List<String> names, Output<?>[] grads) {
        Output<?> beta1Power = b.placeholder("adam/beta1_power");
        Output<?> beta2Power = b.placeholder("adam/beta2_power");
        Output<?> lr = b.constFloat("adam/learning_rate", LEARNING_RATE);
        Output<?> beta1 = b.constFloat("adam/beta1", BETA1);
        Output<?> beta2 = b.constFloat("adam/beta2", BETA2);
        Output<?> epsilon = b.constFloat("adam/epsilon", ADAM_EPSILON);
        List<Operation> updates = new ArrayList<>();
        for (int i = 0; i < names.size(); i++) {
            String name = names.get(i);
            Shape shape = MnistCnn.TRAINABLE.get(name);
            float[] zeros = new float[(int) shape.numElements()];
            b.variable(name + "/adam_m", shape, zeros);
            b.variable(name + "/adam_v", shape, zeros);
            var op = b.ob("ApplyAdam", name + "/ApplyAdam").addInput(b.g.operation(name).output(0))
                    .addInput(b.g.operation(name + "/adam_m").output(0))
                    .addInput(b.g.operation(name + "/adam_v").output(0)).addInput(beta1Power).addInput(beta2Power)
                    .addInput(lr).addInput(beta1).addInput(beta2).addInput(epsilon).addInput(grads[i])
                    .setAttr("T", DataType.DT_FLOAT).setAttr("use_locking", false).setAttr("use_nesterov", false);
            for (Output<?> grad : grads) {
                op.addControlInput(grad.op());
            }
            updates.add(op.build());
        }
        return updates;
    }

    /** Per-channel mean and (population) variance of the BN's input over all training images. */
    private static void batchNormStatistics(Session s, Output<?> image, Output<?> mean, Output<?> meanSquare,
                                            float[] images, int n, Map<String, float[]> trained) {
        int c = MnistCnn.CHANNELS;
        double[] sum = new double[c];
        double[] sumSquare = new double[c];
        for (int at = 0; at < n; at += STATS_BATCH) {
            int count = Math.min(STATS_BATCH, n - at);
            float[] x = java.util.Arrays.copyOfRange(images, at * PIXELS, (at + count) * PIXELS);
            List<Tensor> r = run(s, Map.of(image, Tensor.ofFloats(Shape.of(count, ExampleData.SIDE,
                    ExampleData.SIDE, 1), x)), List.of(mean, meanSquare), List.of());
            float[] m = r.get(0).floats();
            float[] m2 = r.get(1).floats();
            for (int k = 0; k < c; k++) {
                sum[k] += (double) m[k] * count;
                sumSquare[k] += (double) m2[k] * count;
            }
        }
        float[] mu = new float[c];
        float[] variance = new float[c];
        for (int k = 0; k < c; k++) {
            mu[k] = (float) (sum[k] / n);
            variance[k] = (float) Math.max(0, sumSquare[k] / n - (sum[k] / n) * (sum[k] / n));
        }
        trained.put(MnistCnn.BN_MEAN, mu);
        trained.put(MnistCnn.BN_VARIANCE, variance);
    }

    private static Output<?> reduceMean(ExampleModels.Builder b, Output<?> x, String name, int... axes) {
        return b.ob("Mean", name).addInput(x).addInput(b.constInt(name + "/axes", axes))
                .setAttr("T", DataType.DT_FLOAT).setAttr("Tidx", DataType.DT_INT32).setAttr("keep_dims", false)
                .build().output(0);
    }

    private static List<Tensor> run(Session s, Map<Output<?>, Tensor> feeds, List<Output<?>> fetches,
                                    List<Operation> targets) {
        List<org.tensorflow.Tensor> owned = new ArrayList<>();
        try {
            Session.Runner r = s.runner();
            for (Map.Entry<Output<?>, Tensor> e : feeds.entrySet()) {
                org.tensorflow.Tensor t = TfTensors.toTf(e.getValue());
                owned.add(t);
                r.feed(e.getKey(), t);
            }
            fetches.forEach(r::fetch);
            targets.forEach(r::addTarget);
            List<Tensor> out = new ArrayList<>();
            try (Result res = r.run()) {
                for (int i = 0; i < fetches.size(); i++) {
                    out.add(TfTensors.fromTf(res.get(i)));
                }
            }
            return out;
        } finally {
            owned.forEach(org.tensorflow.Tensor::close);
        }
    }

    private static void shuffle(int[] a, SplittableRandom rnd) {
        for (int i = a.length - 1; i > 0; i--) {
            int j = rnd.nextInt(i + 1);
            int t = a[i];
            a[i] = a[j];
            a[j] = t;
        }
    }
}
