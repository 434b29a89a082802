package dev.kiln.tensorflow;

import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;

/**
 * The real data shipped with Kiln: images 0–5999 of the MNIST test set and their labels
 * ({@code examples/mnist/mnist_6000.npz}, see its README for source and licence). Split convention: images
 * {@link #CALIBRATION} calibrate, {@link #TRAIN} train the bundled example model, {@link #EVALUATION} evaluate
 * (held out from both).
 *
 * <p>Read from the classpath (the file is packaged in the kiln-tensorflow jar), else from
 * {@code examples/mnist} under the repository root (system property {@code kiln.repo.root}, else the working
 * directory). Loaded once, on first use.
 */
public final class ExampleData {
    /** A range of image indices: {@code [start, start + count)}. */
    public record Range(int start, int count) {
    }

    /** Images 0–999: calibration data. */
    public static final Range CALIBRATION = new Range(0, 1000);
    /** Images 1000–4999: the training data of {@link ExampleModels#trainedMnistCnn}. */
    public static final Range TRAIN = new Range(1000, 4000);
    /** Images 5000–5999: held out, for evaluation. */
    public static final Range EVALUATION = new Range(5000, 1000);
    /** Number of images in the slice. */
    public static final int SIZE = 6000;
    /** Image height and width. */
    public static final int SIDE = 28;
    /** Number of classes (digits). */
    public static final int CLASSES = 10;

    static final String FILE_NAME = "mnist_6000.npz";
    static final String RESOURCE = "/dev/kiln/examples/mnist/" + FILE_NAME;

    private static final int PIXELS = SIDE * SIDE;
    private static volatile ExampleData loaded;

    private final byte[] images;   // uint8 [SIZE, 28, 28, 1]
    private final byte[] labels;   // uint8 [SIZE]

    private ExampleData(byte[] images, byte[] labels) {
        this.images = images;
        this.labels = labels;
    }

    /** Images {@code start .. start+count-1} as float [count, 28, 28, 1], pixel values divided by 255. */
    public static Tensor images(int start, int count) {
        return Tensor.ofFloats(Shape.of(count, SIDE, SIDE, 1), pixels(start, count));
    }

    /** Images of {@code range} as float [count, 28, 28, 1], pixels / 255. */
    public static Tensor images(Range range) {
        return images(range.start(), range.count());
    }

    /** Labels (digits 0–9) of images {@code start .. start+count-1}. */
    public static int[] labels(int start, int count) {
        check(start, count);
        byte[] l = data().labels;
        int[] out = new int[count];
        for (int i = 0; i < count; i++) {
            out[i] = l[start + i] & 0xff;
        }
        return out;
    }

    /** Labels of {@code range}. */
    public static int[] labels(Range range) {
        return labels(range.start(), range.count());
    }

    /** The labels of {@code range} as longs, as evaluation takes them. */
    public static long[] labelsAsLongs(Range range) {
        int[] l = labels(range);
        long[] out = new long[l.length];
        for (int i = 0; i < l.length; i++) {
            out[i] = l[i];
        }
        return out;
    }

    /**
     * The images of {@code range} as representative data for model input {@code input}, in batches of
     * {@code batch} (the last one short), described with the slice it is.
     */
    public static dev.kiln.data.RepresentativeData data(Range range, String input, int batch) {
        java.util.List<java.util.Map<String, Tensor>> batches = new java.util.ArrayList<>();
        for (int s = range.start(); s < range.start() + range.count(); s += batch) {
            int n = Math.min(batch, range.start() + range.count() - s);
            batches.add(java.util.Map.of(input, images(s, n)));
        }
        return dev.kiln.data.RepresentativeData.of(batches, "examples/mnist images " + range.start() + "-"
                + (range.start() + range.count() - 1) + " (pixels / 255)");
    }

    /** Images {@code start .. start+count-1} as a flat float array (NHWC, pixels / 255). */
    static float[] pixels(int start, int count) {
        check(start, count);
        byte[] img = data().images;
        float[] out = new float[count * PIXELS];
        int from = start * PIXELS;
        for (int i = 0; i < out.length; i++) {
            out[i] = (img[from + i] & 0xff) / 255f;
        }
        return out;
    }

    private static void check(int start, int count) {
        KilnArgumentException.check(start >= 0 && count >= 0 && start + count <= SIZE,
                "example data has images 0.." + (SIZE - 1) + "; asked for " + count + " from " + start);
    }

