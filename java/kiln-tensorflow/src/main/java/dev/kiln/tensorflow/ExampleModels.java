package dev.kiln.tensorflow;

import dev.kiln.KilnException;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;
import org.tensorflow.Graph;
import org.tensorflow.GraphOperation;
import org.tensorflow.Operation;
import org.tensorflow.OperationBuilder;
import org.tensorflow.Output;
import org.tensorflow.SavedModelBundle;
import org.tensorflow.Session;
import org.tensorflow.Signature;
import org.tensorflow.ndarray.buffer.FloatDataBuffer;
import org.tensorflow.proto.DataType;
import org.tensorflow.types.TFloat32;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Small real SavedModels built with TF Java, for the default {@code kiln optimize} run and for tests.
 *
 * <p>Every model keeps its weights in TF1-style variables ({@code VariableV2} + {@code Assign}, saved to the
 * {@code variables/} checkpoint), so importing one exercises the freeze step. {@link #trainedMnistCnn} is trained on
 * the MNIST slice shipped with Kiln ({@link ExampleData}); the others are <b>not trained</b>: their weights are
 * initialised deterministically from a fixed seed ({@link #SEED}, He-style uniform for kernels, small non-trivial
 * values for biases and batch-norm statistics), so the same method always writes the same model. Several models carry
 * {@code Identity}, {@code StopGradient}, {@code CheckNumerics} and a {@code NoOp} control dependency for the
 * strip pass to remove. Each method writes a SavedModel directory (tag {@code serve}, signature
 * {@code serving_default}) and returns it.
 */
public final class ExampleModels {
    /** The seed all weights are drawn from. */
    public static final long SEED = 20240611L;

    private ExampleModels() {
    }

    /** All example models by name, for tests that run every one. */
    public static Map<String, Function<Path, Path>> all() {
        Map<String, Function<Path, Path>> m = new LinkedHashMap<>();
        m.put("exampleCnn", ExampleModels::exampleCnn);
        m.put("convBnReluPoolDense", ExampleModels::convBnReluPoolDense);
        m.put("depthwiseConv", ExampleModels::depthwiseConv);
        m.put("residualAdd", ExampleModels::residualAdd);
        m.put("concat", ExampleModels::concat);
        m.put("twoInputs", ExampleModels::twoInputs);
        m.put("twoOutputs", ExampleModels::twoOutputs);
        m.put("kerasStyleBatchNorm", ExampleModels::kerasStyleBatchNorm);
        return m;
    }

    /**
     * A model with about {@code targetBytes} of float32 weights (at least one dense layer), for memory and speed
     * benchmarks: input {@code [-1,32,32,3]} → Conv2D 3×3 3→32 + BiasAdd → FusedBatchNormV3 → Relu → Conv2D 3×3 32→64
     * + BiasAdd → Relu → MaxPool 2×2 → Mean over H,W → dense 64→w + Relu → k × (dense w→w + Relu) → dense w→10 →
     * Softmax, with {@code w = min(4096, sqrt(targetBytes/4))} rounded down to a multiple of 64 and {@code k} the
     * number of w×w layers that reaches {@code targetBytes}. Signature {@code serving_default}: {@code input} →
     * {@code probabilities} [-1,10]. Untrained, weights from {@link #SEED}. The big kernels are fed to their
     * {@code Assign} at init time from TF tensors filled in chunks, so neither the graph nor the Java heap holds them.
     */
    public static Path largeModel(Path dir, long targetBytes) {
        int w = (int) Math.max(64, Math.min(4096, Math.sqrt(targetBytes / 4.0)) / 64 * 64);
        long layer = 4L * w * w;
        int k = (int) Math.max(1, (targetBytes + layer - 1) / layer);
        return build(dir, b -> {
            Output<?> x = b.placeholder("input", -1, 32, 32, 3);
            Output<?> h = b.conv(x, "conv1", 3, 3, 3, 32, 1, true);
            h = b.batchNorm(h, "bn1", 32);
            h = b.op("Relu", "relu1", h);
            h = b.op("Relu", "relu2", b.conv(h, "conv2", 3, 3, 32, 64, 1, true));
            h = b.pool("MaxPool", "pool", h, 2);
            h = b.mean(h, "global_pool");
            h = b.op("Relu", "fc0/relu", b.bigDense(h, "fc0", 64, w));
            for (int i = 1; i <= k; i++) {
                h = b.op("Relu", "fc" + i + "/relu", b.bigDense(h, "fc" + i, w, w));
            }
            Output<?> y = b.op("Softmax", "probabilities", b.bigDense(h, "logits", w, 10));
            b.input("input", x);
            b.output("probabilities", y);
        });
    }

    /**
     * A small CNN: input {@code [-1,32,32,3]} → Conv2D 3×3×3×16 + BiasAdd → FusedBatchNormV3 (inference, non-trivial
     * mean/variance/gamma/beta) → Relu → DepthwiseConv2dNative 3×3 → FusedBatchNormV3 → Relu6 → MaxPool 2×2 →
     * Conv2D 1×1 16→32 → FusedBatchNormV3 → Relu → AvgPool 2×2 → Mean over H,W → MatMul 32×10 + BiasAdd → Softmax.
     * Signature {@code serving_default}: {@code input} float [-1,32,32,3] → {@code probabilities} float [-1,10].
     * Untrained: weights from {@link #SEED}.
     */
    public static Path exampleCnn(Path dir) {
        return build(dir, b -> {
            Output<?> x = b.placeholder("input", -1, 32, 32, 3);
            Output<?> h = b.conv(x, "conv1", 3, 3, 3, 16, 1, true);
            h = b.batchNorm(h, "bn1", 16);
            h = b.op("Relu", "relu1", h);
            h = b.op("Identity", "relu1/identity", h);
            h = b.depthwise(h, "dw1", 3, 16, false);
            h = b.batchNorm(h, "bn2", 16);
            h = b.op("Relu6", "relu6_2", h);
            h = b.pool("MaxPool", "pool1", h, 2);
            h = b.conv(h, "conv3", 1, 1, 16, 32, 1, false);
            h = b.batchNorm(h, "bn3", 32);
            h = b.op("Relu", "relu3", h);
            h = b.op("StopGradient", "stop_gradient", h);
            h = b.pool("AvgPool", "pool2", h, 2);
            h = b.mean(h, "global_pool");
            h = b.dense(h, "logits", 32, 10);
            h = b.checkNumerics(h, "check_logits");
            Output<?> y = b.op("Softmax", "probabilities", h);
            b.output("probabilities", b.withNoOpControl(y, "probabilities/out"));
            b.input("input", x);
        });
    }

    /**
     * A CNN trained on real MNIST digits ({@link ExampleData#TRAIN}, images 1000–4999 of the shipped slice): input
     * {@code image} float [-1,28,28,1] (pixels / 255) → Conv2D 3×3 1→16 + BiasAdd → FusedBatchNormV3 (inference form,
     * mean and variance measured on the training images) → Relu → MaxPool 2×2 → DepthwiseConv2dNative 3×3 + BiasAdd
     * → Relu6 → MaxPool 2×2 → Conv2D 1×1 16→32 + BiasAdd → Relu → Reshape → MatMul + BiasAdd ({@code logits}) →
     * Softmax. Signature {@code serving_default}: {@code image} → {@code probabilities} float [-1,10].
     *
     * <p>Trained here with TF Java (Adam, a few epochs, a few seconds on one thread); deterministic: the same
     * weights every time. The serving graph holds no training ops: it is built anew and its variables are
     * initialised with the trained values. If {@code dir} already holds a SavedModel it is reused as it is; otherwise
     * the model is written to a sibling directory and moved into place, so an interrupted build leaves no half model.
     */
    public static Path trainedMnistCnn(Path dir) {
        return trainedMnistCnn(dir, s -> { });
    }

    /** {@link #trainedMnistCnn(Path)}, reporting training progress and time to {@code log}. */
    public static Path trainedMnistCnn(Path dir, java.util.function.Consumer<String> log) {
        if (isSavedModel(dir)) {
            return dir;
        }
        if (java.nio.file.Files.exists(dir) && !isEmptyDirectory(dir)) {
            throw KilnException.io("cannot write the example model to " + dir + ": it exists and is not a SavedModel",
                    null);
        }
        Map<String, float[]> trained = MnistTrainer.train(log);
        Path tmp = dir.resolveSibling(dir.getFileName() + ".tmp-" + ProcessHandle.current().pid() + "-"
                + System.nanoTime());
        build(tmp, b -> {
            Output<?> x = b.placeholder("image", -1, ExampleData.SIDE, ExampleData.SIDE, 1);
            Output<?> y = b.op("Softmax", "probabilities", MnistCnn.logits(b, x, trained, false));
            b.input("image", x);
            b.output("probabilities", y);
        });
        try {
            java.nio.file.Files.move(tmp, dir, java.nio.file.StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            deleteTree(tmp);
            if (!isSavedModel(dir)) {   // else another process built it first: use theirs
                throw KilnException.io("cannot move the example model into " + dir + ": " + e.getMessage(), e);
            }
        }
        return dir;
    }

    private static boolean isSavedModel(Path dir) {
        return java.nio.file.Files.isRegularFile(dir.resolve("saved_model.pb"))
                && java.nio.file.Files.isRegularFile(dir.resolve("variables").resolve("variables.index"));
    }

    private static boolean isEmptyDirectory(Path dir) {
        try (var entries = java.nio.file.Files.list(dir)) {
            return entries.findAny().isEmpty();
        } catch (IOException e) {
            return false;
        }
    }

    private static void deleteTree(Path dir) {
        try (var paths = java.nio.file.Files.walk(dir)) {
            paths.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // best effort: a leftover temporary directory is harmless
        }
    }

    /** Conv2D + BiasAdd → FusedBatchNormV3 → Relu → MaxPool → Reshape → MatMul + BiasAdd: x [-1,16,16,3] → y [-1,5]. */
    public static Path convBnReluPoolDense(Path dir) {
        return build(dir, b -> {
            Output<?> x = b.placeholder("x", -1, 16, 16, 3);
            Output<?> h = b.conv(x, "conv", 3, 3, 3, 8, 1, true);
            h = b.batchNorm(h, "bn", 8);
            h = b.op("Relu", "relu", h);
            h = b.pool("MaxPool", "pool", h, 2);
            h = b.reshape(h, "flatten", -1, 8 * 8 * 8);
            Output<?> y = b.dense(h, "dense", 8 * 8 * 8, 5);
            b.input("x", x);
            b.output("y", b.op("Identity", "y", y));
        });
    }

    /** DepthwiseConv2dNative (multiplier 2) + BiasAdd → Relu6: x [-1,12,12,4] → y [-1,12,12,8]. */
    public static Path depthwiseConv(Path dir) {
        return build(dir, b -> {
            Output<?> x = b.placeholder("x", -1, 12, 12, 4);
            Output<?> h = b.depthwise(x, "dw", 3, 4, 2, true);
            b.input("x", x);
            b.output("y", b.op("Relu6", "y", h));
        });
    }

    /** A residual block: relu(x + conv(relu(conv(x)))): x [-1,8,8,8] → y [-1,8,8,8]. */
    public static Path residualAdd(Path dir) {
        return build(dir, b -> {
            Output<?> x = b.placeholder("x", -1, 8, 8, 8);
            Output<?> h = b.conv(x, "conv_a", 3, 3, 8, 8, 1, true);
            h = b.op("Relu", "relu_a", h);
            h = b.conv(h, "conv_b", 3, 3, 8, 8, 1, true);
            h = b.op("AddV2", "residual", x, h);
            b.input("x", x);
            b.output("y", b.op("Relu", "y", h));
        });
    }

    /** Two branches (1×1 and 3×3 Conv2D) joined by ConcatV2 on channels: x [-1,8,8,6] → y [-1,8,8,10]. */
    public static Path concat(Path dir) {
        return build(dir, b -> {
            Output<?> x = b.placeholder("x", -1, 8, 8, 6);
            Output<?> l = b.op("Relu", "left/relu", b.conv(x, "left", 1, 1, 6, 4, 1, true));
            Output<?> r = b.op("Relu", "right/relu", b.conv(x, "right", 3, 3, 6, 6, 1, true));
            Output<?> axis = b.constInt("concat/axis", 3);
            Output<?> c = b.g.opBuilder("ConcatV2", "concat", b.g.baseScope()).addInputList(new Output<?>[] {l, r})
                    .addInput(axis).setAttr("N", 2L).setAttr("T", DataType.DT_FLOAT).build().output(0);
            b.input("x", x);
            b.output("y", b.op("Identity", "y", c));
        });
    }

    /** Two inputs: relu(a·W + b·V + bias): a [-1,6], b [-1,4] → y [-1,3]. */
    public static Path twoInputs(Path dir) {
        return build(dir, b -> {
            Output<?> a = b.placeholder("a", -1, 6);
            Output<?> c = b.placeholder("b", -1, 4);
            Output<?> wa = b.variable("wa", Shape.of(6, 3), b.kernel(6, 18));
            Output<?> wb = b.variable("wb", Shape.of(4, 3), b.kernel(4, 12));
            Output<?> s = b.op("AddV2", "sum", b.matmul(a, wa, "mm_a"), b.matmul(c, wb, "mm_b"));
            Output<?> bias = b.variable("bias", Shape.of(3), b.small(3));
            Output<?> y = b.op("Relu", "y", b.op("BiasAdd", "sum/bias", s, bias));
            b.input("a", a);
            b.input("b", c);
            b.output("y", y);
        });
    }

    /** Two outputs from one trunk: x [-1,8] → probs (Softmax) [-1,4] and score (Sigmoid) [-1,1]. */
    public static Path twoOutputs(Path dir) {
        return build(dir, b -> {
            Output<?> x = b.placeholder("x", -1, 8);
            Output<?> h = b.op("Relu", "trunk/relu", b.dense(x, "trunk", 8, 16));
            Output<?> p = b.op("Softmax", "probs", b.dense(h, "head_a", 16, 4));
            Output<?> s = b.op("Sigmoid", "score", b.dense(h, "head_b", 16, 1));
            b.input("x", x);
            b.output("probs", p);
            b.output("score", b.op("Identity", "score/identity", s));
        });
    }

    /**
     * Conv2D followed by batch normalization written the way Keras expands it: {@code Rsqrt(var + eps) * gamma} →
     * {@code x * m + (beta - mean * m)} with Mul/AddV2/Sub/Rsqrt, then Relu: x [-1,8,8,4] → y [-1,8,8,6].
     */
    public static Path kerasStyleBatchNorm(Path dir) {
        return build(dir, b -> {
            Output<?> x = b.placeholder("x", -1, 8, 8, 4);
            Output<?> h = b.conv(x, "conv", 3, 3, 4, 6, 1, false);
            int c = 6;
            Output<?> gamma = b.variable("bn/gamma", Shape.of(c), b.around(c, 1.0f, 0.3f));
            Output<?> beta = b.variable("bn/beta", Shape.of(c), b.around(c, 0f, 0.2f));
            Output<?> mean = b.variable("bn/moving_mean", Shape.of(c), b.around(c, 0f, 0.3f));
            Output<?> var = b.variable("bn/moving_variance", Shape.of(c), b.around(c, 1.0f, 0.5f));
            Output<?> eps = b.constFloat("bn/batchnorm/add/y", 0.001f);
            Output<?> add = b.op("AddV2", "bn/batchnorm/add", var, eps);
            Output<?> rsqrt = b.op("Rsqrt", "bn/batchnorm/Rsqrt", add);
            Output<?> m = b.op("Mul", "bn/batchnorm/mul", rsqrt, gamma);
            Output<?> m1 = b.op("Mul", "bn/batchnorm/mul_1", h, m);
            Output<?> m2 = b.op("Mul", "bn/batchnorm/mul_2", mean, m);
            Output<?> sub = b.op("Sub", "bn/batchnorm/sub", beta, m2);
            Output<?> y = b.op("AddV2", "bn/batchnorm/add_1", m1, sub);
            b.input("x", x);
            b.output("y", b.op("Relu", "y", y));
        });
    }

    // ---- the builder ----

    static Path build(Path dir, java.util.function.Consumer<Builder> body) {
        try (Graph g = new Graph()) {
            Builder b = new Builder(g);
            body.accept(b);
            try (Session s = new Session(g)) {
                for (Operation init : b.inits) {
                    Map.Entry<Output<?>, Supplier<TFloat32>> feed = b.feeds.get(init);
                    if (feed == null) {
                        s.runner().addTarget(init).run();
                        continue;
                    }
                    try (TFloat32 value = feed.getValue().get()) {
                        s.runner().feed(feed.getKey(), value).addTarget(init).run();
                    }
                }
                Signature.Builder sig = Signature.builder(Signature.DEFAULT_KEY).methodName("tensorflow/serving/predict");
                b.inputs.forEach(sig::input);
                b.outputs.forEach(sig::output);
                java.nio.file.Files.createDirectories(dir.getParent() == null ? Path.of(".") : dir.getParent());
                SavedModelBundle.exporter(dir.toString()).withTags("serve").withSession(s)
                        .withSignature(sig.build()).export();
            }
            return dir;
        } catch (IOException e) {
            throw KilnException.io("cannot write example model to " + dir + ": " + e.getMessage(), e);
        }
    }

    /** Builds a TF graph op by op; variables are VariableV2 + Assign from a Const (or a fed placeholder). */
    static final class Builder {
        final Graph g;
        final SplittableRandom rnd = new SplittableRandom(SEED);
        final List<Operation> inits = new ArrayList<>();
        final Map<Operation, Map.Entry<Output<?>, Supplier<TFloat32>>> feeds = new HashMap<>();
        final Map<String, Output<?>> inputs = new LinkedHashMap<>();
        final Map<String, Output<?>> outputs = new LinkedHashMap<>();

        Builder(Graph g) {
            this.g = g;
        }

        void input(String name, Output<?> o) {
            inputs.put(name, o);
        }

        void output(String name, Output<?> o) {
            outputs.put(name, o);
        }

        OperationBuilder ob(String type, String name) {
            return g.opBuilder(type, name, g.baseScope());
        }

        Output<?> placeholder(String name, long... dims) {
            return ob("Placeholder", name).setAttr("dtype", DataType.DT_FLOAT)
                    .setAttr("shape", org.tensorflow.ndarray.Shape.of(dims)).build().output(0);
        }

        Output<?> constTensor(String name, Tensor t) {
            try (org.tensorflow.Tensor tt = TfTensors.toTf(t)) {
                return ob("Const", name).setAttr("value", tt).setAttr("dtype", TfTensors.toTf(t.dtype())).build()
                        .output(0);
            }
        }

        Output<?> constFloat(String name, float v) {
            return constTensor(name, Tensor.scalar(v));
        }

        Output<?> constInt(String name, int... v) {
            return constTensor(name, v.length == 1 ? Tensor.scalar(v[0]) : Tensor.ofInts(Shape.of(v.length), v));
        }

        /** A VariableV2 initialised by an Assign from a Const; returns its {@code name/read} Identity. */
        Output<?> variable(String name, Shape shape, float[] values) {
            Output<?> var = ob("VariableV2", name).setAttr("dtype", DataType.DT_FLOAT)
                    .setAttr("shape", TfTensors.toTf(shape)).build().output(0);
            Output<?> init = constTensor(name + "/initial_value", Tensor.ofFloats(shape, values));
            inits.add(ob("Assign", name + "/Assign").addInput(var).addInput(init).setAttr("T", DataType.DT_FLOAT)
                    .build());
            return ob("Identity", name + "/read").addInput(var).setAttr("T", DataType.DT_FLOAT).build().output(0);
        }

        /**
         * A VariableV2 assigned at init time from a fed placeholder, its value (He-style uniform for fan-in
         * {@code fanIn}) written into a TF tensor in chunks; returns its {@code name/read} Identity.
         */
        Output<?> fedVariable(String name, Shape shape, int fanIn) {
            Output<?> var = ob("VariableV2", name).setAttr("dtype", DataType.DT_FLOAT)
                    .setAttr("shape", TfTensors.toTf(shape)).build().output(0);
            Output<?> value = ob("Placeholder", name + "/initial_value").setAttr("dtype", DataType.DT_FLOAT)
                    .setAttr("shape", TfTensors.toTf(shape)).build().output(0);
            Operation assign = ob("Assign", name + "/Assign").addInput(var).addInput(value)
                    .setAttr("T", DataType.DT_FLOAT).build();
            inits.add(assign);
            feeds.put(assign, Map.entry(value, () -> TFloat32.tensorOf(TfTensors.toTf(shape), t -> {
                FloatDataBuffer data = t.asRawTensor().data().asFloats();
                long n = shape.numElements();
                for (long i = 0; i < n; i += 1 << 20) {
                    int len = (int) Math.min(1 << 20, n - i);
                    data.offset(i).write(kernel(fanIn, len));
                }
            })));
            return ob("Identity", name + "/read").addInput(var).setAttr("T", DataType.DT_FLOAT).build().output(0);
        }

        Output<?> bigDense(Output<?> x, String name, int in, int out) {
            Output<?> y = matmul(x, fedVariable(name + "/kernel", Shape.of(in, out), in), name + "/MatMul");
            return op("BiasAdd", name + "/BiasAdd", y, variable(name + "/bias", Shape.of(out), small(out)));
        }

        Output<?> op(String type, String name, Output<?>... ins) {
            OperationBuilder o = ob(type, name);
            for (Output<?> in : ins) {
                o.addInput(in);
            }
            return o.setAttr("T", DataType.DT_FLOAT).build().output(0);
        }

        float[] kernel(int fanIn, int n) {
            double limit = Math.sqrt(6.0 / fanIn);
            float[] v = new float[n];
            for (int i = 0; i < n; i++) {
                v[i] = (float) ((rnd.nextDouble() * 2 - 1) * limit);
            }
            return v;
        }

        float[] around(int n, float center, float spread) {
            float[] v = new float[n];
            for (int i = 0; i < n; i++) {
                v[i] = center + (float) ((rnd.nextDouble() * 2 - 1) * spread);
            }
            return v;
        }

        float[] small(int n) {
            return around(n, 0f, 0.1f);
        }

        Output<?> conv(Output<?> x, String name, int kh, int kw, int cin, int cout, int stride, boolean bias) {
            Output<?> w = variable(name + "/kernel", Shape.of(kh, kw, cin, cout), kernel(kh * kw * cin, kh * kw * cin * cout));
            Output<?> y = ob("Conv2D", name + "/Conv2D").addInput(x).addInput(w).setAttr("T", DataType.DT_FLOAT)
                    .setAttr("strides", new long[] {1, stride, stride, 1}).setAttr("padding", "SAME").build().output(0);
            if (bias) {
                y = op("BiasAdd", name + "/BiasAdd", y, variable(name + "/bias", Shape.of(cout), small(cout)));
            }
            return y;
        }

        Output<?> depthwise(Output<?> x, String name, int k, int cin, boolean bias) {
            return depthwise(x, name, k, cin, 1, bias);
        }

        Output<?> depthwise(Output<?> x, String name, int k, int cin, int mult, boolean bias) {
            Output<?> w = variable(name + "/depthwise_kernel", Shape.of(k, k, cin, mult), kernel(k * k, k * k * cin * mult));
            Output<?> y = ob("DepthwiseConv2dNative", name + "/depthwise").addInput(x).addInput(w)
                    .setAttr("T", DataType.DT_FLOAT).setAttr("strides", new long[] {1, 1, 1, 1})
                    .setAttr("padding", "SAME").build().output(0);
            if (bias) {
                y = op("BiasAdd", name + "/BiasAdd", y, variable(name + "/bias", Shape.of(cin * mult), small(cin * mult)));
            }
            return y;
        }

        Output<?> batchNorm(Output<?> x, String name, int c) {
            Output<?> gamma = variable(name + "/gamma", Shape.of(c), around(c, 1.0f, 0.3f));
            Output<?> beta = variable(name + "/beta", Shape.of(c), around(c, 0f, 0.2f));
            Output<?> mean = variable(name + "/moving_mean", Shape.of(c), around(c, 0f, 0.3f));
            Output<?> var = variable(name + "/moving_variance", Shape.of(c), around(c, 1.0f, 0.5f));
            return ob("FusedBatchNormV3", name + "/FusedBatchNormV3").addInput(x).addInput(gamma).addInput(beta)
                    .addInput(mean).addInput(var).setAttr("T", DataType.DT_FLOAT).setAttr("U", DataType.DT_FLOAT)
                    .setAttr("epsilon", 0.001f).setAttr("is_training", false).setAttr("data_format", "NHWC")
                    .build().output(0);
        }

        Output<?> pool(String type, String name, Output<?> x, int k) {
            return ob(type, name).addInput(x).setAttr("T", DataType.DT_FLOAT).setAttr("ksize", new long[] {1, k, k, 1})
                    .setAttr("strides", new long[] {1, k, k, 1}).setAttr("padding", "VALID").build().output(0);
        }

        Output<?> mean(Output<?> x, String name) {
            return ob("Mean", name).addInput(x).addInput(constInt(name + "/reduction_indices", 1, 2))
                    .setAttr("T", DataType.DT_FLOAT).setAttr("Tidx", DataType.DT_INT32).setAttr("keep_dims", false)
                    .build().output(0);
        }

        Output<?> reshape(Output<?> x, String name, int... shape) {
            return ob("Reshape", name).addInput(x).addInput(constInt(name + "/shape", shape))
                    .setAttr("T", DataType.DT_FLOAT).setAttr("Tshape", DataType.DT_INT32).build().output(0);
        }

        Output<?> matmul(Output<?> a, Output<?> w, String name) {
            return ob("MatMul", name).addInput(a).addInput(w).setAttr("T", DataType.DT_FLOAT)
                    .setAttr("transpose_a", false).setAttr("transpose_b", false).build().output(0);
        }

        Output<?> dense(Output<?> x, String name, int in, int out) {
            Output<?> w = variable(name + "/kernel", Shape.of(in, out), kernel(in, in * out));
            Output<?> y = matmul(x, w, name + "/MatMul");
            return op("BiasAdd", name + "/BiasAdd", y, variable(name + "/bias", Shape.of(out), small(out)));
        }

        Output<?> checkNumerics(Output<?> x, String name) {
            return ob("CheckNumerics", name).addInput(x).setAttr("T", DataType.DT_FLOAT)
                    .setAttr("message", "logits are not finite").build().output(0);
        }

        /** An Identity of {@code x} with a control dependency on a NoOp (work for the strip pass). */
        Output<?> withNoOpControl(Output<?> x, String name) {
            GraphOperation noop = (GraphOperation) ob("NoOp", name + "/noop").build();
            return ob("Identity", name).addInput(x).addControlInput(noop).setAttr("T", DataType.DT_FLOAT).build()
                    .output(0);
        }
    }
}
