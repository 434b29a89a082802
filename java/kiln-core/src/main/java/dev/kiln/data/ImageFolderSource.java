package dev.kiln.data;

import dev.kiln.KilnArgumentException;
import dev.kiln.KilnException;
import dev.kiln.graph.DType;
import dev.kiln.graph.Shape;
import dev.kiln.graph.Tensor;

import javax.imageio.ImageIO;
import java.awt.Graphics2D;
import java.awt.RenderingHints;
import java.awt.image.BufferedImage;
import java.awt.image.IndexColorModel;
import java.awt.image.Raster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;

/**
 * A folder of PNG and JPEG images as float32 samples, in file-name order (so every run sees the same order).
 * Each image is optionally resized (bilinear, java.awt), given as RGB, BGR or one gray channel, and normalised as
 * {@code (x / 255 - mean[c]) / std[c]}, or kept as raw 0-255 values; laid out HWC (for NHWC inputs) or CHW (NCHW).
 *
 * <p>Pixels are taken from the decoded raster as stored, without colour management, so a gray PNG's values reach
 * the model unchanged. Gray from colour images is ITU-R 601 luma, rounded as PIL's {@code convert("L")} does.
 *
 * <pre>{@code
 * ArraySource imgs = ImageFolderSource.builder(Path.of("calib"))
 *         .size(224, 224).meanStd(new float[] {0.485f, 0.456f, 0.406f}, new float[] {0.229f, 0.224f, 0.225f})
 *         .build();
 * }</pre>
 */
public final class ImageFolderSource implements ArraySource {

    /** Channel order of the output. */
    public enum Channels { RGB, BGR, GRAY }

    /** Where the channel axis goes. */
    public enum Layout { NHWC, NCHW }

    private final Path dir;
    private final List<Path> files;
    private final int height;
    private final int width;
    private final Channels channels;
    private final Layout layout;
    private final double divisor;
    private final float[] mean;
    private final float[] std;

    private ImageFolderSource(Builder b, List<Path> files, int height, int width) {
        this.dir = b.dir;
        this.files = files;
        this.height = height;
        this.width = width;
        this.channels = b.channels;
        this.layout = b.layout;
        this.divisor = b.divisor;
        this.mean = b.mean;
        this.std = b.std;
    }

    public static Builder builder(Path dir) {
        return new Builder(dir, 0, 0, Channels.RGB, Layout.NHWC, 255, null, null);
    }

    /** The image files, in the order they are read. */
    public List<Path> files() {
        return files;
    }

    private int nbChannels() {
        return channels == Channels.GRAY ? 1 : 3;
    }

    @Override
    public String name() {
        return dir + "/ (" + files.size() + " images, " + height + "x" + width + " " + channels + " " + layout
                + (divisor == 1 ? ", raw 0-255" : mean == null ? ", x/255" : ", (x/255 - mean " + Arrays.toString(mean)
                + ") / std " + Arrays.toString(std)) + ")";
    }

    @Override
    public DType dtype() {
        return DType.FLOAT;
    }

    @Override
    public Shape sampleShape() {
        return layout == Layout.NHWC ? Shape.of(height, width, nbChannels()) : Shape.of(nbChannels(), height, width);
    }

    @Override
    public long sampleCount() {
        return files.size();
    }

    @Override
    public SampleReader open() {
        return new SampleReader() {
            private int next;

            @Override
            public Tensor read(int count) {
                KilnArgumentException.check(count >= 0 && next + count <= files.size(), dir + ": images " + next
                        + ".." + (next + count - 1) + " are outside [0, " + files.size() + ")");
                int per = height * width * nbChannels();
                float[] out = new float[Math.multiplyExact(count, per)];
                for (int i = 0; i < count; i++) {
                    pixels(files.get(next + i), out, i * per);
                }
                next += count;
                return Tensor.ofFloats(Batching.withBatch(sampleShape(), count), out);
            }

            @Override
            public void skip(long count) {
                next = (int) Math.min(files.size(), next + count);
            }

            @Override
            public void close() {
            }
        };
    }

