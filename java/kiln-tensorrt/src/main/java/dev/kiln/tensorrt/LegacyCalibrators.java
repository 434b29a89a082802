package dev.kiln.tensorrt;

import org.bytedeco.cuda.global.cudart;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.FloatPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;
import org.bytedeco.javacpp.PointerPointer;
import org.bytedeco.tensorrt.nvinfer.IInt8Calibrator;
import org.bytedeco.tensorrt.nvinfer.IInt8EntropyCalibrator2;
import org.bytedeco.tensorrt.nvinfer.IInt8MinMaxCalibrator;

import java.util.HashMap;
import java.util.Map;

/**
 * The legacy INT8 calibrators (TensorRT before the strongly typed path; the API is deprecated since 10.1), written
 * in Java. With Kiln's cache, {@code readCalibrationCache} returns it and TensorRT takes those scales without asking
 * for batches; with a {@link CalibrationFeed} instead, {@code getBatch} copies its batches to the GPU.
 * EntropyCalibration2 or MinMaxCalibration as the cache's header says.
 */
final class LegacyCalibrators {
    private LegacyCalibrators() {
    }

    /** A calibrator serving {@code source}'s cache to TensorRT {@code trtVersion}; keep it until the build ends. */
    static IInt8Calibrator create(CalibrationSource source, int trtVersion) {
        Core core = new Core(new BytePointer(source.cacheBytes(trtVersion)), null);
        return source.algorithm().equals("MinMaxCalibration") ? new MinMax(core) : new Entropy2(core);
    }

    /** An entropy calibrator that runs {@code feed}'s batches through TensorRT. */
    static IInt8Calibrator fromData(CalibrationFeed feed) {
        return new Entropy2(new Core(null, feed));
    }

    /** What both calibrators do; called from TensorRT's threads, so nothing may throw out of it. */
    static final class Core {
        private final BytePointer cache;
        private final CalibrationFeed feed;
        private final Map<String, Pointer> device = new HashMap<>();

        Core(BytePointer cache, CalibrationFeed feed) {
            this.cache = cache;
            this.feed = feed;
        }

        boolean getBatch(PointerPointer bindings, PointerPointer names, int nbBindings) {
            if (feed == null) {
                return false; // the cache holds every scale
            }
            try {
                Map<String, float[]> batch = feed.next();
                if (batch == null) {
                    return false;
                }
                for (int i = 0; i < nbBindings; i++) {
                    String name = names.getString(i);
                    float[] values = batch.get(name);
                    if (values == null) {
                        return false;
                    }
                    long bytes = 4L * values.length;
                    Pointer d = device.get(name);
                    if (d == null) {
                        d = new Pointer();
                        if (cudart.cudaMalloc(d, bytes) != cudart.cudaSuccess) {
                            return false;
                        }
                        device.put(name, d);
                    }
                    try (FloatPointer host = new FloatPointer(values)) {
                        if (cudart.cudaMemcpy(d, host, bytes, cudart.cudaMemcpyHostToDevice) != cudart.cudaSuccess) {
                            return false;
                        }
                    }
                    bindings.put(i, d);
                }
                return true;
            } catch (RuntimeException e) {
                return false; // TensorRT ends calibration; the build log says why it failed
            }
        }

        Pointer readCalibrationCache(LongPointer length) {
            if (cache == null) {
                length.put(0);
                return null;
            }
            length.put(cache.limit());
            return cache;
        }

        void release() {
            device.values().forEach(cudart::cudaFree);
            device.clear();
        }
    }

    /** Entropy calibration (TensorRT's default algorithm). */
    static final class Entropy2 extends IInt8EntropyCalibrator2 {
        private final Core core;

        Entropy2(Core core) {
            this.core = core;
        }

        @Override
        public int getBatchSize() {
            return 1; // explicit-batch networks: the batch is in the input shapes
        }

        @Override
        public boolean getBatch(PointerPointer bindings, PointerPointer names, int nbBindings) {
            return core.getBatch(bindings, names, nbBindings);
        }

        @Override
        public Pointer readCalibrationCache(LongPointer length) {
            return core.readCalibrationCache(length);
        }

        @Override
        public void writeCalibrationCache(Pointer ptr, long length) {
            // Kiln's cache file stays as it is; a data-driven calibration's scales live in the engine
        }

        @Override
        public void close() {
            core.release();
            super.close();
        }
    }

    /** Min-max calibration, for caches written with that algorithm. */
    static final class MinMax extends IInt8MinMaxCalibrator {
        private final Core core;

        MinMax(Core core) {
            this.core = core;
        }

        @Override
        public int getBatchSize() {
            return 1;
        }

        @Override
        public boolean getBatch(PointerPointer bindings, PointerPointer names, int nbBindings) {
            return core.getBatch(bindings, names, nbBindings);
        }

        @Override
        public Pointer readCalibrationCache(LongPointer length) {
            return core.readCalibrationCache(length);
        }

        @Override
        public void writeCalibrationCache(Pointer ptr, long length) {
        }

        @Override
        public void close() {
            core.release();
            super.close();
        }
    }
}
