package dev.kiln.onnx;

import com.google.protobuf.UnsafeByteOperations;
import dev.kiln.KilnException;
import dev.kiln.Limits;
import dev.kiln.graph.DType;
import dev.kiln.onnx.proto.Onnx.AttributeProto;
import dev.kiln.onnx.proto.Onnx.GraphProto;
import dev.kiln.onnx.proto.Onnx.ModelProto;
import dev.kiln.onnx.proto.Onnx.NodeProto;
import dev.kiln.onnx.proto.Onnx.StringStringEntryProto;
import dev.kiln.onnx.proto.Onnx.TensorProto;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.InvalidPathException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;

/**
 * ONNX external data: tensors whose bytes live in a file beside the model ({@code data_location = EXTERNAL} and
 * {@code external_data} entries {@code location}, {@code offset}, {@code length}), as Kiln's {@code
 * --onnx-external-data} and {@code onnx.save_model(..., save_as_external_data=True)} write them. Resolving puts each
 * such tensor's bytes into its raw_data as a read-only view of the memory-mapped data file, so the rest of Kiln reads
 * it like an inline tensor: nothing is copied into the heap, and a page is read only when a tensor is used.
 *
 * <p>Per the ONNX spec and its checker: {@code location} is a path relative to the model file's directory; an
 * absolute one, one with a {@code ..} component, or one that a symbolic link takes outside that directory is refused.
 * {@code offset} defaults to 0 and {@code length} to the tensor's declared size (with it, it must equal that size).
 * Every error names the model file, the tensor and the data file. A tensor over Kiln's 2 GiB per-tensor limit is
 * checked the same way but left external (a protobuf ByteString cannot hold it); reading its values then says why.
 */
final class OnnxExternalData {
    /** Data files are mapped in windows of this size: few mappings, none over Java's 2 GiB buffer limit. */
    private static final long WINDOW = 1L << 30;

    private OnnxExternalData() {
    }

    /** {@code m} with the bytes of every external tensor resolved beside {@code modelFile}; {@code m} when none. */
    static ModelProto resolve(ModelProto m, Path modelFile) {
        if (!uses(m.getGraph())) {
            return m;
        }
        try (Resolver r = new Resolver(modelFile)) {
            return m.toBuilder().setGraph(r.graph(m.getGraph())).build();
        }
    }

    /** A single serialized TensorProto read from {@code file}, its external data resolved beside it. */
    static TensorProto resolve(TensorProto t, Path file) {
        if (!isExternal(t)) {
            return t;
        }
        try (Resolver r = new Resolver(file)) {
            return r.tensor(t, "tensor '" + t.getName() + "'");
        }
    }

    /**
     * The data files that {@code m}'s external tensors name (graph, Constant values and subgraphs), each checked as
     * {@link #resolve} checks it, in the order they are first named; empty when the model has none.
     */
    static java.util.List<Path> dataFiles(ModelProto m, Path modelFile) {
        java.util.Set<String> locations = new java.util.LinkedHashSet<>();
        collect(m.getGraph(), locations);
        java.util.List<Path> files = new java.util.ArrayList<>();
        try (Resolver r = new Resolver(modelFile)) {
            for (String location : locations) {
                files.add(r.dataFile(location, modelFile.toString()));
            }
        }
        return files;
    }

    private static void collect(GraphProto g, java.util.Set<String> locations) {
        g.getInitializerList().forEach(t -> collect(t, locations));
        for (NodeProto n : g.getNodeList()) {
            for (AttributeProto a : n.getAttributeList()) {
                if (a.hasT()) {
                    collect(a.getT(), locations);
                }
                a.getTensorsList().forEach(t -> collect(t, locations));
                if (a.hasG()) {
                    collect(a.getG(), locations);
                }
                a.getGraphsList().forEach(sub -> collect(sub, locations));
            }
        }
    }

    private static void collect(TensorProto t, java.util.Set<String> locations) {
        if (isExternal(t)) {
            t.getExternalDataList().stream().filter(e -> e.getKey().equals("location"))
                    .forEach(e -> locations.add(e.getValue()));
        }
    }

    static boolean isExternal(TensorProto t) {
        return t.getDataLocation() == TensorProto.DataLocation.EXTERNAL;
    }

    /** Whether a graph (its subgraphs included) has an external tensor. */
    private static boolean uses(GraphProto g) {
        for (TensorProto t : g.getInitializerList()) {
            if (isExternal(t)) {
                return true;
            }
        }
        for (NodeProto n : g.getNodeList()) {
            if (uses(n)) {
                return true;
            }
        }
        return false;
    }

