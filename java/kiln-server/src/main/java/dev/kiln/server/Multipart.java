package dev.kiln.server;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.function.LongConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A multipart/form-data body, spooled to a file (never held in memory, refused past the upload limit while it is
 * still arriving) and cut into one file per part. Parts are named by their form field; the client's file name is
 * kept only as a hint of the archive type, never used as a path.
 */
final class Multipart {
    /** One form field: its client-side file name (may be null) and where its bytes are. */
    record Part(String name, String filename, Path file, long size) { }

    private static final Pattern BOUNDARY = Pattern.compile("boundary=(\"([^\"]+)\"|[^;\\s]+)",
            Pattern.CASE_INSENSITIVE);
    private static final Pattern NAME = Pattern.compile("[;\\s]name=\"([^\"]*)\"", Pattern.CASE_INSENSITIVE);
    private static final Pattern FILENAME = Pattern.compile("filename=\"([^\"]*)\"", Pattern.CASE_INSENSITIVE);
    private static final Pattern FIELD = Pattern.compile("[a-z][a-z0-9_]{0,31}");

    private Multipart() {
    }

    /**
     * Reads the body into {@code dir}: {@code upload.spool}, then {@code part-<name>} for every field. 413 past
     * {@code maxBytes}; 400 for anything that is not well-formed multipart.
     */
    static Map<String, Part> read(InputStream body, String contentType, long maxBytes, Path dir, LongConsumer bytesIn)
            throws IOException {
        if (contentType == null || !contentType.toLowerCase(Locale.ROOT).startsWith("multipart/form-data")) {
            throw ApiException.badRequest("POST /v1/jobs takes multipart/form-data (parts 'model', 'options', "
                    + "'data'), got Content-Type " + contentType);
        }
        Matcher m = BOUNDARY.matcher(contentType);
        if (!m.find()) {
            throw ApiException.badRequest("the multipart Content-Type has no boundary");
        }
        String boundary = m.group(2) != null ? m.group(2) : m.group(1);
        Files.createDirectories(dir);
        Path spool = dir.resolve("upload.spool");
        long size = spool(body, spool, maxBytes, bytesIn);
        try {
            return split(spool, size, boundary, dir);
        } finally {
            Files.deleteIfExists(spool);
        }
    }

    private static long spool(InputStream in, Path spool, long maxBytes, LongConsumer bytesIn) throws IOException {
        byte[] buf = new byte[1 << 16];
        long total = 0;
        try (OutputStream out = Files.newOutputStream(spool)) {
            for (int n; (n = in.read(buf)) > 0; ) {
                total += n;
                bytesIn.accept(n);
                if (total > maxBytes) {
                    throw new ApiException(413, "the upload is larger than the limit of " + maxBytes / (1024 * 1024)
                            + " MiB (--max-upload-mb)");
                }
                out.write(buf, 0, n);
            }
        }
        return total;
    }

    private static Map<String, Part> split(Path spool, long size, String boundary, Path dir) throws IOException {
        Map<String, Part> parts = new LinkedHashMap<>();
        byte[] delim = ("--" + boundary).getBytes(StandardCharsets.ISO_8859_1);
        byte[] crlfDelim = ("\r\n--" + boundary).getBytes(StandardCharsets.ISO_8859_1);
        byte[] headerEnd = "\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);
        try (FileChannel ch = FileChannel.open(spool, StandardOpenOption.READ)) {
            MappedByteBuffer buf = ch.map(FileChannel.MapMode.READ_ONLY, 0, size);
            long pos = indexOf(buf, delim, 0);
            if (pos < 0) {
                throw ApiException.badRequest("the multipart body holds no boundary '" + boundary + "'");
            }
            while (true) {
                pos += delim.length;
                if (pos + 2 > size) {
                    throw ApiException.badRequest("the multipart body is truncated (no closing boundary)");
                }
                if (buf.get((int) pos) == '-' && buf.get((int) pos + 1) == '-') {
                    return parts;
                }
                if (buf.get((int) pos) != '\r' || buf.get((int) pos + 1) != '\n') {
                    throw ApiException.badRequest("malformed multipart body: a boundary is not followed by CRLF");
                }
                pos += 2;
                long hend = indexOf(buf, headerEnd, pos);
                if (hend < 0) {
                    throw ApiException.badRequest("malformed multipart body: a part's headers do not end");
                }
                byte[] h = new byte[(int) (hend - pos)];
                buf.get((int) pos, h);
                String headers = new String(h, StandardCharsets.UTF_8);
                long start = hend + 4;
                long end = indexOf(buf, crlfDelim, start);
                if (end < 0) {
                    throw ApiException.badRequest("the multipart body is truncated (a part does not end)");
                }
                Part p = part(headers, ch, start, end - start, dir);
                if (parts.put(p.name(), p) != null) {
                    throw ApiException.badRequest("the form field '" + p.name() + "' is given twice");
                }
                pos = end + 2;
            }
        }
    }

    private static Part part(String headers, FileChannel ch, long start, long length, Path dir) throws IOException {
        String disposition = null;
        for (String line : headers.split("\r\n")) {
            if (line.toLowerCase(Locale.ROOT).startsWith("content-disposition:")) {
                disposition = line;
            }
        }
        if (disposition == null) {
            throw ApiException.badRequest("a multipart part has no Content-Disposition header");
        }
        Matcher n = NAME.matcher(disposition);
        if (!n.find()) {
            throw ApiException.badRequest("a multipart part has no name: " + disposition);
        }
        String name = n.group(1);
        if (!FIELD.matcher(name).matches()) {
            throw ApiException.badRequest("unknown form field '" + name + "' (known: model, options, data)");
        }
        Matcher f = FILENAME.matcher(disposition);
        String filename = f.find() ? f.group(1) : null;
        Path file = dir.resolve("part-" + name);
        try (FileChannel out = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                StandardOpenOption.TRUNCATE_EXISTING)) {
            long done = 0;
            while (done < length) {
                done += ch.transferTo(start + done, length - done, out);
            }
        }
        return new Part(name, filename, file, length);
    }

    private static long indexOf(MappedByteBuffer buf, byte[] needle, long from) {
        int limit = buf.limit() - needle.length;
        byte first = needle[0];
        outer:
        for (int i = (int) from; i <= limit; i++) {
            if (buf.get(i) != first) {
                continue;
            }
            for (int j = 1; j < needle.length; j++) {
                if (buf.get(i + j) != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
