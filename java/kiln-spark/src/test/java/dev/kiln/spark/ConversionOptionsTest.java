package dev.kiln.spark;

import dev.kiln.KilnArgumentException;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A batch conversion row's {@code --rnn}: parsed as kiln optimize parses it, part of the output address unless auto. */
class ConversionOptionsTest {
    @TempDir
    Path tmp;

    @Test
    void rnnIsInTheCanonicalFormOnlyWhenNotAutoAndBadModesAreNamed() {
        assertFalse(ConversionOptions.parse("--format onnx").canonical().contains("rnn"));
        assertEquals(ConversionOptions.parse("--format onnx").canonical(),
                ConversionOptions.parse("--format onnx --rnn AUTO").canonical());
        assertTrue(ConversionOptions.parse("--format onnx --rnn keep").canonical().endsWith(" rnn=KEEP"));
        KilnArgumentException e = assertThrows(KilnArgumentException.class,
                () -> ConversionOptions.parse("--rnn fuse"));
        assertTrue(e.getMessage().contains("'fuse'") && e.getMessage().contains("auto, unroll, keep or loop"),
                e.getMessage());
    }

    @Test
    void rnnKeepReachesTheImport() throws Exception {
        Path lstm = Path.of(System.getProperty("kiln.repo.root", "../.."), "..", "shared", "models",
                "tfnet_keras_lstm_from_sequential");
        Assumptions.assumeTrue(Files.isDirectory(lstm), lstm + " is absent (fresh clone without ../shared)");
        ConversionOptions.parse("--format onnx --rnn keep").job(lstm, tmp.resolve("out")).build().run();
        assertTrue(dev.kiln.onnx.OnnxReader.read(tmp.resolve("out").resolve("model.onnx")).getGraph().getNodeList()
                .stream().anyMatch(n -> n.getOpType().equals("LSTM")), "the kept LSTM is one ONNX LSTM");
    }
}