    /** Decodes, resizes and normalises one image into {@code out} from {@code at}. */
    void pixels(Path file, float[] out, int at) {
        BufferedImage img = resize(toRgb(decode(file)), width, height);
        int c = nbChannels();
        int plane = height * width;
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                int rgb = img.getRGB(x, y);
                int r = (rgb >>> 16) & 0xFF;
                int g = (rgb >>> 8) & 0xFF;
                int b = rgb & 0xFF;
                for (int k = 0; k < c; k++) {
                    int v = switch (channels) {
                        case GRAY -> r == g && g == b ? r : (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
                        case RGB -> k == 0 ? r : k == 1 ? g : b;
                        case BGR -> k == 0 ? b : k == 1 ? g : r;
                    };
                    double s = v / divisor;
                    if (mean != null) {
                        s = (s - mean[k]) / std[k];
                    }
                    int p = y * width + x;
                    out[at + (layout == Layout.NHWC ? p * c + k : k * plane + p)] = (float) s;
                }
            }
        }
    }

    static BufferedImage decode(Path file) {
        BufferedImage img;
        try {
            img = ImageIO.read(file.toFile());
        } catch (IOException | RuntimeException e) {
            throw new KilnArgumentException("image " + file + " cannot be read: " + e.getMessage());
        }
        KilnArgumentException.check(img != null, "image " + file + " cannot be read: not a PNG or JPEG image"
                + " that javax.imageio decodes");
        return img;
    }

    /** The image as 8-bit RGB, its stored sample values copied (no colour conversion for plain 8-bit images). */
    static BufferedImage toRgb(BufferedImage img) {
        if (img.getType() == BufferedImage.TYPE_INT_RGB) {
            return img;
        }
        int w = img.getWidth();
        int h = img.getHeight();
        BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Raster r = img.getRaster();
        int bands = r.getNumBands();
        boolean plain8 = !(img.getColorModel() instanceof IndexColorModel)
                && Arrays.stream(r.getSampleModel().getSampleSize()).allMatch(s -> s == 8);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int rgb;
                if (plain8 && bands <= 2) {
                    int g = r.getSample(x, y, 0);
                    rgb = g << 16 | g << 8 | g;
                } else if (plain8 && bands >= 3) {
                    rgb = r.getSample(x, y, 0) << 16 | r.getSample(x, y, 1) << 8 | r.getSample(x, y, 2);
                } else {
                    rgb = img.getRGB(x, y) & 0xFFFFFF; // palette or 16-bit: let the colour model map it
                }
                out.setRGB(x, y, rgb);
            }
        }
        return out;
    }

    static BufferedImage resize(BufferedImage img, int w, int h) {
        if (img.getWidth() == w && img.getHeight() == h) {
            return img;
        }
        BufferedImage out = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        Graphics2D g = out.createGraphics();
        try {
            g.setRenderingHint(RenderingHints.KEY_INTERPOLATION, RenderingHints.VALUE_INTERPOLATION_BILINEAR);
            g.setRenderingHint(RenderingHints.KEY_RENDERING, RenderingHints.VALUE_RENDER_QUALITY);
            g.drawImage(img, 0, 0, w, h, null);
        } finally {
            g.dispose();
        }
        return out;
    }

    /** Immutable: every method returns a new builder. */
    public static final class Builder {
        private final Path dir;
        private final int height;
        private final int width;
        private final Channels channels;
        private final Layout layout;
        private final double divisor;
        private final float[] mean;
        private final float[] std;

        private Builder(Path dir, int height, int width, Channels channels, Layout layout, double divisor,
                        float[] mean, float[] std) {
            this.dir = dir;
            this.height = height;
            this.width = width;
            this.channels = channels;
            this.layout = layout;
            this.divisor = divisor;
            this.mean = mean;
            this.std = std;
        }

        /** Resize every image to {@code height} x {@code width} (default: keep; then all must be one size). */
        public Builder size(int height, int width) {
            KilnArgumentException.check(height > 0 && width > 0, "image size must be positive, got " + height
                    + "x" + width);
            return new Builder(dir, height, width, channels, layout, divisor, mean, std);
        }

        /** RGB (default), BGR, or one gray channel. */
        public Builder channels(Channels c) {
            return new Builder(dir, height, width, c, layout, divisor, mean, std);
        }

        /** NHWC (default) gives samples [H,W,C]; NCHW gives [C,H,W]. */
        public Builder layout(Layout l) {
            return new Builder(dir, height, width, channels, l, divisor, mean, std);
        }

        /** Raw pixel values 0-255, no normalisation. */
        public Builder raw() {
            return new Builder(dir, height, width, channels, layout, 1, null, null);
        }

        /** x / 255, in [0, 1] (the default). */
        public Builder unit() {
            return new Builder(dir, height, width, channels, layout, 255, null, null);
        }

        /** (x / 255 - mean[c]) / std[c], per output channel (one value each for gray). */
        public Builder meanStd(float[] mean, float[] std) {
            KilnArgumentException.check(mean != null && std != null && mean.length == std.length,
                    "mean and std need one value per channel each");
            for (float s : std) {
                KilnArgumentException.check(s > 0, "std must be > 0, got " + Arrays.toString(std));
            }
            return new Builder(dir, height, width, channels, layout, 255, mean.clone(), std.clone());
        }

        /**
         * Size, layout and channels from a model input's shape: [N,H,W,C] with C of 1 or 3 is NHWC, [N,C,H,W] is
         * NCHW, [N,H,W] is gray; unknown H or W keep the images' size. Settings made before are replaced.
         */
        public Builder fitTo(Shape input) {
            if (!input.hasRank()) {
                return this;
            }
            long[] d = input.dims();
            Builder b = this;
            long h = -1;
            long w = -1;
            if (d.length == 4 && (d[3] == 1 || d[3] == 3)) {
                b = b.layout(Layout.NHWC).channels(d[3] == 1 ? Channels.GRAY : b.channels == Channels.GRAY
                        ? Channels.RGB : b.channels);
                h = d[1];
                w = d[2];
            } else if (d.length == 4 && (d[1] == 1 || d[1] == 3)) {
                b = b.layout(Layout.NCHW).channels(d[1] == 1 ? Channels.GRAY : b.channels == Channels.GRAY
                        ? Channels.RGB : b.channels);
                h = d[2];
                w = d[3];
            } else if (d.length == 3) {
                b = b.layout(Layout.NHWC).channels(Channels.GRAY);
                h = d[1];
                w = d[2];
            }
            return h > 0 && w > 0 ? b.size((int) h, (int) w) : b;
        }

        /** Lists the folder, checks the options, and reads the first image's size when none was set. */
        public ImageFolderSource build() {
            KilnArgumentException.check(Files.isDirectory(dir), "image folder " + dir + " does not exist");
            List<Path> files;
            try (Stream<Path> s = Files.list(dir)) {
                files = s.filter(Files::isRegularFile).filter(Builder::isImage)
                        .sorted((a, b) -> a.getFileName().toString().compareTo(b.getFileName().toString()))
                        .toList();
            } catch (IOException e) {
                throw KilnException.io("cannot list " + dir + ": " + e, e);
            }
            KilnArgumentException.check(!files.isEmpty(), "image folder " + dir
                    + " has 0 samples: no .png, .jpg or .jpeg files");
            int c = channels == Channels.GRAY ? 1 : 3;
            KilnArgumentException.check(mean == null || mean.length == c, "mean/std have " + (mean == null ? 0
                    : mean.length) + " values, but the images have " + c + " channel(s)");
            int h = height;
            int w = width;
            if (h == 0) {
                BufferedImage first = decode(files.get(0));
                h = first.getHeight();
                w = first.getWidth();
            }
            return new ImageFolderSource(this, files, h, w).checkSizes(height == 0);
        }

        private static boolean isImage(Path p) {
            String n = p.getFileName().toString().toLowerCase(Locale.ROOT);
            return n.endsWith(".png") || n.endsWith(".jpg") || n.endsWith(".jpeg");
        }
    }

    /** Without a resize every image must already have the size; checked lazily would fail mid-calibration. */
    private ImageFolderSource checkSizes(boolean noResize) {
        if (noResize) {
            for (Path f : files) {
                try (var in = ImageIO.createImageInputStream(f.toFile())) {
                    var readers = in == null ? null : ImageIO.getImageReaders(in);
                    KilnArgumentException.check(readers != null && readers.hasNext(), "image " + f
                            + " cannot be read: not a PNG or JPEG image that javax.imageio decodes");
                    var reader = readers.next();
                    try {
                        reader.setInput(in);
                        int fh = reader.getHeight(0);
                        int fw = reader.getWidth(0);
                        KilnArgumentException.check(fh == height && fw == width, "image " + f + " is " + fh + "x"
                                + fw + ", but " + files.get(0).getFileName() + " is " + height + "x" + width
                                + "; set a size to resize them all");
                    } finally {
                        reader.dispose();
                    }
                } catch (IOException e) {
                    throw new KilnArgumentException("image " + f + " cannot be read: " + e.getMessage());
                }
            }
        }
        return this;
    }
}
