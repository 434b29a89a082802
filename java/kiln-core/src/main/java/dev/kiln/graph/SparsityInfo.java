package dev.kiln.graph;

/**
 * What a sparsification did to one weight constant: the pattern ("unstructured", "2:4", "block4x4"), the axis the
 * pattern runs along (the input-channel axis for N:M), and the fraction of elements kept.
 */
public record SparsityInfo(String pattern, int axis, double density) { }
