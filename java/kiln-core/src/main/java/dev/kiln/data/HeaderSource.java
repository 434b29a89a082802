package dev.kiln.data;

import dev.kiln.graph.DType;
import dev.kiln.graph.Shape;

import java.util.function.Supplier;

/** A source described by a .npy header and a way to open it. */
record HeaderSource(String name, NpyHeader header, Supplier<SampleReader> opener) implements ArraySource {
    @Override
    public DType dtype() {
        return header.dtype();
    }

    @Override
    public Shape sampleShape() {
        return header.sampleShape();
    }

    @Override
    public long sampleCount() {
        return header.sampleCount();
    }

    @Override
    public SampleReader open() {
        return opener.get();
    }

    @Override
    public String toString() {
        return name + " (" + dtype().name().toLowerCase() + header.shape() + ")";
    }
}

