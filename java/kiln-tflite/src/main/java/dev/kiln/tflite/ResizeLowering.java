package dev.kiln.tflite;

import dev.kiln.graph.Node;
import dev.kiln.graph.TensorRef;

import static dev.kiln.tflite.TfliteSchema.*;

/**
 * ResizeBilinear → RESIZE_BILINEAR, ResizeNearestNeighbor → RESIZE_NEAREST_NEIGHBOR, constant [height, width], TF's
 * align_corners and half_pixel_centers; the output keeps the input's int8 parameters.
 */
final class ResizeLowering implements Lowering {
    @Override
    public void lower(Node n, TfliteEmitter e) {
        int x = e.input(n, 0);
        int size = e.int32(n.name() + "/size", TfliteEmitter.ints(e.requireConstant(n, 1, "size")));
        int out = e.outputLike(TensorRef.of(n.name(), 0), x);
        boolean bilinear = n.op().equals("ResizeBilinear");
        e.op(bilinear ? RESIZE_BILINEAR : RESIZE_NEAREST_NEIGHBOR, new int[] {x, size}, new int[] {out},
                BuiltinOptions.resize(bilinear, n.attrBool("align_corners", false),
                        n.attrBool("half_pixel_centers", false)));
    }
}
