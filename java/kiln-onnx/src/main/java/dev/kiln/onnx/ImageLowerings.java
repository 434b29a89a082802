package dev.kiln.onnx;

import dev.kiln.KilnException;
import dev.kiln.graph.Node;
import dev.kiln.graph.TensorType;
import dev.kiln.onnx.OnnxEmitter.Layout;
import dev.kiln.onnx.OnnxEmitter.Val;
import dev.kiln.onnx.proto.Onnx.AttributeProto;

import java.util.ArrayList;
import java.util.List;

import static dev.kiln.onnx.OnnxEmitter.attr;
import static dev.kiln.onnx.OnnxEmitter.attrs;

/** Image geometry: resizing, depth/space shuffles and the space-to-batch blocks of dilated convolutions. */
final class ImageLowerings {
    private ImageLowerings() {
    }

    static void register(OnnxLowerings.Table t) {
        t.add("ResizeBilinear", "Resize linear (NCHW; align_corners, half_pixel or asymmetric)", 13,
                ImageLowerings::resize);
        t.add("ResizeNearestNeighbor", "Resize nearest (NCHW; align_corners, half_pixel or asymmetric)", 13,
                ImageLowerings::resize);
        t.add("ResizeBicubic", "Resize cubic (NCHW; a = -0.75 with clamped edges, or Keys' a = -0.5 with "
                + "exclude_outside for half_pixel_centers)", 13, ImageLowerings::resize);
        t.add("SpaceToBatchND", "Pad + Reshape + Transpose + Reshape", 13, ImageLowerings::spaceToBatch);
        t.add("BatchToSpaceND", "Reshape + Transpose + Reshape + Slice (crops)", 13, ImageLowerings::batchToSpace);
        t.add("DepthToSpace", "DepthToSpace mode DCR (NCHW)", 11, (e, n) -> shuffle(e, n, true));
        t.add("SpaceToDepth", "SpaceToDepth (NCHW)", 1, (e, n) -> shuffle(e, n, false));
    }

    private static void requireNhwc(Node n) {
        if (!ConvLowerings.nhwc(n)) {
            throw KilnException.unsupported("node '" + n.name() + "' (" + n.op() + "): only data_format NHWC is "
                    + "exported to ONNX");
        }
    }

    /**
     * TF's three coordinate conventions. Nearest with half-pixel centers is floor((x + 0.5) * in/out), which ONNX's
     * half_pixel transform with round_prefer_ceil gives exactly (and in every opset, unlike tf_half_pixel_for_nn).
     * Bicubic follows TF's kernel (resize_bicubic_op.cc): the legacy coordinates use a = -0.75 and repeat the edge
     * pixels; half_pixel_centers uses Keys' a = -0.5 and gives taps outside the image weight 0, renormalizing the
     * rest (ONNX's exclude_outside). TF looks its weights up in a table of 1024 steps, so the two agree to ~1e-3.
     */
    private static void resize(OnnxEmitter e, Node n) {
        boolean nearest = n.op().equals("ResizeNearestNeighbor");
        boolean cubic = n.op().equals("ResizeBicubic");
        Val x = e.get(n.input(0), Layout.NCHW, e.computeType(n));
        String hw = ShapeLowerings.int64(e, e.get(n.input(1), Layout.NATIVE, -1));
        String nc = e.add("Slice", n.name() + "/nc", List.of(e.add("Shape", n.name() + "/shape", List.of(x.name())),
                e.initLongs(n.name() + "/start", 0), e.initLongs(n.name() + "/end", 2)));
        String sizes = e.add("Concat", n.name() + "/sizes", List.of(nc, hw), attr("axis", 0L));
        boolean align = n.attrBool("align_corners", false);
        boolean half = n.attrBool("half_pixel_centers", false);
        String ctm = align ? "align_corners" : half ? "half_pixel" : "asymmetric";
        List<AttributeProto> a = new ArrayList<>();
        a.add(attr("mode", nearest ? "nearest" : cubic ? "cubic" : "linear"));
        a.add(attr("coordinate_transformation_mode", ctm));
        if (nearest) {
            a.add(attr("nearest_mode", align || half ? "round_prefer_ceil" : "floor"));
        }
        if (cubic) {
            a.add(attr("cubic_coeff_a", half ? -0.5f : -0.75f));
            a.add(attr("exclude_outside", half ? 1L : 0L));
        }
        if (cubic) {
            // ONNX Runtime moves a Transpose next to a Resize through it, and its cubic kernel cannot downscale NHWC:
            // run on [N*C, 1, H, W] (a Reshape stops the move) and shape the result back
            String planes = e.add("Reshape", n.name() + "/planes", List.of(x.name(),
                    e.initLongs(n.name() + "/planes_shape", -1, 1, 0, 0)));
            String pn = e.add("Slice", n.name() + "/planes_nc", List.of(e.add("Shape", n.name() + "/planes_shape_of",
                    List.of(planes)), e.initLongs(n.name() + "/planes_start", 0), e.initLongs(n.name() + "/planes_end",
                    2)));
            String r = e.add("Resize", n.name() + "/resized", List.of(planes, "", "",
                    e.add("Concat", n.name() + "/planes_sizes", List.of(pn, hw), attr("axis", 0L))),
                    a.toArray(new AttributeProto[0]));
            String out = e.add("Reshape", n.name(), List.of(r, sizes));
            e.put(n, 0, new Val(out, Layout.NCHW, x.type(), 4));
            return;
        }
        String out = e.add("Resize", n.name(), List.of(x.name(), "", "", sizes), a.toArray(new AttributeProto[0]));
        e.put(n, 0, new Val(out, Layout.NCHW, x.type(), 4));
    }