    private static ExampleData data() {
        ExampleData d = loaded;
        if (d == null) {
            synchronized (ExampleData.class) {
                d = loaded;
                if (d == null) {
                    d = load();
                    loaded = d;
                }
            }
        }
        return d;
    }

    private static ExampleData load() {
        try (InputStream in = ExampleData.class.getResourceAsStream(RESOURCE)) {
            if (in != null) {
                return read(in, "classpath:" + RESOURCE);
            }
        } catch (IOException e) {
            throw KilnException.io("cannot read the example data classpath:" + RESOURCE + ": " + e.getMessage(), e);
        }
        Path file = repositoryFile();
        if (!Files.isRegularFile(file)) {
            throw KilnException.unavailable("the example MNIST data is neither on the classpath (" + RESOURCE
                    + ") nor at " + file.toAbsolutePath() + " (set -Dkiln.repo.root to the repository root)");
        }
        try (InputStream in = Files.newInputStream(file)) {
            return read(in, file.toString());
        } catch (IOException e) {
            throw KilnException.io("cannot read the example data " + file + ": " + e.getMessage(), e);
        }
    }

    /** {@code examples/mnist/mnist_6000.npz} under {@code kiln.repo.root}, else under the working directory. */
    static Path repositoryFile() {
        return Path.of(System.getProperty("kiln.repo.root", "."), "examples", "mnist", FILE_NAME).normalize();
    }

    private static ExampleData read(InputStream in, String where) throws IOException {
        Map<String, byte[]> arrays = new HashMap<>();
        try (ZipInputStream zip = new ZipInputStream(in)) {
            for (ZipEntry e; (e = zip.getNextEntry()) != null; ) {
                arrays.put(e.getName(), zip.readAllBytes());
            }
        }
        byte[] images = npyUint8(arrays.get("images.npy"), "images.npy", where, SIZE, SIDE, SIDE, 1);
        byte[] labels = npyUint8(arrays.get("labels.npy"), "labels.npy", where, SIZE);
        return new ExampleData(images, labels);
    }

    private static final Pattern DESCR = Pattern.compile("'descr'\\s*:\\s*'([^']*)'");
    private static final Pattern SHAPE = Pattern.compile("'shape'\\s*:\\s*\\(([^)]*)\\)");

    /** The data of a C-order uint8 .npy file, checked against {@code shape}. */
    private static byte[] npyUint8(byte[] npy, String name, String where, long... shape) {
        if (npy == null || npy.length < 10 || (npy[0] & 0xff) != 0x93
                || !new String(npy, 1, 5, StandardCharsets.US_ASCII).equals("NUMPY")) {
            throw KilnException.invalidModel(where + ": " + name + " is missing or not a .npy file");
        }
        int major = npy[6];
        int headerLen = major == 1 ? (npy[8] & 0xff) | (npy[9] & 0xff) << 8
                : (npy[8] & 0xff) | (npy[9] & 0xff) << 8 | (npy[10] & 0xff) << 16 | (npy[11] & 0xff) << 24;
        int start = major == 1 ? 10 : 12;
        String header = new String(npy, start, headerLen, StandardCharsets.ISO_8859_1);
        Matcher d = DESCR.matcher(header);
        Matcher s = SHAPE.matcher(header);
        String expected = java.util.Arrays.stream(shape).mapToObj(Long::toString)
                .collect(java.util.stream.Collectors.joining(","));
        String found = s.find() ? s.group(1).replaceAll("[\\s]", "").replaceAll(",$", "") : "?";
        if (!d.find() || !d.group(1).equals("|u1") || header.contains("'fortran_order': True")
                || !found.equals(expected)) {
            throw KilnException.invalidModel(where + ": " + name + " must be C-order uint8 (" + expected
                    + "), its header is " + header.trim());
        }
        int dataStart = start + headerLen;
        long n = java.util.Arrays.stream(shape).reduce(1, (a, b) -> a * b);
        if (npy.length - dataStart != n) {
            throw KilnException.invalidModel(where + ": " + name + " holds " + (npy.length - dataStart)
                    + " bytes of data, expected " + n);
        }
        return java.util.Arrays.copyOfRange(npy, dataStart, npy.length);
    }
}
