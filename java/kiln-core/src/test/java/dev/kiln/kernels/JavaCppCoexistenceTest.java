package dev.kiln.kernels;

import org.bytedeco.javacpp.Loader;
import org.junit.jupiter.api.Test;
import org.tensorflow.EagerSession;
import org.tensorflow.ndarray.Shape;
import org.tensorflow.ndarray.buffer.DataBuffers;
import org.tensorflow.op.Ops;
import org.tensorflow.op.quantization.FakeQuantWithMinMaxVars;
import org.tensorflow.types.TFloat32;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * TF Java (built on JavaCPP 1.5.11) and Kiln's native library (JavaCPP 1.5.13) in one JVM: one JavaCPP, the build's,
 * loads both, and both work side by side on the same data.
 */
class JavaCppCoexistenceTest {

    @Test
    void tensorFlowAndKilnNativeRunInOneJvmOnOneJavaCpp() throws Exception {
        NativeLibraries.Status cpu = NativeLibraries.cpu();
        assumeTrue(cpu.available(), () -> "Kiln's native library is not built here: " + cpu.description());

        float[] x = {-1.3f, -0.2f, 0f, 0.26f, 0.5f, 1.7f, 2.9f, 7.5f};
        float[] fromTf;
        try (EagerSession session = EagerSession.create()) {
            Ops tf = Ops.create(session);
            var in = tf.constant(Shape.of(x.length), DataBuffers.of(x, true, false));
            TFloat32 out = tf.quantization.fakeQuantWithMinMaxVars(in, tf.constant(-1f), tf.constant(3f),
                    FakeQuantWithMinMaxVars.numBits(8L), FakeQuantWithMinMaxVars.narrowRange(false)).asTensor();
            fromTf = new float[x.length];
            out.copyTo(DataBuffers.of(fromTf, false, false));
        }

        float[] fromKiln = new float[x.length];
        new CpuKernels().fakeQuant(x, AxisView.perTensor(x.length), new float[] {-1f}, new float[] {3f}, 8, false,
                fromKiln);
        for (int i = 0; i < x.length; i++) {
            assertEquals(Float.floatToRawIntBits(fromTf[i]), Float.floatToRawIntBits(fromKiln[i]), "element " + i);
        }

        // One JavaCPP: TF's generated bindings resolve the very Loader class that loaded Kiln's library.
        Class<?> tfBinding = Class.forName("org.tensorflow.internal.c_api.global.tensorflow");
        assertSame(Loader.class, Class.forName(Loader.class.getName(), false, tfBinding.getClassLoader()));
        assertEquals("1.5.13", Loader.getVersion());
        Map<String, String> loaded = Loader.getLoadedLibraries();
        assertTrue(loaded.keySet().stream().anyMatch(k -> k.contains("jniKilnNative")), "Kiln's JNI library: " + loaded);
        assertTrue(loaded.keySet().stream().anyMatch(k -> k.contains("tensorflow")), "TensorFlow's library: " + loaded);
    }
}
