package dev.kiln.data;

import dev.kiln.graph.DType;
import dev.kiln.graph.Shape;
import dev.kiln.graph.SignatureTensor;
import dev.kiln.graph.Tensor;
import dev.kiln.graph.TensorRef;
import dev.kiln.graph.TensorType;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;

/** Fixtures made by code: arrays, .npz archives, signature inputs. */
final class TestData {
    private TestData() {
    }

    /** 0, 1, 2, ... as float32 of the given shape (each value says where it came from). */
    static float[] iota(int n) {
        float[] v = new float[n];
        for (int i = 0; i < n; i++) {
            v[i] = i * 0.5f - 3;
        }
        return v;
    }

    static SignatureTensor input(String name, DType dtype, long... dims) {
        return new SignatureTensor(name, TensorRef.parse(name + ":0"), new TensorType(dtype, Shape.of(dims)));
    }

    /** A .npz archive of the given arrays (name without .npy), stored or deflated. */
    static void npz(Path path, Map<String, Tensor> arrays, boolean deflate) throws IOException {
        try (ZipOutputStream zip = new ZipOutputStream(Files.newOutputStream(path))) {
            for (Map.Entry<String, Tensor> a : arrays.entrySet()) {
                ByteArrayOutputStream bytes = new ByteArrayOutputStream();
                NpyWriter.write(bytes, a.getValue());
                zip.putNextEntry(entry(a.getKey() + ".npy", bytes.toByteArray(), deflate));
                bytes.writeTo(zip);
                zip.closeEntry();
            }
        }
    }

    /** A zip with raw bytes as entries (for broken .npy entries). */
    static void zipRaw(Path path, String name, byte[] content, boolean deflate) throws IOException {
        try (ZipOutputStream zip = new ZipOutputStream(Files.newOutputStream(path))) {
            zip.putNextEntry(entry(name, content, deflate));
            zip.write(content);
            zip.closeEntry();
        }
    }

    private static ZipEntry entry(String name, byte[] content, boolean deflate) {
        ZipEntry e = new ZipEntry(name);
        if (deflate) {
            e.setMethod(ZipEntry.DEFLATED);
        } else {
            e.setMethod(ZipEntry.STORED);
            CRC32 crc = new CRC32();
            crc.update(content);
            e.setCrc(crc.getValue());
            e.setSize(content.length);
            e.setCompressedSize(content.length);
        }
        return e;
    }

    /** All batches of a pass, concatenated per input. */
    static Map<String, Tensor> concatAll(RepresentativeData data, List<Integer> sizes) {
        Map<String, List<Tensor>> parts = new java.util.LinkedHashMap<>();
        try (RepresentativeData.Batches b = data.iterator()) {
            while (b.hasNext()) {
                Map<String, Tensor> batch = b.next();
                int n = -1;
                for (Map.Entry<String, Tensor> e : batch.entrySet()) {
                    parts.computeIfAbsent(e.getKey(), k -> new ArrayList<>()).add(e.getValue());
                    n = (int) e.getValue().shape().dim(0);
                }
                sizes.add(n);
            }
        }
        Map<String, Tensor> out = new java.util.LinkedHashMap<>();
        parts.forEach((k, v) -> out.put(k, Batching.concat(v, k)));
        return out;
    }

    static void write(OutputStream out, byte[]... parts) throws IOException {
        for (byte[] p : parts) {
            out.write(p);
        }
    }
}
