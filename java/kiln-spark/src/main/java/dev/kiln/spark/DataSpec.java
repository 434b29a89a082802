package dev.kiln.spark;

import dev.kiln.data.ArrayData;
import dev.kiln.data.DataSources;
import dev.kiln.data.FloatConversion;
import dev.kiln.graph.SignatureTensor;

import java.io.Serializable;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Representative data as {@code --data} gives it ({@code x.npy}, {@code data.npz}, {@code x=a.npy,y=b.npz:arr}, an
 * image folder), each file on a local path or any Hadoop-compatible URI, with the float conversion and batch size:
 * what the driver and every executor turn into the same {@link ArrayData} (the executors into a range of it).
 *
 * @param spec       the --data specification
 * @param scale      multiply the values by this...
 * @param offset     ...then add this
 * @param batchSize  samples per batch (0: the model's fixed batch, else 32)
 */
public record DataSpec(String spec, double scale, double offset, int batchSize) implements Serializable {

    /** {@code spec} as it is, batches of 32 (or the model's fixed batch). */
    public static DataSpec of(String spec) {
        return new DataSpec(spec, 1, 0, 0);
    }

    public DataSpec scaled(double s, double o) {
        return new DataSpec(spec, s, o, batchSize);
    }

    public DataSpec batched(int n) {
        return new DataSpec(spec, scale, offset, n);
    }

    /** The data for {@code inputs}, every file local (URIs fetched), samples {@code start .. start+count-1}. */
    ArrayData read(List<SignatureTensor> inputs, long start, long count) {
        ArrayData.Builder b = DataSources.parse(localSpec(), Path.of(""), inputs,
                FloatConversion.of(scale, offset)).range(start, count);
        return (batchSize > 0 ? b.batchSize(batchSize) : b).build();
    }

    /** The number of samples the data holds. */
    long sampleCount(List<SignatureTensor> inputs) {
        return DataSources.parse(localSpec(), Path.of(""), inputs, FloatConversion.of(scale, offset)).build()
                .sampleCount();
    }

    /** The spec with every URI replaced by its local copy ({@link HadoopPaths}). */
    String localSpec() {
        List<String> parts = new ArrayList<>();
        for (String part : spec.split(",")) {
            int eq = part.indexOf('=');
            String name = eq > 0 && !HadoopPaths.isUri(part.substring(0, eq)) ? part.substring(0, eq + 1) : "";
            parts.add(name + localFile(part.substring(name.length()).trim()));
        }
        return String.join(",", parts);
    }

    /** One file, keeping an .npz array suffix ({@code data.npz:pixels}) out of the path that is fetched. */
    private static String localFile(String file) {
        int colon = file.lastIndexOf(':');
        String array = "";
        if (colon > 0 && file.substring(0, colon).toLowerCase(Locale.ROOT).endsWith(".npz")) {
            array = file.substring(colon);
            file = file.substring(0, colon);
        }
        return HadoopPaths.local(file) + array;
    }
}
