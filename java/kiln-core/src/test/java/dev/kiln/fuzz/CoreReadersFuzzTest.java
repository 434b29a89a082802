package dev.kiln.fuzz;

import com.code_intelligence.jazzer.junit.FuzzTest;
import dev.kiln.calib.CalibrationStatistics;
import dev.kiln.calib.CalibrationTable;
import dev.kiln.calib.OnnxRuntimeCalibrationTable;
import dev.kiln.calib.TensorRtCalibrationCache;
import dev.kiln.data.NpyFile;
import dev.kiln.data.NpzFile;
import dev.kiln.kernels.JavaKernels;
import dev.kiln.sparse.PackedWeights;

/**
 * Fuzz tests of kiln-core's readers of files that users bring: .npy and .npz data, Kiln's calibration table and
 * statistics, TensorRT calibration caches, ONNX Runtime calibration tables, packed sparse weights. Each reads what
 * a user of Kiln would read (the header and a few samples, every layer unpacked). In a normal build they run the
 * inputs under src/test/resources/dev/kiln/fuzz/CoreReadersFuzzTestInputs/<method>/ (seeds and past findings);
 * fuzzing is described in the README (Reliability).
 */
class CoreReadersFuzzTest {
    @FuzzTest
    void npy(byte[] data) {
        UntrustedFile.check("data.npy", data, f -> {
            try (NpyFile n = NpyFile.open(f)) {
                n.read(0, (int) Math.min(2, n.sampleCount()));
            }
        });
    }

    @FuzzTest
    void npz(byte[] data) {
        UntrustedFile.check("data.npz", data, f -> {
            try (NpzFile z = NpzFile.open(f)) {
                for (String name : z.names()) {
                    try (NpzFile.Reader r = z.open(name)) {
                        r.read((int) Math.min(2, r.header().sampleCount()));
                    }
                }
            }
        });
    }

    @FuzzTest
    void calibrationTable(byte[] data) {
        UntrustedFile.check("table.json", data, CalibrationTable::load);
    }

    @FuzzTest
    void calibrationStatistics(byte[] data) {
        UntrustedFile.check("statistics.json", data, f -> CalibrationStatistics.load(f, new JavaKernels(),
                name -> false));
    }

    @FuzzTest
    void tensorRtCache(byte[] data) {
        UntrustedFile.check("calibration.cache", data, TensorRtCalibrationCache::read);
    }

    @FuzzTest
    void onnxRuntimeTable(byte[] data) {
        UntrustedFile.check("calibration.json", data, OnnxRuntimeCalibrationTable::readJson);
    }

    @FuzzTest
    void packedWeights(byte[] data) {
        UntrustedFile.check("weights.kpack", data, f -> {
            for (PackedWeights.Layer l : PackedWeights.read(f)) {
                l.unpack(new JavaKernels());
            }
        });
    }
}
