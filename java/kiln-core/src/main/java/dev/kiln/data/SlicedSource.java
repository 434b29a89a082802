package dev.kiln.data;

import dev.kiln.KilnArgumentException;
import dev.kiln.graph.DType;
import dev.kiln.graph.Shape;

/** A range of another source's samples. */
record SlicedSource(ArraySource base, long start, long count) implements ArraySource {
    public SlicedSource {
        KilnArgumentException.check(start >= 0 && count >= 0 && start + count <= base.sampleCount(),
                base.name() + ": range of " + count + " samples from " + start + " is outside its "
                        + base.sampleCount() + " samples");
    }

    @Override
    public String name() {
        return base.name() + "[" + start + ":" + (start + count) + "]";
    }

    @Override
    public DType dtype() {
        return base.dtype();
    }

    @Override
    public Shape sampleShape() {
        return base.sampleShape();
    }

    @Override
    public long sampleCount() {
        return count;
    }

    @Override
    public SampleReader open() {
        SampleReader r = base.open();
        r.skip(start);
        return r;
    }

    @Override
    public ArraySource slice(long s, long c) {
        KilnArgumentException.check(s >= 0 && c >= 0 && s + c <= count, name() + ": range of " + c
                + " samples from " + s + " is outside its " + count + " samples");
        return new SlicedSource(base, start + s, c);
    }
}
