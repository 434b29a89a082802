package dev.kiln.calib;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.util.DefaultIndenter;
import com.fasterxml.jackson.core.util.DefaultPrettyPrinter;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.KilnException;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * The JSON plumbing of Kiln's calibration files: a strict parser (duplicate keys, trailing data and truncation are
 * errors), a generator with fixed indentation and LF line ends (so the bytes do not depend on the platform), and
 * field readers whose errors name the file and the field.
 */
final class CalibJson {
    private static final ObjectMapper MAPPER = new ObjectMapper(JsonFactory.builder()
            .enable(com.fasterxml.jackson.core.StreamReadFeature.STRICT_DUPLICATE_DETECTION).build())
            .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
            // exact decimals: a float is parsed once from the text, not rounded through a double first
            .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS);

    private CalibJson() {
    }

    /** Parses a whole file; malformed or truncated JSON is a {@link KilnException} naming {@code source}. */
    static JsonNode parse(byte[] bytes, Object source) {
        if (bytes.length == 0) {
            throw CalibFiles.corrupt(source, "the file is empty");
        }
        try {
            return MAPPER.readTree(bytes);
        } catch (JsonProcessingException e) {
            String why = e.getOriginalMessage();
            boolean eof = e instanceof com.fasterxml.jackson.core.io.JsonEOFException;
            throw CalibFiles.corrupt(source, (eof ? "truncated JSON" : "malformed JSON") + " at line "
                    + (e.getLocation() == null ? "?" : e.getLocation().getLineNr()) + ": " + why, e);
        } catch (IOException e) {
            throw CalibFiles.corrupt(source, "cannot parse: " + e.getMessage(), e);
        }
    }

    /** Writes JSON with two-space indentation and LF line ends whatever the platform. */
    interface Body {
        void write(JsonGenerator g) throws IOException;
    }

    static byte[] write(Body body) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        DefaultIndenter lf = new DefaultIndenter("  ", "\n");
        DefaultPrettyPrinter pp = new DefaultPrettyPrinter().withObjectIndenter(lf).withArrayIndenter(
                DefaultPrettyPrinter.FixedSpaceIndenter.instance);
        try (JsonGenerator g = MAPPER.getFactory().createGenerator(out)) {
            g.setPrettyPrinter(pp);
            body.write(g);
            g.writeRaw('\n');
        } catch (IOException e) {
            throw new UncheckedIOException(e); // writing to memory does not fail
        }
        return out.toByteArray();
    }

    /** Writes {@code name}: shortest decimal and {@code nameBits}: the hex bit pattern (which is authoritative). */
    static void writeFloat(JsonGenerator g, String name, float v) throws IOException {
        g.writeFieldName(name);
        g.writeNumber(FloatText.shortest(v));
        g.writeStringField(name + "Bits", FloatText.bits(v));
    }

    /** Field access on one JSON object, with errors naming the file and where in it. */
    static final class Fields {
        private final JsonNode node;
        private final Object source;
        private final String where;

        Fields(JsonNode node, Object source, String where) {
            this.source = source;
            this.where = where;
            if (node == null || !node.isObject()) {
                throw CalibFiles.corrupt(source, where + " must be a JSON object");
            }
            this.node = node;
        }

        JsonNode node() {
            return node;
        }

        KilnException error(String what) {
            return CalibFiles.corrupt(source, where + ": " + what);
        }

        JsonNode require(String field) {
            JsonNode v = node.get(field);
            if (v == null || v.isNull()) {
                throw error("missing field '" + field + "'");
            }
            return v;
        }

        Fields object(String field) {
            return new Fields(require(field), source, where + "." + field);
        }

        String text(String field) {
            JsonNode v = require(field);
            if (!v.isTextual()) {
                throw error("'" + field + "' must be a string");
            }
            return v.textValue();
        }

        boolean bool(String field) {
            JsonNode v = require(field);
            if (!v.isBoolean()) {
                throw error("'" + field + "' must be true or false");
            }
            return v.booleanValue();
        }

        long count(String field) {
            JsonNode v = require(field);
            if (!v.isIntegralNumber() || !v.canConvertToLong() || v.longValue() < 0) {
                throw error("'" + field + "' must be an integer >= 0, got " + v);
            }
            return v.longValue();
        }

        int integer(String field) {
            JsonNode v = require(field);
            if (!v.isIntegralNumber() || !v.canConvertToInt()) {
                throw error("'" + field + "' must be an integer, got " + v);
            }
            return v.intValue();
        }

        /** A float written by {@link #writeFloat}: the bits decide, and the decimal must agree with them. */
        float floatWithBits(String field) {
            JsonNode dec = require(field);
            float v = bitsOnly(field + "Bits");
            if (!dec.isNumber()) {
                throw error("'" + field + "' must be a number, got " + dec);
            }
            float parsed = Float.parseFloat(dec.asText());
            if (parsed != v && !(Float.isNaN(v) && Float.isNaN(parsed))) { // numerically: JSON has no -0
                throw error("'" + field + "' = " + dec.asText() + " disagrees with '" + field + "Bits' = "
                        + FloatText.bits(v) + " (" + v + "): the file was edited or corrupted");
            }
            return v;
        }

        /** A float stored as its hex bit pattern only (infinities and NaN included). */
        float bitsOnly(String field) {
            String s = text(field);
            Float v = FloatText.fromBits(s);
            if (v == null) {
                throw error("'" + field + "' must be 1 to 8 hex digits (a float32 bit pattern), got '" + s + "'");
            }
            return v;
        }
    }
}
