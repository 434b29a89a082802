package dev.kiln.data;

import dev.kiln.KilnArgumentException;
import dev.kiln.graph.SignatureTensor;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * Representative data from a command-line style specification, the way {@code --data} gives it:
 * <ul>
 *   <li>{@code images.npy}: the one input of a single-input model;</li>
 *   <li>{@code x=images.npy,mask=masks.npy}: one file per input;</li>
 *   <li>{@code data.npz}: arrays named after the inputs (or the only array, for a single-input model);</li>
 *   <li>{@code x=data.npz:pixels}: one array of an archive;</li>
 *   <li>{@code photos/}: a folder of images (see {@link ImageFolderSource}; size and layout from the input).</li>
 * </ul>
 * Relative paths resolve against {@code base}.
 */
public final class DataSources {
    private DataSources() {
    }

    /** Parses {@code spec} against the model's {@code inputs}; {@code conversion} applies to every array. */
    public static ArrayData.Builder parse(String spec, Path base, List<SignatureTensor> inputs,
                                          FloatConversion conversion) {
        KilnArgumentException.check(spec != null && !spec.isBlank(), "--data is empty");
        ArrayData.Builder b = ArrayData.builder(inputs).conversion(conversion);
        List<String> names = inputs.stream().map(SignatureTensor::name).toList();
        if (!spec.contains("=")) {
            Path p = base.resolve(spec.trim());
            if (isNpz(p) && !(names.size() == 1 && npzHasOnlyOneArray(p))) {
                return npzByInputNames(b, p, names);
            }
            KilnArgumentException.check(names.size() == 1, "data " + spec + " is one array, but the model has "
                    + names.size() + " inputs " + names + "; give one per input as name=file,name2=file2");
            return b.input(names.get(0), source(p, names.get(0), inputs.get(0)));
        }
        for (String part : spec.split(",")) {
            int eq = part.indexOf('=');
            KilnArgumentException.check(eq > 0, "'" + part + "' in --data " + spec + " is not name=file");
            String name = part.substring(0, eq).trim();
            SignatureTensor in = inputs.stream().filter(i -> i.name().equals(name)).findFirst()
                    .orElseThrow(() -> new KilnArgumentException("--data names input '" + name
                            + "', but the model's inputs are " + names));
            b = b.input(name, source(base.resolve(part.substring(eq + 1).trim()), name, in));
        }
        return b;
    }

    /** The source one file or folder gives for {@code input}. */
    static ArraySource source(Path p, String inputName, SignatureTensor input) {
        String s = p.toString();
        int colon = s.lastIndexOf(':');
        if (colon > 0 && s.substring(0, colon).toLowerCase(Locale.ROOT).endsWith(".npz")) {
            return ArraySource.npz(Path.of(s.substring(0, colon)), s.substring(colon + 1));
        }
        if (Files.isDirectory(p)) {
            return ImageFolderSource.builder(p).fitTo(input.type().shape()).build();
        }
        KilnArgumentException.check(Files.exists(p), "data file " + p + " (for input '" + inputName
                + "') does not exist");
        if (isNpz(p)) {
            try (NpzFile f = NpzFile.open(p)) {
                List<String> arrays = f.names();
                String array = arrays.contains(inputName) ? inputName : arrays.size() == 1 ? arrays.get(0) : null;
                KilnArgumentException.check(array != null, p + " has arrays " + arrays + ", none named '"
                        + inputName + "'; pick one with " + inputName + "=" + p + ":ARRAY");
                return ArraySource.npz(p, array);
            }
        }
        return ArraySource.npy(p);
    }

    private static ArrayData.Builder npzByInputNames(ArrayData.Builder b, Path p, List<String> names) {
        List<String> arrays;
        try (NpzFile f = NpzFile.open(p)) {
            arrays = f.names();
        }
        for (String n : names) {
            KilnArgumentException.check(arrays.contains(n), p + " has arrays " + arrays
                    + ", but the model's inputs are " + names + ": input '" + n + "' has no array of its name");
            b = b.input(n, ArraySource.npz(p, n));
        }
        return b;
    }

    private static boolean npzHasOnlyOneArray(Path p) {
        try (NpzFile f = NpzFile.open(p)) {
            return f.names().size() == 1;
        }
    }

    private static boolean isNpz(Path p) {
        return p.getFileName() != null && p.getFileName().toString().toLowerCase(Locale.ROOT).endsWith(".npz");
    }
}
