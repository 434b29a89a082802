package dev.kiln.spark;

import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;

import java.io.Serializable;

/**
 * The result of one row of a batch conversion, as it goes into the results DataFrame, results.csv and results.json.
 *
 * @param index          the row's position in the request list
 * @param model          the model path or URI, as given
 * @param options        the options, as given
 * @param key            the output's address: SHA-256 of the model's bytes and the canonical options (null when the
 *                       model could not be read)
 * @param status         converted, reused (the same key was done before: a retry) or failed
 * @param output         the row's output directory
 * @param artifacts      the artifacts, {@code format/precision path bytes} separated by "; ", paths relative to output
 * @param artifactBytes  their total size
 * @param modelBytes     the original model's size
 * @param passed         every artifact matched the original within tolerance
 * @param summary        one line: nodes before and after, artifacts, verification
 * @param accuracy       top-1 of the first evaluated artifact, where labels were given (null otherwise)
 * @param seconds        time the conversion took on its executor
 * @param reason         why it failed (null when it did not)
 */
public record ConversionRow(int index, String model, String options, String key, String status, String output,
                            String artifacts, long artifactBytes, long modelBytes, boolean passed, String summary,
                            Double accuracy, double seconds, String reason) implements Serializable {

    static final StructType SCHEMA = new StructType()
            .add("index", DataTypes.IntegerType, false)
            .add("model", DataTypes.StringType, false)
            .add("options", DataTypes.StringType, true)
            .add("key", DataTypes.StringType, true)
            .add("status", DataTypes.StringType, false)
            .add("output", DataTypes.StringType, true)
            .add("artifacts", DataTypes.StringType, true)
            .add("artifact_bytes", DataTypes.LongType, false)
            .add("model_bytes", DataTypes.LongType, false)
            .add("passed", DataTypes.BooleanType, false)
            .add("summary", DataTypes.StringType, true)
            .add("accuracy", DataTypes.DoubleType, true)
            .add("seconds", DataTypes.DoubleType, false)
            .add("reason", DataTypes.StringType, true);

    static ConversionRow failed(int index, String model, String options, String key, double seconds, String reason) {
        return new ConversionRow(index, model, options, key, "failed", null, null, 0, 0, false, null, null, seconds,
                reason);
    }

    /** This finished conversion, found again by the request at {@code i} (same key: same model bytes, options). */
    ConversionRow reusedBy(int i, String m, String o, double secs) {
        return new ConversionRow(i, m, o, key, "reused", output, artifacts, artifactBytes, modelBytes, passed,
                summary, accuracy, secs, reason);
    }

    Row toRow() {
        return RowFactory.create(index, model, options, key, status, output, artifacts, artifactBytes, modelBytes,
                passed, summary, accuracy, seconds, reason);
    }

    static ConversionRow of(Row r) {
        return new ConversionRow(r.getInt(0), r.getString(1), r.getString(2), r.getString(3), r.getString(4),
                r.getString(5), r.getString(6), r.getLong(7), r.getLong(8), r.getBoolean(9), r.getString(10),
                r.isNullAt(11) ? null : r.getDouble(11), r.getDouble(12), r.getString(13));
    }
}
