package dev.kiln.cli;

import dev.kiln.pipeline.Versions;
import picocli.CommandLine;

/** {@code kiln --version}. */
final class VersionProvider implements CommandLine.IVersionProvider {
    @Override
    public String[] getVersion() {
        return new String[] {"kiln " + Versions.kiln(), "java " + System.getProperty("java.version")};
    }
}
