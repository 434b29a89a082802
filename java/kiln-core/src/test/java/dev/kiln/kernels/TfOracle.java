package dev.kiln.kernels;

import org.tensorflow.EagerSession;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.op.quantization.FakeQuantWithMinMaxVars;
import org.tensorflow.op.quantization.FakeQuantWithMinMaxVarsPerChannel;
import org.tensorflow.types.TFloat16;
import org.tensorflow.types.TFloat32;

/** TensorFlow's own ops through TF Java (eager), the oracle for fake quantization and float16 casts. */
final class TfOracle {
    private TfOracle() {
    }

    /** FakeQuantWithMinMaxVars on a flat tensor. */
    static float[] fakeQuant(float[] x, float min, float max, int numBits, boolean narrow) {
        try (EagerSession session = EagerSession.create()) {
            Ops tf = Ops.create(session);
            var in = tf.constant(Shape.of(x.length), DataBuffers.of(x, true, false));
            var op = tf.quantization.fakeQuantWithMinMaxVars(in, tf.constant(min), tf.constant(max),
                    FakeQuantWithMinMaxVars.numBits((long) numBits), FakeQuantWithMinMaxVars.narrowRange(narrow));
            return read(op.asTensor(), x.length);
        }
    }

    /** FakeQuantWithMinMaxVarsPerChannel on a tensor of shape [x.length / d, d] (the last axis). */
    static float[] fakeQuantPerChannel(float[] x, float[] min, float[] max, int numBits, boolean narrow) {
        int d = min.length;
        try (EagerSession session = EagerSession.create()) {
            Ops tf = Ops.create(session);
            var in = tf.constant(Shape.of(x.length / d, d), DataBuffers.of(x, true, false));
            var op = tf.quantization.fakeQuantWithMinMaxVarsPerChannel(in,
                    tf.constant(Shape.of(d), DataBuffers.of(min, true, false)),
                    tf.constant(Shape.of(d), DataBuffers.of(max, true, false)),
                    FakeQuantWithMinMaxVarsPerChannel.numBits((long) numBits),
                    FakeQuantWithMinMaxVarsPerChannel.narrowRange(narrow));
            return read(op.asTensor(), x.length);
        }
    }

    /** Cast float32 to float16, as raw binary16 bits. */
    static short[] toHalf(float[] x) {
        try (EagerSession session = EagerSession.create()) {
            Ops tf = Ops.create(session);
            var in = tf.constant(Shape.of(x.length), DataBuffers.of(x, true, false));
            TFloat16 t = tf.dtypes.cast(in, TFloat16.class).asTensor();
            short[] out = new short[x.length];
            t.asRawTensor().data().asShorts().read(out);
            return out;
        }
    }

    private static float[] read(TFloat32 t, int n) {
        float[] out = new float[n];
        t.copyTo(DataBuffers.of(out, false, false));
        return out;
    }
}
