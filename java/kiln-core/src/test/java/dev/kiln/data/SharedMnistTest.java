package dev.kiln.data;

import dev.kiln.graph.DType;
import dev.kiln.graph.Shape;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.Tensor;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.zip.GZIPInputStream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The real MNIST test set in ../shared/data/mnist, read the way calibration and evaluation read it. */
class SharedMnistTest {

    static Path mnist() {
        // kiln.repo.root is set by the parent pom's surefire configuration; without it, this module is java/kiln-core
        String root = System.getProperty("kiln.repo.root");
        Path repo = root != null ? Path.of(root) : Path.of("").toAbsolutePath().resolve("../..");
        Path p = repo.resolve("../shared/data/mnist").normalize();
        assumeTrue(Files.isRegularFile(p.resolve("images_u8.npy")), p + " is absent: skipping tests on the shared"
                + " MNIST data");
        return p;
    }

    private static final List<SignatureTensor> NHWC = List.of(TestData.input("x", DType.FLOAT, -1, 28, 28, 1));

    @Test
    void images0To999ScaledBy1Over255EqualTheCalibrationFileExactly() {
        Path dir = mnist();
        ArraySource images = ArraySource.npy(dir.resolve("images_u8.npy"));
        assertEquals(DType.UINT8, images.dtype());
        assertEquals(10000, images.sampleCount());
        assertEquals(Shape.of(28, 28, 1), images.sampleShape());
        RepresentativeData calib = ArrayData.builder(NHWC).input("x", images, FloatConversion.scale(1.0 / 255))
                .range(0, 1000).batchSize(128).build();
        List<Integer> sizes = new ArrayList<>();
        Tensor got = TestData.concatAll(calib, sizes).get("x");
        assertEquals(List.of(128, 128, 128, 128, 128, 128, 128, 104), sizes);
        try (NpyFile ref = NpyFile.open(dir.resolve("calib_1000_f32.npy"))) {
            assertEquals(Shape.of(1000, 28, 28, 1), ref.shape());
            assertArrayEquals(ref.read(0, 1000).floats(), got.floats());
        }
    }

    @Test
    void flatInputGetsReshapedDataAndTheNoteSaysSo() {
        Path dir = mnist();
        List<SignatureTensor> flat = List.of(TestData.input("x", DType.FLOAT, -1, 784));
        RepresentativeData d = DataSources.parse("images_u8.npy", dir, flat, FloatConversion.scale(1.0 / 255))
                .build().slice(5000, 5000).withBatchSize(1000);
        assertEquals(List.of("input 'x': data [28,28,1] reshaped to [784]"), d.notes());
        try (RepresentativeData.Batches b = d.iterator()) {
            Tensor first = b.next().get("x");
            assertEquals(Shape.of(1000, 784), first.shape());
        }
    }

    @Test
    void npyFilesHoldExactlyTheOfficialIdxBytes() throws IOException {
        Path dir = mnist();
        byte[] labels = idx(dir.resolve("t10k-labels-idx1-ubyte.gz"), 8);
        try (NpyFile f = NpyFile.open(dir.resolve("labels_u8.npy"))) {
            assertEquals(Shape.of(10000), f.shape());
            Tensor t = f.read(0, 10000);
            byte[] got = new byte[10000];
            t.bytes().get(got);
            assertArrayEquals(labels, got);
            assertArrayEquals(new long[] {7, 2, 1, 0, 4, 1, 4, 9, 5, 9}, f.read(0, 10).asLongs());
        }
        byte[] images = idx(dir.resolve("t10k-images-idx3-ubyte.gz"), 16);
        // evaluation range, read in uneven batches through the public API
        RepresentativeData eval = DataSources.parse("images_u8.npy", dir, List.of(TestData.input("x", DType.UINT8,
                -1, 28, 28, 1)), FloatConversion.identity()).range(5000, 5000).batchSize(333).build();
        Tensor got = TestData.concatAll(eval, new ArrayList<>()).get("x");
        byte[] bytes = new byte[(int) got.byteSize()];
        got.bytes().get(bytes);
        assertTrue(Arrays.equals(Arrays.copyOfRange(images, 5000 * 784, 10000 * 784), bytes));
    }

    private static byte[] idx(Path gz, int headerBytes) throws IOException {
        assumeTrue(Files.isRegularFile(gz), gz + " is absent");
        try (InputStream in = new GZIPInputStream(Files.newInputStream(gz))) {
            byte[] all = in.readAllBytes();
            return Arrays.copyOfRange(all, headerBytes, all.length);
        }
    }
}