    /** Whether a node's attributes hold an external tensor (a Constant's value, a subgraph's initializer). */
    private static boolean uses(NodeProto n) {
        for (AttributeProto a : n.getAttributeList()) {
            if (a.hasT() && isExternal(a.getT()) || a.getTensorsList().stream().anyMatch(OnnxExternalData::isExternal)
                    || a.hasG() && uses(a.getG()) || a.getGraphsList().stream().anyMatch(OnnxExternalData::uses)) {
                return true;
            }
        }
        return false;
    }

    /** Resolves the tensors of one model file; holds its data files open until closed (the mappings outlive that). */
    private static final class Resolver implements AutoCloseable {
        final Path model;
        final Path dir;
        /** The data files by location: many tensors share one. */
        final Map<String, DataFile> files = new HashMap<>();

        Resolver(Path modelFile) {
            this.model = modelFile;
            Path parent = modelFile.toAbsolutePath().getParent();
            this.dir = parent == null ? Path.of("/") : parent.normalize();
        }

        GraphProto graph(GraphProto g) {
            GraphProto.Builder b = g.toBuilder();
            for (int i = 0; i < b.getInitializerCount(); i++) {
                TensorProto t = b.getInitializer(i);
                if (isExternal(t)) {
                    b.setInitializer(i, tensor(t, "initializer '" + t.getName() + "'"));
                }
            }
            for (int i = 0; i < b.getNodeCount(); i++) {
                NodeProto n = b.getNode(i);
                if (uses(n)) {
                    b.setNode(i, node(n));
                }
            }
            return b.build();
        }

        NodeProto node(NodeProto n) {
            NodeProto.Builder nb = n.toBuilder();
            String node = n.getName().isEmpty() ? n.getOpType() + " -> " + String.join(",", n.getOutputList())
                    : n.getName();
            for (int j = 0; j < nb.getAttributeCount(); j++) {
                AttributeProto.Builder a = nb.getAttribute(j).toBuilder();
                String what = "attribute '" + a.getName() + "' of node '" + node + "'";
                if (a.hasT() && isExternal(a.getT())) {
                    a.setT(tensor(a.getT(), what));
                }
                for (int k = 0; k < a.getTensorsCount(); k++) {
                    if (isExternal(a.getTensors(k))) {
                        a.setTensors(k, tensor(a.getTensors(k), what));
                    }
                }
                if (a.hasG()) {
                    a.setG(graph(a.getG()));
                }
                for (int k = 0; k < a.getGraphsCount(); k++) {
                    a.setGraphs(k, graph(a.getGraphs(k)));
                }
                nb.setAttribute(j, a);
            }
            return nb.build();
        }

        /** {@code t} with its bytes from the data file in raw_data; {@code what} names it in errors. */
        TensorProto tensor(TensorProto t, String what) {
            String where = model + ": " + what;
            Map<String, String> entries = new HashMap<>();
            for (StringStringEntryProto e : t.getExternalDataList()) {
                entries.put(e.getKey(), e.getValue());
            }
            String location = entries.get("location");
            if (location == null || location.isEmpty()) {
                throw KilnException.invalidModel(where + " is external data without a location");
            }
            DataFile data = open(location, where);
            Path file = data.path;
            DType dt;
            try {
                dt = OnnxTensors.kilnType(t.getDataType());
            } catch (KilnException unsupported) {
                return t; // an element type Kiln does not read (float8, int4): left external, the rest reads
            }
            if (dt == DType.STRING) {
                throw KilnException.invalidModel(where + ": a string tensor cannot be external data (" + file + ")");
            }
            long declared = declaredBytes(t, dt, where);
            long offset = number(entries, "offset", 0, where, file);
            long length = number(entries, "length", declared, where, file);
            if (length != declared) {
                throw KilnException.invalidModel(where + ": external data length " + length + " in " + file
                        + " is not the " + declared + " bytes of its " + dt + " dims " + t.getDimsList());
            }
            if (offset > data.size || length > data.size - offset) {
                throw KilnException.invalidModel(where + ": external data bytes " + offset + " to " + (offset + length)
                        + " lie beyond the end of " + file + " (" + data.size + " bytes; truncated?)");
            }
            if (length > Limits.MAX_TENSOR_BYTES) {
                return t; // checked, but too large for Kiln's tensors: reading its values says so
            }
            ByteBuffer bytes;
            try {
                bytes = data.slice(offset, (int) length);
            } catch (IOException e) {
                throw KilnException.io(where + ": cannot map " + file + ": " + e.getMessage(), e);
            }
            return t.toBuilder().clearExternalData().clearDataLocation()
                    .setRawData(UnsafeByteOperations.unsafeWrap(bytes)).build();
        }

