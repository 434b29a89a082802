package dev.kiln.spark;

import dev.kiln.KilnArgumentException;
import dev.kiln.graph.DType;
import dev.kiln.graph.Shape;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.Tensor;

import org.apache.spark.sql.Row;

import java.io.Serializable;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;

/**
 * Representative data as DataFrame rows: one row per sample, one column per model input (named after it) holding the
 * sample's values flattened in row-major order as an array of floats (or doubles). An executor turns the rows of its
 * partition into batches of the model's input tensors.
 *
 * @param names         the model's input names (the columns read)
 * @param sampleShapes  each input's shape without the batch axis, fully known
 * @param batchSize     samples per batch
 */
record TensorRows(List<String> names, List<long[]> sampleShapes, int batchSize) implements Serializable {

    /** The layout for {@code inputs}: float inputs whose shape is known but for the batch axis. */
    static TensorRows of(List<SignatureTensor> inputs, int batchSize) {
        List<String> names = new ArrayList<>();
        List<long[]> shapes = new ArrayList<>();
        for (SignatureTensor in : inputs) {
            Shape s = in.type().shape();
            KilnArgumentException.check(in.type().dtype() == DType.FLOAT, "input '" + in.name() + "' is "
                    + in.type().dtype().name().toLowerCase() + ": DataFrame rows feed float32 inputs only");
            KilnArgumentException.check(s.hasRank() && s.rank() >= 1, "input '" + in.name() + "' has shape " + s
                    + ": a batch axis is needed to feed DataFrame rows");
            long[] sample = java.util.Arrays.copyOfRange(s.dims(), 1, s.rank());
            KilnArgumentException.check(java.util.Arrays.stream(sample).allMatch(d -> d > 0), "input '" + in.name()
                    + "' has shape " + s + ": the sample shape must be fully known to unflatten DataFrame rows");
            names.add(in.name());
            shapes.add(sample);
        }
        return new TensorRows(List.copyOf(names), List.copyOf(shapes), batchSize > 0 ? batchSize : 32);
    }

    /** The batches of {@code rows} (one pass). */
    Iterable<Map<String, Tensor>> batches(Iterator<Row> rows) {
        return () -> new Iterator<>() {
            @Override
            public boolean hasNext() {
                return rows.hasNext();
            }

            @Override
            public Map<String, Tensor> next() {
                if (!rows.hasNext()) {
                    throw new NoSuchElementException();
                }
                List<Row> batch = new ArrayList<>(batchSize);
                while (rows.hasNext() && batch.size() < batchSize) {
                    batch.add(rows.next());
                }
                return tensors(batch);
            }
        };
    }

    private Map<String, Tensor> tensors(List<Row> batch) {
        Map<String, Tensor> out = new LinkedHashMap<>();
        for (int i = 0; i < names.size(); i++) {
            String name = names.get(i);
            long[] sample = sampleShapes.get(i);
            int per = (int) java.util.Arrays.stream(sample).reduce(1, (a, b) -> a * b);
            float[] values = new float[per * batch.size()];
            for (int r = 0; r < batch.size(); r++) {
                Row row = batch.get(r);
                int col;
                try {
                    col = row.fieldIndex(name);
                } catch (IllegalArgumentException e) {
                    throw new KilnArgumentException("the DataFrame has no column '" + name + "' for the model's input "
                            + "of that name");
                }
                List<Object> v = row.getList(col);
                KilnArgumentException.check(v != null && v.size() == per, "column '" + name + "': a row has "
                        + (v == null ? "null" : v.size() + " values") + ", the input's sample shape "
                        + java.util.Arrays.toString(sample) + " needs " + per);
                for (int k = 0; k < per; k++) {
                    values[r * per + k] = ((Number) v.get(k)).floatValue();
                }
            }
            long[] dims = new long[sample.length + 1];
            dims[0] = batch.size();
            System.arraycopy(sample, 0, dims, 1, sample.length);
            out.put(name, Tensor.ofFloats(Shape.of(dims), values));
        }
        return out;
    }
}
