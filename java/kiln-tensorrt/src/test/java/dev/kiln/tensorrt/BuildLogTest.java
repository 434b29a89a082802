package dev.kiln.tensorrt;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BuildLogTest {
    @Test
    void aParserFailureNamesTheNodeAndKeepsEveryError() {
        List<String> sink = new ArrayList<>();
        BuildLog log = new BuildLog(sink::add, BuildLog.Severity.WARNING);
        log.add(BuildLog.Severity.INFO, "parsing");
        log.add(BuildLog.Severity.WARNING, "int64 weights cast down to int32");
        log.add(BuildLog.Severity.ERROR, "ModelImporter.cpp:949: While parsing node number 3 [Einsum]");
        String m = log.failure("TensorRT's ONNX parser cannot build m.onnx", List.of(
                new BuildLog.ParserError(3, "block1/einsum", "Einsum", "UNSUPPORTED_NODE",
                        "equation 'bij,bjk->bik' is not supported")));
        assertTrue(m.startsWith("TensorRT's ONNX parser cannot build m.onnx at node 'block1/einsum' (Einsum): "
                + "equation 'bij,bjk->bik' is not supported"), m);
        assertTrue(m.contains("parser node 3 'block1/einsum' (Einsum)"), m);
        assertTrue(m.contains("tensorrt error: ModelImporter.cpp:949"), m);
        assertTrue(m.contains("tensorrt warning: int64 weights"), m);
        assertEquals(List.of("tensorrt warning: int64 weights cast down to int32",
                "tensorrt error: ModelImporter.cpp:949: While parsing node number 3 [Einsum]"), sink);
    }

    @Test
    void aBuilderFailureEndsWithTheLastError() {
        BuildLog log = new BuildLog(s -> { }, BuildLog.Severity.ERROR);
        log.add(BuildLog.Severity.ERROR, "first");
        log.add(BuildLog.Severity.INTERNAL_ERROR, "Assertion failed: out of memory");
        String m = log.failure("TensorRT could not build an engine from m.onnx", List.of());
        assertTrue(m.startsWith("TensorRT could not build an engine from m.onnx: Assertion failed: out of memory"), m);
        assertEquals(2, log.errors().size());
    }
}
