package dev.kiln.tensorrt;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Finds a shared library by its soname on disk, without loading it: in given directories, or where the dynamic
 * loader would look ({@code LD_LIBRARY_PATH}, {@code java.library.path}, the {@code ldconfig} cache, the usual CUDA
 * and TensorRT install directories). Lets the probe say which library is missing before anything is loaded.
 */
final class LibraryLocator {
    private final List<Path> dirs;
    private final Set<String> ldconfig;

    LibraryLocator(List<Path> dirs, Set<String> ldconfigPaths) {
        this.dirs = List.copyOf(dirs);
        this.ldconfig = Set.copyOf(ldconfigPaths);
    }

    /** Where this machine's dynamic loader would look. */
    static LibraryLocator system() {
        Set<Path> d = new LinkedHashSet<>();
        for (String var : new String[] {System.getenv("LD_LIBRARY_PATH"), System.getProperty("java.library.path")}) {
            if (var != null) {
                for (String s : var.split(":")) {
                    if (!s.isBlank()) {
                        d.add(Path.of(s));
                    }
                }
            }
        }
        for (String s : new String[] {"/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/lib", "/usr/local/lib",
                "/usr/local/cuda/lib64", "/usr/local/cuda/lib", "/usr/local/cuda/targets/x86_64-linux/lib",
                "/usr/local/tensorrt/lib", "/opt/tensorrt/lib", "/usr/lib/wsl/lib"}) {
            d.add(Path.of(s));
        }
        // versioned CUDA toolkits: /usr/local/cuda-13.0/lib64 ...
        try (var s = Files.newDirectoryStream(Path.of("/usr/local"), "cuda-*")) {
            for (Path p : s) {
                d.add(p.resolve("lib64"));
                d.add(p.resolve("lib"));
            }
        } catch (IOException | RuntimeException ignored) {
            // no /usr/local: nothing to add
        }
        return new LibraryLocator(new ArrayList<>(d), ldconfigCache());
    }

    /** The path of {@code soname}, if found. */
    Optional<Path> find(String soname) {
        for (Path d : dirs) {
            Path p = d.resolve(soname);
            if (Files.exists(p)) {
                return Optional.of(p);
            }
        }
        for (String p : ldconfig) {
            if (Path.of(p).getFileName().toString().equals(soname)) {
                return Optional.of(Path.of(p));
            }
        }
        return Optional.empty();
    }

    /** The library paths that {@code ldconfig -p} lists; empty where ldconfig is absent. */
    private static Set<String> ldconfigCache() {
        Set<String> out = new LinkedHashSet<>();
        for (String exe : new String[] {"/sbin/ldconfig", "/usr/sbin/ldconfig"}) {
            if (!Files.isExecutable(Path.of(exe))) {
                continue;
            }
            try {
                Process p = new ProcessBuilder(exe, "-p").redirectErrorStream(true).start();
                try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    for (String line; (line = r.readLine()) != null; ) {
                        int arrow = line.lastIndexOf("=> ");
                        if (arrow > 0) {
                            out.add(line.substring(arrow + 3).trim());
                        }
                    }
                }
                p.waitFor(5, TimeUnit.SECONDS);
                return out;
            } catch (IOException e) {
                return out;
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return out;
            }
        }
        return out;
    }
}
