package dev.kiln.tensorrt;

/**
 * The TensorRT and GPU that would run an engine here: TensorRT's version ("10.15.1"), the CUDA runtime's, the
 * GPU's name and compute capability ("9.0"). Made by {@link TensorRtProbe} where TensorRT and a GPU are present, or
 * by hand in tests.
 */
public record RuntimePlatform(String tensorrtVersion, String cudaVersion, String gpuName, String computeCapability) {

    /** Major.minor compute capability as a number for ordering: "8.6" gives 86. */
    static int capabilityNumber(String cc) {
        String[] p = cc.split("\\.");
        try {
            return Integer.parseInt(p[0].trim()) * 10 + (p.length > 1 ? Integer.parseInt(p[1].trim()) : 0);
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** Compares dotted versions numerically ("10.9.0" < "10.15.1"); missing parts are 0. */
    static int compareVersions(String a, String b) {
        String[] x = a.split("\\.");
        String[] y = b.split("\\.");
        for (int i = 0; i < Math.max(x.length, y.length); i++) {
            int c = Integer.compare(part(x, i), part(y, i));
            if (c != 0) {
                return c;
            }
        }
        return 0;
    }

    private static int part(String[] p, int i) {
        try {
            return i < p.length ? Integer.parseInt(p[i].trim()) : 0;
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    static int major(String version) {
        return part(version.split("\\."), 0);
    }
}
