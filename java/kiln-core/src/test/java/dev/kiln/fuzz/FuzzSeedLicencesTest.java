package dev.kiln.fuzz;

import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every committed fuzz input (the files under every module's src/test/resources/.../*FuzzTestInputs/) has an entry in
 * seed-licences.tsv (beside this test's resources): where it came from and its licence, one that allows
 * redistribution. An input taken or derived from ../shared names the file it came from and a phrase of the line of
 * ../shared's SOURCES.md or README.md that states that licence; with ../shared present, the test reads that line.
 */
class FuzzSeedLicencesTest {
    /** Licences that allow the seed to be redistributed with the project (CC BY-SA 3.0: with attribution, as MNIST). */
    private static final Set<String> ALLOWED = Set.of("Apache-2.0", "MIT", "BSD-3-Clause", "CC-BY-SA-3.0", "Kiln");

    private record Entry(String origin, String licence, String evidence) { }

    private static Path root() {
        return Path.of(System.getProperty("kiln.repo.root", "../..")).toAbsolutePath().normalize();
    }

    private static Map<String, Entry> manifest() throws IOException {
        Map<String, Entry> m = new LinkedHashMap<>();
        try (var in = FuzzSeedLicencesTest.class.getResourceAsStream("seed-licences.tsv")) {
            assertTrue(in != null, "seed-licences.tsv is on the test classpath");
            for (String line : new String(in.readAllBytes(), java.nio.charset.StandardCharsets.UTF_8).split("\n")) {
                if (line.isBlank() || line.startsWith("#")) {
                    continue;
                }
                String[] f = line.split("\t", -1);
                assertEquals(4, f.length, "seed, origin, licence, evidence: " + line);
                assertTrue(m.put(f[0], new Entry(f[1], f[2], f[3])) == null, "listed twice: " + f[0]);
            }
        }
        return m;
    }

    private static Set<String> committedSeeds() throws IOException {
        Set<String> seeds = new TreeSet<>();
        try (Stream<Path> files = Files.walk(root().resolve("java"))) {
            files.filter(Files::isRegularFile)
                    .map(p -> root().relativize(p).toString().replace('\\', '/'))
                    .filter(p -> p.matches("java/[^/]+/src/test/resources/.*FuzzTestInputs/.*"))
                    .forEach(seeds::add);
        }
        return seeds;
    }

    @Test
    void everySeedHasAnEntryWithARedistributableLicence() throws IOException {
        Map<String, Entry> manifest = manifest();
        Set<String> seeds = committedSeeds();
        assertTrue(seeds.size() > 50, "the seeds were found under " + root() + ": " + seeds.size());
        List<String> problems = new ArrayList<>();
        for (String seed : seeds) {
            Entry e = manifest.get(seed);
            if (e == null) {
                problems.add(seed + ": no entry in seed-licences.tsv");
            } else if (!ALLOWED.contains(e.licence())) {
                problems.add(seed + ": licence '" + e.licence() + "' is not one of " + ALLOWED);
            } else if (e.licence().equals("Kiln") && !e.origin().startsWith("kiln:")) {
                problems.add(seed + ": licence 'Kiln' is for files Kiln made (origin 'kiln: ...') only");
            } else if (e.origin().startsWith("shared/") && e.evidence().isBlank()) {
                problems.add(seed + ": from ../shared without the phrase that finds its licence line");
            }
        }
        for (String listed : manifest.keySet()) {
            if (!seeds.contains(listed)) {
                problems.add(listed + ": listed in seed-licences.tsv but not committed (remove the entry)");
            }
        }
        assertTrue(problems.isEmpty(), String.join("\n", problems));
    }

    @Test
    void seedsFromSharedHaveTheLicenceSharedStatesForThem() throws IOException {
        Path shared = root().resolveSibling("shared");
        Assumptions.assumeTrue(Files.isDirectory(shared), "../shared is absent (" + shared + "): licence lines not read");
        List<String> problems = new ArrayList<>();
        int checked = 0;
        for (Map.Entry<String, Entry> m : manifest().entrySet()) {
            Entry e = m.getValue();
            if (!e.origin().startsWith("shared/")) {
                continue;
            }
            Path origin = shared.resolve(e.origin().substring("shared/".length()).replaceFirst(" \\(.*", ""));
            if (!Files.exists(origin)) {
                problems.add(m.getKey() + ": its origin " + origin + " does not exist");
                continue;
            }
            Path statement = licenceStatement(origin, shared);
            if (statement == null) {
                problems.add(m.getKey() + ": no SOURCES.md or README.md above " + origin);
                continue;
            }
            boolean found = Files.readAllLines(statement).stream().anyMatch(line -> line.contains(e.evidence())
                    && normalized(line).contains(normalized(e.licence())));
            if (!found) {
                problems.add(m.getKey() + ": no line of " + statement + " has both '" + e.evidence() + "' and "
                        + e.licence());
            }
            checked++;
        }
        assertTrue(problems.isEmpty(), String.join("\n", problems));
        assertTrue(checked > 10, "seeds from ../shared checked: " + checked);
    }

    /** The nearest SOURCES.md (or README.md) in the folders from {@code origin} up to ../shared. */
    private static Path licenceStatement(Path origin, Path shared) {
        for (Path dir = Files.isDirectory(origin) ? origin : origin.getParent(); dir != null && dir.startsWith(shared);
                dir = dir.getParent()) {
            for (String name : new String[] {"SOURCES.md", "README.md"}) {
                if (Files.isRegularFile(dir.resolve(name)) && !dir.equals(shared)) {
                    return dir.resolve(name);
                }
            }
        }
        return null;
    }

    /** "CC BY-SA 3.0" and "CC-BY-SA-3.0" alike. */
    private static String normalized(String s) {
        return s.replaceAll("[\\s\\-]", "").toUpperCase(Locale.ROOT);
    }
}
