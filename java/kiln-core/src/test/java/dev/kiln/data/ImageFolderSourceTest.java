package dev.kiln.data;

import dev.kiln.KilnArgumentException;
import dev.kiln.graph.DType;
import dev.kiln.graph.Shape;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.Tensor;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import javax.imageio.ImageIO;
import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ImageFolderSourceTest {
    @TempDir
    Path dir;

    // a 2x2 RGB image: red, green / blue, (10, 20, 30)
    private static final int[][] PIXELS = {{0xFF0000, 0x00FF00}, {0x0000FF, 0x0A141E}};

    private Path rgbPng(String name) throws IOException {
        BufferedImage img = new BufferedImage(2, 2, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 2; y++) {
            for (int x = 0; x < 2; x++) {
                img.setRGB(x, y, PIXELS[y][x]);
            }
        }
        Path p = dir.resolve(name);
        ImageIO.write(img, "png", p.toFile());
        return p;
    }

    private Path png(String name, int w, int h, int type, int rgb) throws IOException {
        BufferedImage img = new BufferedImage(w, h, type);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                if (type == BufferedImage.TYPE_BYTE_GRAY) {
                    img.getRaster().setSample(x, y, 0, rgb & 0xFF); // setRGB would convert sRGB to linear gray
                } else {
                    img.setRGB(x, y, rgb);
                }
            }
        }
        Path p = dir.resolve(name);
        ImageIO.write(img, name.endsWith(".jpg") ? "jpg" : "png", p.toFile());
        return p;
    }

    private static float[] read(ImageFolderSource s) {
        try (SampleReader r = s.open()) {
            return r.read((int) s.sampleCount()).floats();
        }
    }

    @Test
    void rgbNhwcUnitScaleByDefault() throws IOException {
        rgbPng("a.png");
        ImageFolderSource s = ImageFolderSource.builder(dir).build();
        assertEquals(Shape.of(2, 2, 3), s.sampleShape());
        assertEquals(DType.FLOAT, s.dtype());
        float[] v = read(s);
        assertArrayEquals(new float[] {1, 0, 0, 0, 1, 0, 0, 0, 1, 10 / 255f, 20 / 255f, 30 / 255f}, v, 1e-7f);
    }

    @Test
    void bgrRawAndNchw() throws IOException {
        rgbPng("a.png");
        float[] bgr = read(ImageFolderSource.builder(dir).channels(ImageFolderSource.Channels.BGR).raw().build());
        assertArrayEquals(new float[] {0, 0, 255, 0, 255, 0, 255, 0, 0, 30, 20, 10}, bgr);
        ImageFolderSource nchw = ImageFolderSource.builder(dir).layout(ImageFolderSource.Layout.NCHW).raw().build();
        assertEquals(Shape.of(3, 2, 2), nchw.sampleShape());
        assertArrayEquals(new float[] {255, 0, 0, 10, 0, 255, 0, 20, 0, 0, 255, 30}, read(nchw));
    }

    @Test
    void meanStdNormalisationPerChannel() throws IOException {
        rgbPng("a.png");
        float[] mean = {0.485f, 0.456f, 0.406f};
        float[] std = {0.229f, 0.224f, 0.225f};
        float[] v = read(ImageFolderSource.builder(dir).meanStd(mean, std).build());
        // the last pixel (10, 20, 30), by hand: (10/255 - 0.485)/0.229 = -1.946727...
        assertEquals(-1.9466, v[9], 1e-3);
        assertEquals((20 / 255.0 - 0.456) / 0.224, v[10], 1e-6);
        assertEquals((30 / 255.0 - 0.406) / 0.225, v[11], 1e-6);
        assertEquals((1 - 0.485) / 0.229, v[0], 1e-6); // red pixel, R channel
        KilnArgumentException e = assertThrows(KilnArgumentException.class, () -> ImageFolderSource.builder(dir)
                .channels(ImageFolderSource.Channels.GRAY).meanStd(mean, std).build());
        assertTrue(e.getMessage().contains("mean/std have 3 values, but the images have 1 channel(s)"));
    }

    @Test
    void grayPngValuesArriveUnchangedAndColourBecomesLuma() throws IOException {
        png("g.png", 3, 2, BufferedImage.TYPE_BYTE_GRAY, 0x646464); // gray 100
        ImageFolderSource gray = ImageFolderSource.builder(dir).channels(ImageFolderSource.Channels.GRAY).raw().build();
        assertEquals(Shape.of(2, 3, 1), gray.sampleShape());
        assertArrayEquals(new float[] {100, 100, 100, 100, 100, 100}, read(gray));
        float[] asRgb = read(ImageFolderSource.builder(dir).raw().build());
        assertEquals(100f, asRgb[0]);
        assertEquals(100f, asRgb[17]);
        Files.delete(dir.resolve("g.png"));
        rgbPng("c.png");
        float[] luma = read(ImageFolderSource.builder(dir).channels(ImageFolderSource.Channels.GRAY).raw().build());
        // 0.299 R + 0.587 G + 0.114 B, rounded: red 76.2, green 149.7, blue 29.1, (10,20,30) 18.15
        assertArrayEquals(new float[] {76, 150, 29, 18}, luma);
    }

    @Test
    void resizeIsBilinear() throws IOException {
        png("const.png", 5, 3, BufferedImage.TYPE_INT_RGB, 0x336699);
        float[] c = read(ImageFolderSource.builder(dir).size(4, 6).raw().build());
        assertEquals(4 * 6 * 3, c.length);
        for (int i = 0; i < c.length; i += 3) {
            assertArrayEquals(new float[] {0x33, 0x66, 0x99}, new float[] {c[i], c[i + 1], c[i + 2]});
        }
        Files.delete(dir.resolve("const.png"));
        // a 2x1 ramp 0, 200 upscaled to 4x1: pixel centres at source x = -0.25, 0.25, 0.75, 1.25 (edges clamp)
        BufferedImage ramp = new BufferedImage(2, 1, BufferedImage.TYPE_BYTE_GRAY);
        ramp.getRaster().setSample(0, 0, 0, 0);
        ramp.getRaster().setSample(1, 0, 0, 200);
        ImageIO.write(ramp, "png", dir.resolve("ramp.png").toFile());
        float[] r = read(ImageFolderSource.builder(dir).size(1, 4).channels(ImageFolderSource.Channels.GRAY).raw()
                .build());
        float[] expected = {0, 50, 150, 200};
        assertArrayEquals(expected, r, 1.01f);
    }

    @Test
    void filesAreReadInNameOrderAndJpegWorks() throws IOException {
        png("b.png", 2, 2, BufferedImage.TYPE_INT_RGB, 0x020202);
        png("a.png", 2, 2, BufferedImage.TYPE_INT_RGB, 0x010101);
        png("c.jpg", 2, 2, BufferedImage.TYPE_INT_RGB, 0x808080);
        Files.writeString(dir.resolve("readme.txt"), "not an image");
        ImageFolderSource s = ImageFolderSource.builder(dir).raw().channels(ImageFolderSource.Channels.GRAY).build();
        assertEquals(List.of("a.png", "b.png", "c.jpg"), s.files().stream().map(p -> p.getFileName().toString())
                .toList());
        float[] v = read(s);
        assertEquals(1f, v[0]);
        assertEquals(2f, v[4]);
        assertEquals(128f, v[8], 2f); // JPEG is lossy
    }

    @Test
    void unreadableImageAndMixedSizesAreErrorsNamingTheFile() throws IOException {
        png("a.png", 2, 2, BufferedImage.TYPE_INT_RGB, 0);
        Files.write(dir.resolve("broken.png"), new byte[] {1, 2, 3, 4});
        KilnArgumentException e = assertThrows(KilnArgumentException.class,
                () -> ImageFolderSource.builder(dir).build());
        assertTrue(e.getMessage().contains("broken.png") && e.getMessage().contains("cannot be read"),
                e.getMessage());
        ImageFolderSource resized = ImageFolderSource.builder(dir).size(2, 2).build(); // not decoded yet
        try (SampleReader r = resized.open()) {
            e = assertThrows(KilnArgumentException.class, () -> r.read(2));
            assertTrue(e.getMessage().contains("broken.png") && e.getMessage().contains("cannot be read"),
                    e.getMessage());
        }
        Files.delete(dir.resolve("broken.png"));
        png("big.png", 3, 2, BufferedImage.TYPE_INT_RGB, 0);
        e = assertThrows(KilnArgumentException.class, () -> ImageFolderSource.builder(dir).build());
        assertTrue(e.getMessage().contains("big.png is 2x3, but a.png is 2x2; set a size"), e.getMessage());
        Path empty = Files.createDirectory(dir.resolve("empty"));
        e = assertThrows(KilnArgumentException.class, () -> ImageFolderSource.builder(empty).build());
        assertTrue(e.getMessage().contains("has 0 samples"), e.getMessage());
    }

    @Test
    void folderSpecFitsItselfToTheModelInput() throws IOException {
        png("a.png", 5, 5, BufferedImage.TYPE_BYTE_GRAY, 0xFFFFFF);
        png("b.png", 7, 3, BufferedImage.TYPE_BYTE_GRAY, 0x000000);
        List<SignatureTensor> nchw = List.of(TestData.input("img", DType.FLOAT, -1, 1, 4, 4));
        RepresentativeData d = DataSources.parse(dir.toString(), dir, nchw, FloatConversion.identity()).build();
        assertEquals(2, d.sampleCount());
        Tensor t = TestData.concatAll(d, new ArrayList<>()).get("img");
        assertEquals(Shape.of(2, 1, 4, 4), t.shape());
        assertEquals(1f, t.floats()[0]);
        assertEquals(0f, t.floats()[16]);
        List<SignatureTensor> flat = List.of(TestData.input("x", DType.FLOAT, -1, 4, 4));
        Tensor f = TestData.concatAll(DataSources.parse(dir.toString(), dir, flat, FloatConversion.identity())
                .build(), new ArrayList<>()).get("x");
        assertEquals(Shape.of(2, 4, 4), f.shape());
    }
}
