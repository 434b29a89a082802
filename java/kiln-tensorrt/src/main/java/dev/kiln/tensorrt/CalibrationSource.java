package dev.kiln.tensorrt;

import dev.kiln.KilnArgumentException;
import dev.kiln.calib.TensorRtCalibrationCache;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * What the legacy INT8 calibrator serves TensorRT: Kiln's TensorRT calibration cache (the scales computed by
 * {@code kiln calibrate}), so TensorRT never runs calibration batches itself. The cache's header is rewritten to the
 * running TensorRT's version and the calibrator's algorithm, because TensorRT ignores a cache whose header does not
 * match, and the scales do not depend on either.
 */
public final class CalibrationSource {
    private final TensorRtCalibrationCache cache;
    private final Path file;

    private CalibrationSource(TensorRtCalibrationCache cache, Path file) {
        this.cache = cache;
        this.file = file;
    }

    /** Reads the cache file; a corrupt one is an error naming the file and line. */
    public static CalibrationSource read(Path cacheFile) {
        KilnArgumentException.check(cacheFile != null, "calibration cache file must not be null");
        return new CalibrationSource(TensorRtCalibrationCache.read(cacheFile), cacheFile);
    }

    public static CalibrationSource of(TensorRtCalibrationCache cache) {
        return new CalibrationSource(cache, null);
    }

    /** The calibrator's algorithm: MinMaxCalibration where the cache says so, else EntropyCalibration2. */
    public String algorithm() {
        return cache.algorithm().equals("MinMaxCalibration") ? "MinMaxCalibration" : "EntropyCalibration2";
    }

    /** The cache's text with the header {@code TRT-<trtVersion>-<algorithm()>}. */
    public byte[] cacheBytes(int trtVersion) {
        String text = cache.toText();
        String body = text.substring(text.indexOf('\n') + 1);
        return ("TRT-" + trtVersion + "-" + algorithm() + "\n" + body).getBytes(StandardCharsets.UTF_8);
    }

    public int tensorCount() {
        return cache.scales().size();
    }

    /** The file it was read from, or null. */
    public Path file() {
        return file;
    }
}
