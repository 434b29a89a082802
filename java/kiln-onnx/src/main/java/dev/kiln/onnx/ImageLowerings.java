package dev.kiln.onnx;

import dev.kiln.KilnException;
import dev.kiln.graph.Node;
import dev.kiln.onnx.OnnxEmitter.Layout;
import dev.kiln.onnx.OnnxEmitter.Val;
import dev.kiln.onnx.proto.Onnx.AttributeProto;

import java.util.ArrayList;
import java.util.List;

import static dev.kiln.onnx.OnnxEmitter.attr;

/** Ops on NHWC images that ONNX defines on NCHW: batch norm, resizing, depth/space shuffles, LRN. */
final class ImageLowerings {
    private ImageLowerings() {
    }

    static void register(OnnxLowerings.Table t) {
        for (String op : new String[] {"FusedBatchNorm", "FusedBatchNormV2", "FusedBatchNormV3"}) {
            t.add(op, "BatchNormalization (NCHW)", 9, ImageLowerings::batchNorm);
        }
        t.add("ResizeBilinear", "Resize linear (NCHW; align_corners, half_pixel or asymmetric)", 13,
                ImageLowerings::resize);
        t.add("ResizeNearestNeighbor", "Resize nearest (NCHW; align_corners, half_pixel or asymmetric)", 13,
                ImageLowerings::resize);
        t.add("DepthToSpace", "DepthToSpace mode DCR (NCHW)", 11, (e, n) -> shuffle(e, n, true));
        t.add("SpaceToDepth", "SpaceToDepth (NCHW)", 1, (e, n) -> shuffle(e, n, false));
        t.add("LRN", "LRN (NCHW, size 2r+1, alpha x size)", 1, ImageLowerings::lrn);
    }

    private static void requireNhwc(Node n) {
        if (!ConvLowerings.nhwc(n)) {
            throw KilnException.unsupported("node '" + n.name() + "' (" + n.op() + "): only data_format NHWC is "
                    + "exported to ONNX");
        }
    }

    private static void batchNorm(OnnxEmitter e, Node n) {
        if (n.attrBool("is_training", true)) {
            throw KilnException.unsupported("node '" + n.name() + "' (" + n.op() + ") has is_training=true; "
                    + "export needs an inference graph (run the passes first)");
        }
        boolean nhwc = ConvLowerings.nhwc(n);
        int ct = e.computeType(n);
        Val x = e.get(n.input(0), nhwc ? Layout.NCHW : Layout.NATIVE, ct);
        List<String> ins = new ArrayList<>(List.of(x.name()));
        for (int i = 1; i <= 4; i++) {
            ins.add(e.get(n.input(i), Layout.NATIVE, ct).name());
        }
        String out = e.add("BatchNormalization", n.name(), ins, attr("epsilon", n.attrFloat("epsilon", 1e-3f)));
        e.put(n, 0, new Val(out, nhwc ? Layout.NCHW : Layout.NATIVE, ct, 4));
    }

    /**
     * TF's three coordinate conventions. Nearest with half-pixel centers is floor((x + 0.5) * in/out), which ONNX's
     * half_pixel transform with round_prefer_ceil gives exactly (and in every opset, unlike tf_half_pixel_for_nn).
     */
    private static void resize(OnnxEmitter e, Node n) {
        boolean nearest = n.op().equals("ResizeNearestNeighbor");
        Val x = e.get(n.input(0), Layout.NCHW, e.computeType(n));
        String hw = ShapeLowerings.int64(e, e.get(n.input(1), Layout.NATIVE, -1));
        String nc = e.add("Slice", n.name() + "/nc", List.of(e.add("Shape", n.name() + "/shape", List.of(x.name())),
                e.initLongs(n.name() + "/start", 0), e.initLongs(n.name() + "/end", 2)));
        String sizes = e.add("Concat", n.name() + "/sizes", List.of(nc, hw), attr("axis", 0L));
        boolean align = n.attrBool("align_corners", false);
        boolean half = n.attrBool("half_pixel_centers", false);
        String ctm = align ? "align_corners" : half ? "half_pixel" : "asymmetric";
        List<AttributeProto> a = new ArrayList<>();
        a.add(attr("mode", nearest ? "nearest" : "linear"));
        a.add(attr("coordinate_transformation_mode", ctm));
        if (nearest) {
            a.add(attr("nearest_mode", align || half ? "round_prefer_ceil" : "floor"));
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

    private static void lrn(OnnxEmitter e, Node n) {
        Val x = e.get(n.input(0), Layout.NCHW, e.computeType(n));
        long r = n.attrInt("depth_radius", 5);
        long size = 2 * r + 1;
        String out = e.add("LRN", n.name(), List.of(x.name()), attr("size", size),
                attr("alpha", n.attrFloat("alpha", 1f) * size), attr("beta", n.attrFloat("beta", 0.5f)),
                attr("bias", n.attrFloat("bias", 1f)));
        e.put(n, 0, new Val(out, Layout.NCHW, x.type(), 4));
    }
}
