package dev.kiln.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.kiln.graph.Tensor;
import dev.kiln.onnx.OnnxRunner;
import dev.kiln.eval.RandomInputs;
import dev.kiln.tensorflow.ExampleModels;
import dev.kiln.tensorflow.TfImporter;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The kiln command end to end: real models in, files and reports out, clear errors for bad input. */
class CliTest {
    @TempDir
    static Path tmp;

    static Path example;

    @BeforeAll
    static void buildExample() {
        example = ExampleModels.exampleCnn(tmp.resolve("example_cnn"));
    }

    /** Runs the CLI capturing stdout and stderr. */
    record Run(int status, String out, String err) { }

    static synchronized Run kiln(String... args) {
        PrintStream oldOut = System.out;
        PrintStream oldErr = System.err;
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        try {
            System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
            System.setErr(new PrintStream(err, true, StandardCharsets.UTF_8));
            int status = Main.execute(args);
            return new Run(status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
        } finally {
            System.setOut(oldOut);
            System.setErr(oldErr);
        }
    }

    static Path sharedModels() {
        Path p = Path.of(System.getProperty("kiln.repo.root", "../.."), "..", "shared", "models").normalize();
        assumeTrue(Files.isDirectory(p), "../shared/models is absent: skipping tests on the shared real models");
        return p;
    }

    @Test
    void optimizeWritesVerifiedSavedModelOnnxAndReports() throws Exception {
        Path out = tmp.resolve("opt");
        Run r = kiln("optimize", example.toString(), "-o", out.toString(), "--precision", "fp32,fp16");
        assertEquals(0, r.status(), r.err());
        assertTrue(Files.isRegularFile(out.resolve("saved_model/saved_model.pb")));
        assertTrue(Files.isRegularFile(out.resolve("model.onnx")));
        assertTrue(Files.isRegularFile(out.resolve("model_fp16.onnx")));
        assertTrue(Files.readString(out.resolve("report.html")).contains("<svg"));
        JsonNode report = new ObjectMapper().readTree(out.resolve("report.json").toFile());
        assertTrue(report.get("optimized").get("nodes").asInt() < report.get("original").get("nodes").asInt(),
                "optimize_for_inference should shrink the example CNN");
        assertFalse(report.get("optimized").get("ops").has("FusedBatchNormV3"), "BatchNorm should be folded");
        int verified = 0;
        for (JsonNode v : report.get("verifications")) {
            assertTrue(v.get("passed").asBoolean(), v.toString());
            if (!v.get("artifact").asText().equals("original")) {
                verified++;
                assertTrue(v.get("maxRelError").asDouble() <= v.get("tolerance").asDouble());
            }
        }
        assertEquals(3, verified, "SavedModel, ONNX fp32 and ONNX fp16 are each verified");
        assertTrue(r.out().contains("PASS"), r.out());
    }

    @Test
    void optimizeOnRealKerasCnnWithBatchNormAndDepthwise() throws Exception {
        Path model = sharedModels().resolve("mlperf_tiny_kws_dscnn");
        Path out = tmp.resolve("kws");
        Run r = kiln("optimize", model.toString(), "-o", out.toString(), "--samples", "2");
        assertEquals(0, r.status(), r.err() + r.out());
        JsonNode report = new ObjectMapper().readTree(out.resolve("report.json").toFile());
        assertFalse(report.get("optimized").get("ops").has("FusedBatchNormV3"));
        assertTrue(report.get("optimized").get("ops").has("DepthwiseConv2dNative"));
    }

    @org.junit.jupiter.params.ParameterizedTest
    @org.junit.jupiter.params.provider.ValueSource(strings = {"tensorrt", "onnxruntime"})
    void exportInt8QdqRunsOnOnnxRuntime(String target) {
        Path onnx = tmp.resolve("int8-" + target + ".onnx");
        Run r = kiln("export", example.toString(), "--precision", "int8", "--int8-target", target, "-o",
                onnx.toString(), "--calib-random", "--calib-samples", "4", "--verify");
        assertEquals(0, r.status(), r.err());
        var graph = TfImporter.load(example);
        Map<String, Tensor> in = RandomInputs.forSignature(graph.inputs(), 1, 2);
        try (OnnxRunner ort = OnnxRunner.open(onnx, 1)) {
            Map<String, Tensor> out = ort.run(in);
            assertEquals(graph.outputs().size(), out.size());
        }
        assertTrue(r.out().contains("max rel"), r.out());
    }

    @Test
    void exportWithExternalDataVerifiesAndRunsFromItsDirectory() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("external"));
        Path onnx = dir.resolve("model.onnx");
        Run r = kiln("export", example.toString(), "-o", onnx.toString(), "--onnx-external-data", "--verify");
        assertEquals(0, r.status(), r.err());
        Path data = dir.resolve("model.onnx.data");
        assertTrue(Files.size(data) > Files.size(onnx), "the weights are in " + data + ": " + Files.size(data)
                + " bytes beside a " + Files.size(onnx) + "-byte model");
        assertTrue(r.out().contains("max rel"), r.out());
        var graph = TfImporter.load(example);
        Map<String, Tensor> in = RandomInputs.forSignature(graph.inputs(), 1, 2);
        Path whole = tmp.resolve("whole.onnx");
        assertEquals(0, kiln("export", example.toString(), "-o", whole.toString()).status());
        try (OnnxRunner a = OnnxRunner.open(onnx, 1); OnnxRunner b = OnnxRunner.open(whole, 1)) {
            Map<String, Tensor> x = a.run(in);
            Map<String, Tensor> y = b.run(in);
            for (String k : y.keySet()) {
                assertEquals(0, dev.kiln.eval.TensorComparison.compare(y.get(k), x.get(k)).maxAbsError(), k);
            }
        }
    }

    /**
     * inspect of an INT8 export whose weights are ONNX external data reads them (saturation per channel, TensorRT's
     * checks) and prints what it prints for the same export in one file; before, it refused the weights.
     */
    @Test
    void inspectOfAnExternalDataExportShowsWhatTheWholeFileShows() throws Exception {
        // weights of 1 KB or more go to the data file: the example CNN's int8 kernels are smaller, this model's not
        Path model = ExampleModels.largeModel(tmp.resolve("small_dense"), 32 << 10);
        Path whole = tmp.resolve("int8-whole.onnx");
        Path split = Files.createDirectories(tmp.resolve("int8-split")).resolve("int8-whole.onnx");
        for (Path p : new Path[] {whole, split}) {
            java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of("export", model.toString(),
                    "-o", p.toString(), "--precision", "int8", "--int8-target", "onnxruntime", "--int8-weights",
                    "full", "--calib-random"));
            if (p == split) {
                args.add("--onnx-external-data");
            }
            Run r = kiln(args.toArray(String[]::new));
            assertEquals(0, r.status(), r.err());
        }
        Run a = kiln("inspect", whole.toString());
        Run b = kiln("inspect", split.toString());
        assertEquals(0, b.status(), b.err());
        assertTrue(b.out().contains("saturation-safe on non-VNNI x86: no (") && b.out().contains("  at risk  "),
                b.out());
        assertEquals(a.out().replace(whole.toString(), "MODEL"), b.out().replace(split.toString(), "MODEL"));
        // and the weights it judged are among those in the data file
        JsonNode n = new ObjectMapper().readTree(kiln("inspect", split.toString(), "--json").out());
        var external = new java.util.HashSet<String>();
        dev.kiln.onnx.proto.Onnx.ModelProto.parseFrom(Files.readAllBytes(split)).getGraph().getInitializerList()
                .stream().filter(t -> t.getExternalDataCount() > 0).forEach(t -> external.add(t.getName()));
        boolean judgedExternal = false;
        for (JsonNode l : n.at("/saturation/atRisk")) {
            judgedExternal |= external.contains(l.get("weight").asText());
        }
        assertTrue(judgedExternal, "an at-risk weight is external data: " + external + " " + n.at("/saturation"));
        Run sparsity = kiln("inspect", split.toString(), "--sparsity");
        assertEquals(0, sparsity.status(), sparsity.err());
        assertEquals(kiln("inspect", whole.toString(), "--sparsity").out().replace(whole.toString(), "MODEL"),
                sparsity.out().replace(split.toString(), "MODEL"));

        Files.delete(split.resolveSibling("int8-whole.onnx.data"));
        Run missing = kiln("inspect", split.toString());
        assertEquals(3, missing.status());
        assertTrue(missing.err().contains(split + ": initializer '") && missing.err().contains(
                split.resolveSibling("int8-whole.onnx.data") + " does not exist"), missing.err());
        assertFalse(missing.err().contains("\tat "), "no stack trace: " + missing.err());
    }

    /** Every format of export, and optimize, make the directories of -o that do not exist yet. */
    @Test
    void exportAndOptimizeMakeAMissingOutputDirectory() {
        Path base = tmp.resolve("made/by/kiln");
        String[][] exports = {{"onnx", "onnx/x.onnx"}, {"onnx", "onnx-external/x.onnx", "--onnx-external-data"},
            {"tflite", "tflite/x.tflite"}, {"frozen", "frozen/x.pb"}, {"savedmodel", "savedmodel/deeper/x"}};
        for (String[] e : exports) {
            Path out = base.resolve(e[1]);
            java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of("export", example.toString(),
                    "--format", e[0], "-o", out.toString()));
            args.addAll(java.util.List.of(e).subList(2, e.length));
            Run r = kiln(args.toArray(String[]::new));
            assertEquals(0, r.status(), e[1] + ": " + r.err());
            assertTrue(Files.isRegularFile(e[0].equals("savedmodel") ? out.resolve("saved_model.pb") : out), e[1]);
        }
        assertTrue(Files.isRegularFile(base.resolve("onnx-external/x.onnx.data")));
        Path opt = base.resolve("optimize/a/b");
        Run r = kiln("optimize", example.toString(), "-o", opt.toString(), "--format", "onnx,tflite");
        assertEquals(0, r.status(), r.err());
        assertTrue(Files.isRegularFile(opt.resolve("model.onnx")) && Files.isRegularFile(opt.resolve("report.json")),
                r.out());
    }

    @Test
    void exportFrozenGraphVerifiesAgainstTensorFlow() {
        Path pb = tmp.resolve("frozen.pb");
        Run r = kiln("export", example.toString(), "--format", "frozen", "-o", pb.toString(), "--verify");
        assertEquals(0, r.status(), r.err());
        assertTrue(Files.isRegularFile(pb));
        assertTrue(r.out().contains("verify  probabilities"), r.out());
    }

    @Test
    void inspectListsSignaturesOpsAndExporterSupport() throws Exception {
        Run r = kiln("inspect", example.toString());
        assertEquals(0, r.status(), r.err());
        assertTrue(r.out().contains("serving_default"), r.out());
        assertTrue(r.out().contains("Conv2D"), r.out());
        assertTrue(r.out().contains("DepthwiseConv2dNative"), r.out());
        assertTrue(r.out().contains("TensorRT 10.15 ONNX parser: all "), r.out());
        assertTrue(r.out().contains("shapes     inferred by Kiln (TensorFlow's native library not needed)"), r.out());
        Run json = kiln("inspect", example.toString(), "--json");
        assertEquals(0, json.status(), json.err());
        assertTrue(json.out().contains("\"onnx\" : true"), json.out());
        JsonNode n = new ObjectMapper().readTree(json.out());
        assertTrue(n.at("/tensorrt/nodes").asInt() > 10, json.out());
        assertEquals(0, n.at("/tensorrt/problems").size(), json.out());
        assertEquals("kiln", n.at("/shapeInference").asText(), json.out());
    }

    @Test
    void inspectOfGraphOnlyModelSaysWeightsAreMissing() {
        Path model = sharedModels().resolve("PARTIAL_kotlindl_lenet_batchnorm_graph_only");
        Run r = kiln("inspect", model.toString());
        assertEquals(0, r.status(), r.err());
        assertTrue(r.out().contains("FusedBatchNormV3"), r.out());
        assertTrue(r.out().contains("not loaded"), r.out());
    }

    @Test
    void missingModelIsAClearErrorWithNoStackTrace() {
        Run r = kiln("optimize", tmp.resolve("no-such-model").toString(), "-o", tmp.resolve("x").toString());
        assertEquals(3, r.status());
        assertTrue(r.err().contains("kiln: error: "), r.err());
        assertFalse(r.err().contains("\tat "), "no stack trace: " + r.err());
        assertFalse(Files.exists(tmp.resolve("x")), "nothing written on failure");
    }

    @Test
    void unknownFormatAndPrecisionAreArgumentErrors() {
        assertEquals(2, kiln("optimize", example.toString(), "--format", "tflite-ish").status());
        assertEquals(2, kiln("export", example.toString(), "--precision", "int3", "-o",
                tmp.resolve("p.onnx").toString()).status());
    }

    @Test
    void unwritableOutputLeavesNoPartialFile() throws Exception {
        Path blocker = tmp.resolve("blocker");
        Files.writeString(blocker, "a file, not a directory");
        Run r = kiln("export", example.toString(), "-o", blocker.resolve("model.onnx").toString());
        assertTrue(r.status() != 0);
        assertTrue(r.err().contains("kiln: error: "), r.err());
        assertEquals("a file, not a directory", Files.readString(blocker));
    }

    @Test
    void doctorReportsEveryBackendProbe() {
        Run r = kiln("doctor");
        assertEquals(0, r.status(), r.err());
        assertTrue(r.out().contains("java"), r.out());
        assertTrue(r.out().contains("cpu"), r.out());
        assertTrue(r.out().contains("cuda"), r.out());
        assertTrue(r.out().contains("tensorflow"), r.out());
        assertTrue(r.out().contains("cpu features  " + dev.kiln.onnx.CpuFeatures.host().summary()), r.out());
        assertTrue(r.out().contains("ort int8"), r.out());
    }

    @Test
    void int8ExportForOnnxRuntimeIsSaturationSafeByDefaultAndInspectSaysSo() throws Exception {
        Path reduced = tmp.resolve("int8-ort.onnx");
        Run r = kiln("export", example.toString(), "-o", reduced.toString(), "--precision", "int8",
                "--int8-target", "onnxruntime", "--calib-random");
        assertEquals(0, r.status(), r.err());
        assertTrue(r.out().contains("saturation-safe on non-VNNI x86: yes (0 of 4 integer layers at risk)"), r.out());

        Path full = tmp.resolve("int8-ort-full.onnx");
        r = kiln("export", example.toString(), "-o", full.toString(), "--precision", "int8", "--int8-target",
                "onnxruntime", "--int8-weights", "full", "--calib-random");
        assertEquals(0, r.status(), r.err());
        assertTrue(r.out().contains("saturation-safe on non-VNNI x86: no ("), r.out());

        Run i = kiln("inspect", full.toString());
        assertEquals(0, i.status(), i.err());
        // the ONNX Runtime layout's uint8 activations are not TensorRT's: inspect names the nodes it would refuse
        assertTrue(i.out().contains("nodes not supported {DequantizeLinear="), i.out());
        assertTrue(i.out().contains("  not built  '"), i.out());
        assertTrue(i.out().contains("(DequantizeLinear, UINT8): TensorRT builds DequantizeLinear for INT8"), i.out());
        assertTrue(i.out().contains("kiln.int8_weight_range = FULL"), i.out());
        assertTrue(i.out().contains("at risk"), i.out());
        Run j = kiln("inspect", reduced.toString(), "--json");
        JsonNode n = new ObjectMapper().readTree(j.out());
        assertTrue(n.at("/saturation/safe").asBoolean(), j.out());
        assertEquals(4, n.at("/saturation/integerLayers").asInt(), j.out());

        Run bad = kiln("export", example.toString(), "-o", tmp.resolve("x.onnx").toString(), "--precision", "int8",
                "--int8-weights", "6bit", "--calib-random");
        assertEquals(2, bad.status());
        assertTrue(bad.err().contains("--int8-weights: unknown range '6bit'"), bad.err());
        assertFalse(Files.exists(tmp.resolve("x.onnx")));
    }
}
