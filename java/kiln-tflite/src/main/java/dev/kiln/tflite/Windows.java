package dev.kiln.tflite;

import dev.kiln.KilnException;
import dev.kiln.graph.Node;

import static dev.kiln.tflite.TfliteSchema.*;

/** What convolutions and pooling share: NHWC only, SAME/VALID padding, EXPLICIT padding as a PAD operator. */
final class Windows {
    private Windows() {
    }

    static void requireNhwc(Node n) {
        String f = n.attrString("data_format", "NHWC");
        if (!f.equals("NHWC")) {
            throw KilnException.unsupported("node '" + n.name() + "' (" + n.op() + ") has data_format " + f
                    + "; TFLite's kernels are NHWC");
        }
    }

    static byte padding(Node n) {
        String p = n.attrString("padding");
        return switch (p) {
            case "SAME" -> PADDING_SAME;
            case "VALID", "EXPLICIT" -> PADDING_VALID;
            default -> throw KilnException.unsupported("node '" + n.name() + "': padding " + p);
        };
    }

    /** For EXPLICIT padding: a PAD of {@code x} by explicit_paddings (NHWC pairs); otherwise {@code x} itself. */
    static int explicitPad(Node n, TfliteEmitter e, int x) {
        if (!n.attrString("padding").equals("EXPLICIT")) {
            return x;
        }
        long[] p = n.attrInts("explicit_paddings");
        int[] pads = new int[p.length];
        for (int i = 0; i < p.length; i++) {
            pads[i] = (int) p[i];
        }
        int padT = e.int32(n.name() + "/explicit_paddings", pads, pads.length / 2, 2);
        int out = e.intermediate(n.name() + "/padded", x, null);
        e.op(PAD, new int[] {x, padT}, new int[] {out}, BuiltinOptions.empty(OPT_PAD));
        return out;
    }
}