    private static void shuffle(OnnxEmitter e, Node n, boolean depthToSpace) {
        requireNhwc(n);
        Val x = e.get(n.input(0), Layout.NCHW, e.computeType(n));
        long b = n.attrInt("block_size");
        String out = depthToSpace
                ? e.add("DepthToSpace", n.name(), List.of(x.name()), attr("blocksize", b), attr("mode", "DCR"))
                : e.add("SpaceToDepth", n.name(), List.of(x.name()), attr("blocksize", b));
        e.put(n, 0, new Val(out, Layout.NCHW, x.type(), 4));
    }

    /** The static dims 1.. of {@code r} (dim 0, the batch, may be unknown), or an error naming the node. */
    private static long[] innerDims(OnnxEmitter e, Node n) {
        TensorType t = e.typeOf(n.input(0));
        if (t == null || !t.shape().hasRank()) {
            throw KilnException.unsupported("node '" + n.name() + "' (" + n.op() + "): the shape of " + n.input(0)
                    + " must be known");
        }
        long[] d = t.shape().dims();
        for (int i = 1; i < d.length; i++) {
            if (d[i] < 0) {
                throw KilnException.unsupported("node '" + n.name() + "' (" + n.op() + "): dim " + i + " of "
                        + n.input(0) + " must be known (shape " + t.shape() + ")");
            }
        }
        return d;
    }

    /**
     * Pad, then [B, p1..pM, r..] → [B, p1/b1, b1, .., pM/bM, bM, r..] → [b1..bM, B, p1/b1.., r..]
     * → [B·Πb, p1/b1.., r..].
     */
    private static void spaceToBatch(OnnxEmitter e, Node n) {
        long[] block = e.requireConst(n, 1, "block_shape").asLongs();
        long[] pads = e.requireConst(n, 2, "paddings").asLongs();
        long[] d = innerDims(e, n);
        int m = block.length;
        int rank = d.length;
        Val x = e.get(n.input(0), Layout.NATIVE, e.computeType(n));
        long[] onnxPads = new long[2 * rank];
        for (int i = 0; i < m; i++) {
            onnxPads[1 + i] = pads[2 * i];
            onnxPads[rank + 1 + i] = pads[2 * i + 1];
        }
        String padded = e.add("Pad", n.name() + "/pad", List.of(x.name(), e.initLongs(n.name() + "/pads", onnxPads)));
        long[] split = new long[rank + m];
        long[] perm = new long[rank + m];
        long[] out = new long[rank];
        split[0] = -1;
        out[0] = -1;
        for (int i = 0; i < m; i++) {
            long p = d[1 + i] + pads[2 * i] + pads[2 * i + 1];
            split[1 + 2 * i] = p / block[i];
            split[2 + 2 * i] = block[i];
            perm[i] = 2 + 2 * i;
            perm[m + 1 + i] = 1 + 2 * i;
            out[1 + i] = p / block[i];
        }
        perm[m] = 0;
        for (int i = 1 + m; i < rank; i++) {
            split[m + i] = d[i];
            perm[m + i] = m + i;
            out[i] = d[i];
        }
        String r1 = e.add("Reshape", n.name() + "/blocks", List.of(padded, e.initLongs(n.name() + "/shape1", split)));
        String tr = e.add("Transpose", n.name() + "/to_batch", List.of(r1), attrs("perm", perm));
        String y = e.add("Reshape", n.name(), List.of(tr, e.initLongs(n.name() + "/shape2", out)));
        e.put(n, 0, new Val(y, Layout.NATIVE, x.type(), rank));
    }

    /**
     * [B', s1..sM, r..] → [b1..bM, B, s1..sM, r..] → [B, s1, b1, .., sM, bM, r..] → [B, s1·b1.., r..], then the
     * crops.
     */
    private static void batchToSpace(OnnxEmitter e, Node n) {
        long[] block = e.requireConst(n, 1, "block_shape").asLongs();
        long[] crops = e.requireConst(n, 2, "crops").asLongs();
        long[] d = innerDims(e, n);
        int m = block.length;
        int rank = d.length;
        Val x = e.get(n.input(0), Layout.NATIVE, e.computeType(n));
        long[] split = new long[rank + m];
        long[] perm = new long[rank + m];
        long[] out = new long[rank];
        for (int i = 0; i < m; i++) {
            split[i] = block[i];
            split[m + 1 + i] = d[1 + i];
            perm[1 + 2 * i] = m + 1 + i;
            perm[2 + 2 * i] = i;
            out[1 + i] = d[1 + i] * block[i];
        }
        split[m] = -1;
        perm[0] = m;
        out[0] = -1;
        for (int i = 1 + m; i < rank; i++) {
            split[m + i] = d[i];
            perm[m + i] = m + i;
            out[i] = d[i];
        }
        String r1 = e.add("Reshape", n.name() + "/blocks", List.of(x.name(), e.initLongs(n.name() + "/shape1", split)));
        String tr = e.add("Transpose", n.name() + "/to_space", List.of(r1), attrs("perm", perm));
        String y = e.add("Reshape", n.name() + "/space", List.of(tr, e.initLongs(n.name() + "/shape2", out)));
        long[] starts = new long[m];
        long[] ends = new long[m];
        long[] axes = new long[m];
        for (int i = 0; i < m; i++) {
            starts[i] = crops[2 * i];
            ends[i] = out[1 + i] - crops[2 * i + 1];
            axes[i] = 1 + i;
        }
        y = e.add("Slice", n.name(), List.of(y, e.initLongs(n.name() + "/starts", starts),
                e.initLongs(n.name() + "/ends", ends), e.initLongs(n.name() + "/axes", axes)));
        e.put(n, 0, new Val(y, Layout.NATIVE, x.type(), rank));
    }
}