        /** The data file {@code location} names, which must be a regular file inside the model's directory. */
        Path dataFile(String location, String where) {
            Path rel;
            try {
                rel = Path.of(location);
            } catch (InvalidPathException e) {
                throw KilnException.invalidModel(where + ": external data location '" + location
                        + "' is not a valid path");
            }
            if (rel.isAbsolute() || location.startsWith("/") || location.startsWith("\\")
                    || location.matches("[A-Za-z]:.*")) {
                throw KilnException.invalidModel(where + ": external data location '" + location + "' is an absolute "
                        + "path; ONNX allows only a path relative to the model's directory " + dir);
            }
            for (Path part : rel) {
                if (part.toString().equals("..")) {
                    throw KilnException.invalidModel(where + ": external data location '" + location + "' leaves the "
                            + "model's directory " + dir + " through '..', which ONNX does not allow");
                }
            }
            Path file = dir.resolve(rel).normalize();
            if (!Files.exists(file)) {
                throw KilnException.invalidModel(where + ": external data file " + file + " does not exist");
            }
            if (!Files.isRegularFile(file)) {
                throw KilnException.invalidModel(where + ": external data file " + file + " is not a regular file");
            }
            try {
                Path real = file.toRealPath();
                if (!real.startsWith(dir.toRealPath())) {
                    throw KilnException.invalidModel(where + ": external data file " + file + " is a link to " + real
                            + ", outside the model's directory " + dir);
                }
            } catch (IOException e) {
                throw KilnException.io(where + ": cannot read external data file " + file + ": " + e.getMessage(), e);
            }
            return file;
        }

        /** The data file {@code location} names, checked and opened the first time a tensor names it. */
        DataFile open(String location, String where) {
            DataFile d = files.get(location);
            if (d == null) {
                Path file = dataFile(location, where);
                try {
                    d = new DataFile(file, FileChannel.open(file));
                } catch (IOException e) {
                    throw KilnException.io(where + ": cannot read external data file " + file + ": " + e.getMessage(),
                            e);
                }
                files.put(location, d);
            }
            return d;
        }

        @Override
        public void close() {
            for (DataFile d : files.values()) {
                try {
                    d.channel.close();
                } catch (IOException ignored) {
                    // read-only: nothing is lost, and the mappings stay valid
                }
            }
        }
    }

    /** The bytes {@code t}'s dims and type declare, without the heap check of reading them (nothing is read here). */
    private static long declaredBytes(TensorProto t, DType dt, String where) {
        long bytes = dt.byteSize();
        for (long d : t.getDimsList()) {
            if (d < 0) {
                throw KilnException.invalidModel(where + ": negative dimension " + d + " in dims " + t.getDimsList());
            }
            try {
                bytes = Math.multiplyExact(bytes, d);
            } catch (ArithmeticException e) {
                throw KilnException.invalidModel(where + ": dims " + t.getDimsList() + " overflow a 64-bit size");
            }
        }
        return bytes;
    }

    /** A non-negative integer entry ("offset", "length"), or {@code absent} when the entry is not there. */
    private static long number(Map<String, String> entries, String key, long absent, String where, Path file) {
        String v = entries.get(key);
        if (v == null) {
            return absent;
        }
        try {
            long n = Long.parseLong(v.trim());
            if (n >= 0) {
                return n;
            }
        } catch (NumberFormatException ignored) {
            // the error below
        }
        throw KilnException.invalidModel(where + ": external data " + key + " '" + v + "' (in " + file
                + ") is not a non-negative integer");
    }

    /** One data file, mapped read-only window by window as tensors ask for their bytes. */
    private static final class DataFile {
        final Path path;
        final FileChannel channel;
        final long size;
        final Map<Long, MappedByteBuffer> windows = new HashMap<>();

        DataFile(Path path, FileChannel channel) throws IOException {
            this.path = path;
            this.channel = channel;
            this.size = channel.size();
        }

        /** Bytes [offset, offset + length) of the file; the caller has checked that they lie inside it. */
        ByteBuffer slice(long offset, int length) throws IOException {
            if (length == 0) {
                return ByteBuffer.allocate(0);
            }
            long w = offset / WINDOW;
            if ((offset + length - 1) / WINDOW != w) {
                return channel.map(FileChannel.MapMode.READ_ONLY, offset, length); // across two windows: its own
            }
            MappedByteBuffer m = windows.get(w);
            if (m == null) {
                long start = w * WINDOW;
                m = channel.map(FileChannel.MapMode.READ_ONLY, start, Math.min(WINDOW, size - start));
                windows.put(w, m);
            }
            return m.slice((int) (offset - w * WINDOW), length);
        }
    }
}
