package dev.kiln.tensorrt;

import dev.kiln.ErrorCode;
import dev.kiln.KilnException;

/**
 * Refuses an engine that cannot run here, before TensorRT's deserializer does so with a long and obscure message: one
 * line saying what the engine was built for, what this machine has, and what to do.
 * <ul>
 * <li>TensorRT: the same version, or (version-compatible engines) a later one of the same major version.</li>
 * <li>GPU: the same model by default; the same compute capability for sameComputeCapability; compute capability
 * 8.0 or later for ampere+.</li>
 * </ul>
 */
public final class ManifestCheck {
    private ManifestCheck() {
    }

    /** Throws {@link ErrorCode#UNSUPPORTED} naming {@code engine} when it cannot run on {@code here}. */
    public static void check(EngineManifest m, RuntimePlatform here, Object engine) {
        if (!m.built()) {
            throw KilnException.invalidModel("no engine was built for " + engine + ": its manifest describes a "
                    + "planned build (run the trtexec script written beside it on a machine with TensorRT and a GPU)");
        }
        String built = m.tensorrtVersion();
        String run = here.tensorrtVersion();
        if (m.options().versionCompatible()) {
            if (RuntimePlatform.major(built) != RuntimePlatform.major(run)
                    || RuntimePlatform.compareVersions(run, built) < 0) {
                throw refuse(engine, "was built version-compatible with TensorRT " + built + ", which runs on TensorRT "
                        + RuntimePlatform.major(built) + ".x from " + built + " on; this machine has TensorRT " + run);
            }
        } else if (RuntimePlatform.compareVersions(built, run) != 0) {
            throw refuse(engine, "was built with TensorRT " + built + "; this machine has TensorRT " + run
                    + " (rebuild it here, or build with --version-compatible)");
        }
        String cc = m.gpu().computeCapability();
        String ccHere = here.computeCapability();
        String builtOn = m.gpu().name() + " (compute capability " + cc + ")";
        String hereGpu = here.gpuName() + " (compute capability " + ccHere + ")";
        switch (HardwareCompatibility.parse(m.options().hardwareCompatibility())) {
            case AMPERE_PLUS -> {
                if (RuntimePlatform.capabilityNumber(ccHere) < 80) {
                    throw refuse(engine, "was built for Ampere or newer GPUs (compute capability 8.0+); this "
                            + "machine has " + hereGpu);
                }
            }
            case SAME_COMPUTE_CAPABILITY -> {
                if (RuntimePlatform.capabilityNumber(cc) != RuntimePlatform.capabilityNumber(ccHere)) {
                    throw refuse(engine, "was built for compute capability " + cc + " on " + m.gpu().name()
                            + "; this machine has " + hereGpu);
                }
            }
            case NONE -> {
                if (RuntimePlatform.capabilityNumber(cc) != RuntimePlatform.capabilityNumber(ccHere)
                        || !m.gpu().name().equals(here.gpuName())) {
                    throw refuse(engine, "was built on " + builtOn + "; this machine has " + hereGpu
                            + " (rebuild it here, or build with --hardware-compatibility ampere+)");
                }
            }
            default -> throw new IllegalStateException();
        }
    }

    private static KilnException refuse(Object engine, String why) {
        return KilnException.unsupported("engine " + engine + " " + why);
    }
}
